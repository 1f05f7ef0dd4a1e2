"""The demo's wide frames: held-out masked faces pasted into 1280x720 photos without people,
reconstructed with faces=none (the whole frame squashed to the model's side, the published
behaviour) and faces=auto (each face found, cut, reconstructed, pasted back)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from core.images import load_image, load_mask, write_image
from datasets.layout import BINARY_DIR, IMAGE_DIR, MASKED_DIR
from demos.report import mean_of, read_summary
from demos.scenes import Placement, background, scene

FRAME = (1280, 720)
# (face crop height / frame height, left edge / frame width): different sizes and places.
PLACES = ((0.45, 0.1), (0.55, 0.6), (0.4, 0.35), (0.6, 0.05))


def write_wide_frames(test_root: Path, names: list[str], out: Path) -> list[str]:
    """A dataset root ``out`` of wide frames, one per held-out example in ``names`` (up to
    ``len(PLACES)``): masked image, ground truth and mask pasted alike."""
    written = []
    for k, (name, (scale, left)) in enumerate(zip(names, PLACES)):
        side = int(round(scale * FRAME[1]))
        where = Placement(int(left * FRAME[0]), (FRAME[1] - side) // 2, side)
        crops = {"masked": load_image(test_root / MASKED_DIR / f"{name}_masked.png"),
                 "truth": load_image(test_root / IMAGE_DIR / f"{name}.png"),
                 "mask": load_mask(test_root / BINARY_DIR / f"{name}_binary.png")}
        placed = scene(crops, where, background(k, FRAME))
        wide = f"wide_{name}"
        write_image(out / IMAGE_DIR / f"{wide}.png", placed["truth"])
        write_image(out / BINARY_DIR / f"{wide}_binary.png", placed["mask"].astype(np.uint8) * 255)
        write_image(out / MASKED_DIR / f"{wide}_masked.png", placed["masked"])
        written.append(wide)
    return written


def wide_table(whole: Path, faces: Path) -> str:
    """faces=none against faces=auto on the wide frames, from what ``infer.py`` wrote."""
    lines = ["| wide frames (1280x720) | mask found | segmentation Dice | PSNR in mask (dB) "
             "| SSIM in mask |", "|---|---:|---:|---:|---:|"]
    for label, results in (("faces=none (whole frame, the published way)", whole),
                           ("faces=auto (faces found, cut, pasted back)", faces)):
        summary = read_summary(results)
        found = summary["metrics"]["mask_found"]
        lines.append(f"| {label} | {round(found['mean'] * found['count'])}/{found['count']} | "
                     f"{_number(mean_of(summary, 'seg_dice'), 3)} | "
                     f"{_number(mean_of(summary, 'psnr_mask'), 2)} | "
                     f"{_number(mean_of(summary, 'ssim_mask'), 3)} |")
    return "\n".join(lines)


def _number(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def wide_picture(whole: Path, faces: Path, name: str, out: Path, width: int = 480) -> Path:
    """One row, each ``width`` wide: the masked frame (faces found boxed) | faces=none |
    faces=auto, from the panels ``infer.py`` wrote."""
    tiles = []
    for results, column in ((faces, 0), (whole, 2), (faces, 2)):
        panel = load_image(results / f"results_{name}.png")
        w = (panel.shape[1] - 3 * 2) // 4  # four panels with 2 px gaps
        tile = panel[:, column * (w + 2): column * (w + 2) + w]
        tiles.append(cv2.resize(tile, (width, round(width * tile.shape[0] / tile.shape[1])),
                                interpolation=cv2.INTER_AREA))
    row = np.concatenate([np.concatenate([t, np.full((t.shape[0], 2, 3), 255, np.uint8)], axis=1)
                          for t in tiles], axis=1)[:, :-2]
    write_image(out, row, png_compression=9)
    return out
