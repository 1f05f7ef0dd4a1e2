"""The on-disk data contract: folder names, file suffixes, CSVs (the published layout).

A triplet root holds ``image/NAME.jpg``, ``image_masked/NAME_masked.jpg`` and
``image_binary/NAME_binary.png`` (folder names configurable). Segmentation CSVs hold rows
``index,masked_path,binary_path`` relative to the images root, with ``\\`` or ``/``. A video
root adds ``frames.csv`` (``name,timestamp_seconds``) and ``audio/TRACK.wav``.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.files import write_csv
from core.images import IMAGE_EXTS, is_image_file

log = logging.getLogger(__name__)

IMAGE_DIR, MASKED_DIR, BINARY_DIR = "image", "image_masked", "image_binary"
MASKED_SUFFIX = "_masked"
BINARY_SUFFIX = "_binary"
FRAMES_CSV = "frames.csv"
TRAIN_ANNS, VAL_ANNS = "annotations/train.csv", "annotations/val.csv"  # under the root
FRAMES_HEADER = ("name", "timestamp_seconds")


class DatasetError(ValueError):
    """A dataset that cannot be used at all (missing folder, nothing in it, bad CSV)."""


@dataclass(frozen=True)
class Sample:
    """Paths of one example; ``image`` (ground truth) is None for segmentation-only data."""

    name: str
    masked: Path
    mask: Path
    image: Path | None = None


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(
            f"{what} not found: {path} (prepare a dataset with "
            "'python3 -m prepare images --src PHOTOS --out ROOT' and point root_dir at ROOT)")
    return path


def index_by_stem(folder: Path) -> dict[str, Path]:
    """Image files in ``folder`` by file name without extension (first extension wins)."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and is_image_file(p):
            out.setdefault(p.stem, p)
    return out


def strip_suffix(stem: str, suffix: str) -> str:
    return stem[: -len(suffix)] if stem.endswith(suffix) else stem


def warn_missing(missing: list[str], what: str, total: int) -> None:
    """One summary line for examples dropped because a partner file is missing."""
    if missing:
        first = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        log.warning("skipped %d of %d %s with a missing partner file: %s",
                    len(missing), total, what, first)


def inside(root: Path, relative: str, csv_path: Path, row: int) -> Path:
    """``root/relative`` (``\\`` accepted), refusing paths that leave the dataset root."""
    rel = relative.strip().replace("\\", "/")
    path = Path(os.path.normpath(root / rel))
    if Path(rel).is_absolute() or not path.is_relative_to(os.path.normpath(root)):
        raise DatasetError(f"{csv_path}, row {row}: path '{relative.strip()}' is outside the "
                           f"dataset root {root}")
    return path


def read_annotations(csv_path: Path, root: Path) -> list[Sample]:
    """Rows ``index,masked_path,binary_path`` -> samples (missing files skipped, summarised).

    Accepts Windows separators and line endings, and an optional header row.
    """
    if not csv_path.is_file():
        raise DatasetError(f"annotation file not found: {csv_path}")
    samples, missing = [], []
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if rows and (len(rows[0]) < 3 or Path(rows[0][1].strip()).suffix.lower() not in IMAGE_EXTS):
        rows = rows[1:]  # a header such as "index,masked,binary"
    for line, row in enumerate(rows, 1):
        if len(row) < 3:
            raise DatasetError(f"{csv_path}, row {line}: expected index,masked_path,binary_path; "
                               f"got {len(row)} column(s)")
        masked = inside(root, row[1], csv_path, line)
        mask = inside(root, row[2], csv_path, line)
        name = strip_suffix(masked.stem, MASKED_SUFFIX)
        if masked.is_file() and mask.is_file():
            samples.append(Sample(name, masked, mask))
        else:
            missing.append(name)
    warn_missing(missing, f"rows of {csv_path.name}", len(rows))
    return samples


def write_annotations(root: Path, examples: Iterable[tuple[str, Path, Path]]) -> dict[str, int]:
    """``TRAIN_ANNS`` and ``VAL_ANNS`` under ``root``, both written (empty for a split without
    examples), in the format ``read_annotations`` reads.

    ``examples``: ``(split, masked path, binary path)``, split "train" or "val", paths under
    ``root`` (absolute, or relative to it). Rows ``index,masked_path,binary_path`` with paths
    relative to ``root`` and ``/`` separators; the index is the example's position in
    ``examples``. Returns the number of rows per split.
    """
    rows: dict[str, list] = {"train": [], "val": []}
    for index, (split, masked, binary) in enumerate(examples):
        rows[split].append([index, _under(root, masked), _under(root, binary)])
    for split, path in (("train", TRAIN_ANNS), ("val", VAL_ANNS)):
        write_csv(root / path, None, rows[split])
    return {split: len(split_rows) for split, split_rows in rows.items()}


