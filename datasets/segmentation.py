"""Stage-1 data: masked face -> binary mask."""

from __future__ import annotations

from pathlib import Path

from datasets.base import ImageDataset
from datasets.layout import folder_pairs, read_annotations, require_dir


class SegmentationDataset(ImageDataset):
    """Items ``{"masked": (3,H,W) [0,1], "mask": (1,H,W) {0,1}, "name", "index"}``.

    From an annotations CSV (the published CelebA layout) or, without one, from the folder
    pairs ``masked_dir/NAME_masked.*`` / ``binary_dir/NAME_binary.*`` under ``root``.
    """

    def __init__(self, root: str | Path, img_size: int, annotations: str | Path | None = None,
                 masked_dir: str = "image_masked", binary_dir: str = "image_binary",
                 cache_images: bool = False) -> None:
        root = require_dir(Path(root), "dataset root")
        samples = (read_annotations(Path(annotations), root) if annotations
                   else folder_pairs(root, masked_dir, binary_dir))
        super().__init__(samples, img_size, f"segmentation dataset {annotations or root}", cache_images)

    def load_arrays(self, index: int) -> dict:
        s = self.samples[index]
        return self.load_files(masked=s.masked, mask=s.mask)
