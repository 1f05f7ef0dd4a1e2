"""Writing files so that a crash never leaves half of one under its final name.

Everything is first written to a hidden sibling (``.NAME.tmp.EXT``: same folder, so the
rename is atomic; same extension, so ffmpeg, OpenCV and matplotlib still pick the format
from it) and renamed onto the final name only once complete.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path


def temp_sibling(path: Path) -> Path:
    """``dir/.NAME.tmp.EXT`` for ``dir/NAME.EXT``."""
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


def is_temp_sibling(path: Path) -> bool:
    """True for a file ``temp_sibling`` names (left behind by a process that was killed)."""
    return path.name.startswith(".") and ".tmp" in path.name


class PendingFile:
    """A file being written: ``tmp`` is where to write, ``commit`` puts it in place,
    ``discard`` removes it. ``durable``: fsync the data and the folder on commit (for files
    whose loss costs hours, such as checkpoints)."""

    def __init__(self, path: str | Path, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temp_sibling(self.path)
        self.durable = durable

    def commit(self) -> Path:
        if self.durable:
            _fsync(self.tmp, os.O_RDONLY)
        # Some writers (safetensors) create their file owner-only; every file we write gets the
        # mode a plain open() would give it.
        os.chmod(self.tmp, 0o666 & ~_umask())
        self.tmp.replace(self.path)
        if self.durable:
            _fsync(self.path.parent, os.O_RDONLY)  # make the rename itself durable
        return self.path

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


@cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path: Path, flags: int) -> None:
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)``: ``p`` appears complete or not at all."""
    pending = PendingFile(path, durable)
    try:
        yield pending.tmp
    except BaseException:
        pending.discard()
        raise
    pending.commit()


def write_bytes(path: str | Path, data: bytes, durable: bool = False) -> Path:
    with atomic_path(path, durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_csv(path: str | Path, header: Iterable[str] | None, rows: Iterable[Iterable]) -> Path:
    """A whole CSV file (``\\n`` line ends), atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header is not None:
        writer.writerow(list(header))
    writer.writerows(rows)
    return write_text(path, buf.getvalue())


class StreamingCsv:
    """A CSV written row by row (flushed each time, so a reader can follow it) under a
    temporary name: ``close`` puts it in place, ``abort`` drops it."""

    def __init__(self, path: str | Path, header: Iterable[str]) -> None:
        self._pending = PendingFile(path)
        self.path = self._pending.path
        self._file = open(self._pending.tmp, "w", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(list(header))

    def add(self, row: Iterable) -> None:
        self._writer.writerow(list(row))
        self._file.flush()

    def close(self) -> Path:
        self._file.close()
        return self._pending.commit()

    def abort(self) -> None:
        self._file.close()
        self._pending.discard()
