"""What the two scripts write (the published output names), all under the output folder.

* ``infer.py``: ``results_{name}.png``, masked | predicted-mask overlay | reconstructed |
  ground truth (the last only where it exists), plus ``metrics.csv`` and ``summary.json``.
* ``infer_jpgs.py``: ``results2_{name}.jpg``, the reconstructed image only.
* both, with ``--save-masks``: ``masks/{name}_mask.png`` (255 = mask, input resolution);
  for a video input: ``{stem}_reconstructed.mp4``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.files import StreamingCsv, write_text
from core.images import grid, write_image
from inference.evaluation import COLUMNS, csv_value
from inference.inputs import Item
from inference.paste import Reconstruction

OVERLAY_RGB = np.array([255, 0, 0], np.float32)  # the predicted mask is tinted red
BOX_RGB = (0, 220, 0)  # faces found are boxed in green
OVERLAY_ALPHA = 0.5


class OutputError(OSError):
    """The output folder cannot be used; one line."""


def ensure_writable(folder: Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there (before any work)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise OutputError(f"output folder {folder} is not writable "
                          f"({err.strerror or type(err).__name__})") from None
    return folder


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(H,W,3)`` uint8 with the ``(H,W)`` bool mask tinted red, half transparent."""
    out = image.copy()
    out[mask] = (image[mask] * (1 - OVERLAY_ALPHA) + OVERLAY_RGB * OVERLAY_ALPHA + 0.5).astype(np.uint8)
    return out


def with_face_boxes(image: np.ndarray, result: Reconstruction) -> np.ndarray:
    """``image`` with a box around each face the models reconstructed (a copy)."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 300))
    for region in result.regions:
        if region.box is not None:
            left, top, right, bottom = region.box
            cv2.rectangle(out, (left, top), (right, bottom), BOX_RGB, thickness)
    return out


def comparison_panel(item: Item, result: Reconstruction) -> np.ndarray:
    """One row at the input's resolution: masked (with the faces found boxed) | overlay |
    reconstructed [| ground truth]."""
    tiles = [with_face_boxes(item.image, result), overlay(item.image, result.mask), result.image]
    if item.truth is not None:
        tiles.append(item.truth)
    return grid([tiles])


class ImageWriter:
    """Writes each image's files: the panel (infer.py) or the reconstruction (infer_jpgs.py),
    and the mask with ``save_masks``."""

    def __init__(self, folder: Path, comparison: bool, ext: str, save_masks: bool) -> None:
        self.folder, self.comparison, self.ext, self.save_masks = Path(folder), comparison, ext, save_masks

    def image_path(self, name: str) -> Path:
        prefix = "results" if self.comparison else "results2"
        return self.folder / f"{prefix}_{name}.{self.ext}"

    def mask_path(self, name: str) -> Path:
        return self.folder / "masks" / f"{name}_mask.png"

    def write(self, item: Item, result: Reconstruction, image: bool = True) -> None:
        """``image=False`` writes the mask only (video frames go into the video instead)."""
        if image:
            picture = comparison_panel(item, result) if self.comparison else result.image
            write_image(self.image_path(item.name), picture)
        if self.save_masks:
            write_image(self.mask_path(item.name), result.mask.astype(np.uint8) * 255)


class MetricsCsv(StreamingCsv):
    """``metrics.csv``, one row per image (the ``COLUMNS``), written as the rows come and put
    in place on ``close``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, COLUMNS)

    def add(self, row: dict[str, Any]) -> None:
        super().add(csv_value(row.get(k, "")) for k in COLUMNS)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """``summary.json`` (NaN already replaced by null), written atomically."""
    write_text(path, json.dumps(summary, indent=2) + "\n")
