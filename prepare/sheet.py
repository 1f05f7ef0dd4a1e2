"""A contact sheet: every mask type and texture on a few faces, to see what ``prepare`` draws."""

from __future__ import annotations

from pathlib import Path

from core.images import IMAGE_EXTS, ImageReadError, grid, load_image, resize_image, write_image
from faces.crop import Region, square_pad
from faces.detect import PREPARE, find_faces
from prepare.example import rng_for
from prepare.masks import MASK_TYPES, TEXTURES, draw_mask, random_style
from prepare.options import PrepareError
from prepare.run import list_sources


def contact_sheet(src: str | Path, out: str | Path, count: int = 4, tile: int = 256, crop: str = "none",
                  seed: int = 0) -> Path:
    """A PNG grid: one row per face (the first ``count`` images of ``src`` with a face),
    columns = clean face, the five mask types, then the four textures (on cloth and
    surgical masks, alternating). Returns ``out``."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise PrepareError(f"--src folder not found: {src}")
    rows = []
    size = 512
    for source in list_sources(src):
        if len(rows) == count:
            break
        if source.suffix.lower() not in IMAGE_EXTS:
            continue
        try:
            image = load_image(source)
        except ImageReadError:
            continue
        image = square_pad(image) if crop == "none" else image
        faces = find_faces(image, PREPARE)  # on the photo at its own resolution
        if not faces:
            continue
        region = Region.around(faces[0]) if crop == "face" else Region.whole(image)
        image, lm = region.cut(image, size), region.to_cut(faces[0].landmarks, size)
        rng = rng_for(source.stem, seed)
        styles = [random_style(rng, kind) for kind in MASK_TYPES]
        styles += [random_style(rng, "cloth" if k % 2 else "surgical", texture=t)
                   for k, t in enumerate(TEXTURES)]
        row = [image] + [draw_mask(image, lm, s, rng).image for s in styles]
        rows.append([resize_image(x, tile) for x in row])
    if not rows:
        raise PrepareError(f"no face found in the images of {src}")
    write_image(out, grid(rows))
    return out
