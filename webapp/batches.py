"""Several photos at once: each reconstructed as ``/unmask`` would, the results shown as a
gallery and offered as one zip (each photo's result and mask as PNGs)."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.images import write_image
from inference.errors import USER_ERRORS
from webapp.handlers import App


@dataclass
class Batch:
    """What a batch puts on the page."""

    message: str
    gallery: list[tuple[str, str]]  # (PNG path, caption) per photo reconstructed
    archive: Path | None  # the zip, None when no photo could be used


def unique_stem(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3``...: two uploads may share a name."""
    name, k = stem, 1
    while name in taken:
        k += 1
        name = f"{stem}_{k}"
    taken.add(name)
    return name


def run_batch(app: App, paths: list[Path], folder: Path, threshold: float, dilation: int) -> Batch:
    """Reconstruct each photo of ``paths`` into ``folder/batch/`` (the session's previous batch
    replaced): ``NAME_reconstructed.png``, ``NAME_mask.png`` (255 = painted) and
    ``reconstructed.zip`` holding them all. A file that cannot be used is named with its
    reason in the message; the others go on."""
    folder = folder / "batch"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    gallery, refused, taken = [], [], set()
    archive = folder / "reconstructed.zip"
    with zipfile.ZipFile(archive, "w") as zipped:  # PNGs are compressed already: stored
        for path in paths:
            try:
                result = app.unmask(path, threshold, dilation)
            except USER_ERRORS as err:
                refused.append(str(err).replace(str(path), path.name))
                continue
            stem = unique_stem(path.stem, taken)
            pictures = (("reconstructed", result.image), ("mask", result.mask.astype(np.uint8) * 255))
            for suffix, picture in pictures:
                written = folder / f"{stem}_{suffix}.png"
                write_image(written, picture)
                zipped.write(written, written.name)
            gallery.append((str(folder / f"{stem}_reconstructed.png"), path.name))
    message = f"{len(gallery)} of {len(paths)} photo(s) reconstructed"
    if refused:
        message += "; **error:** " + "; ".join(refused)
    if not gallery:
        archive.unlink()
        return Batch(message, [], None)
    return Batch(message + "; download them all as one zip below", gallery, archive)