def _under(root: Path, path: Path) -> str:
    """``path`` (absolute, relative to ``root``, or relative to the working folder and inside
    ``root``) as a ``/``-separated path relative to ``root``; symlinks are kept as named."""
    path = Path(path)
    if not path.is_absolute() and not path.is_relative_to(root):
        path = root / path
    return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()


def resolve_annotations(root: Path, value: str | None, key: str, default: str | None) -> Path | None:
    """The annotation CSV a config key names, or None (pair the folders / no validation).

    A relative ``value`` is looked up under the dataset ``root`` first, then from the
    current folder (configs written for earlier versions give paths like
    ``data/celeba/annotations/train.csv``). The key's ``default`` may be absent (a root
    without a split); any other value must exist.
    """
    if value is None:
        return None
    path = Path(value)
    for candidate in ([path] if path.is_absolute() else [root / path, path]):
        if candidate.is_file():
            return candidate
    if value == default:
        return None
    raise DatasetError(f"annotation file not found: {key}={value} (looked under root_dir {root} "
                       f"and in the current folder); give an existing CSV, or {key}=none to "
                       f"{'use every example' if key.startswith('train') else 'skip validation'}")


def with_clean_images(samples: list[Sample], root: Path, image_dir: str) -> list[Sample]:
    """Annotated (masked, mask) samples with their clean faces, for stage 2.

    The clean face of ``NAME`` is ``root/image_dir/NAME.*``; in the published CelebA layout,
    which has no ``image/`` folder, it is the masked image's folder without its ``_masked``
    suffix (``celeba512_30k_masked/`` -> ``celeba512_30k/``). Samples without one are
    left out with one summary warning.
    """
    folders: dict[Path, dict[str, Path]] = {}
    out, missing = [], []
    for s in samples:
        folder = root / image_dir
        if not folder.is_dir():
            folder = s.masked.parent.with_name(strip_suffix(s.masked.parent.name, MASKED_SUFFIX))
        if folder not in folders:
            folders[folder] = index_by_stem(folder) if folder.is_dir() else {}
        clean = folders[folder].get(s.name)
        if clean is None:
            missing.append(s.name)
        else:
            out.append(Sample(s.name, s.masked, s.mask, clean))
    warn_missing(missing, "annotated examples (no clean image)", len(samples))
    return out


def folder_pairs(root: Path, masked_dir: str, binary_dir: str) -> list[Sample]:
    """Segmentation pairs ``masked_dir/NAME_masked.*`` + ``binary_dir/NAME_binary.*``."""
    masked = index_by_stem(require_dir(root / masked_dir, "masked-image folder"))
    binary = index_by_stem(require_dir(root / binary_dir, "binary-mask folder"))
    samples, missing = [], []
    for stem, path in masked.items():
        name = strip_suffix(stem, MASKED_SUFFIX)
        mask = binary.get(name + BINARY_SUFFIX)
        if mask is None:
            missing.append(name)
        else:
            samples.append(Sample(name, path, mask))
    warn_missing(missing, "masked images", len(masked))
    return samples


def triplets(root: Path, image_dir: str, masked_dir: str, binary_dir: str) -> list[Sample]:
    """Reconstruction triplets (clean, masked, mask) under ``root``."""
    require_dir(root, "dataset root")
    clean = index_by_stem(require_dir(root / image_dir, "clean-image folder"))
    masked = index_by_stem(require_dir(root / masked_dir, "masked-image folder"))
    binary = index_by_stem(require_dir(root / binary_dir, "binary-mask folder"))
    samples, missing = [], []
    for name in clean:
        m, b = masked.get(name + MASKED_SUFFIX), binary.get(name + BINARY_SUFFIX)
        if m is None or b is None:
            missing.append(name)
        else:
            samples.append(Sample(name, m, b, clean[name]))
    warn_missing(missing, "clean images", len(clean))
    return samples


def read_frames_csv(path: Path) -> list[tuple[str, float]]:
    """``frames.csv`` (header ``name,timestamp_seconds``) -> ``[(frame name, seconds), ...]``."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read {path}: {err}") from None
    out = []
    for line, row in enumerate(rows, 1):
        if line == 1 and row[0].strip() == FRAMES_HEADER[0]:
            continue
        try:
            out.append((row[0].strip(), float(row[1])))
        except (IndexError, ValueError):
            raise DatasetError(f"{path}, row {line}: expected name,timestamp_seconds; got {row}") from None
    return out


def write_frames_csv(path: Path, frames: list[tuple[str, float]]) -> None:
    write_csv(path, FRAMES_HEADER, frames)
