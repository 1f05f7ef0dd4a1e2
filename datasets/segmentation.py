"""Stage-1 data: masked face -> binary mask."""

from __future__ import annotations

from pathlib import Path

from datasets.base import ImageDataset
from datasets.layout import folder_pairs, read_annotations, require_dir, with_clean_images


class SegmentationDataset(ImageDataset):
    """Items ``{"masked": (3,H,W) [0,1], "mask": (1,H,W) {0,1}, "name", "index"}``, and
    ``"image"`` (3,H,W) [0,1], the bare face, when ``image_dir`` is given.

    From an annotations CSV (the published CelebA layout) or, without one, from the folder
    pairs ``masked_dir/NAME_masked.*`` / ``binary_dir/NAME_binary.*`` under ``root``. With
    ``image_dir`` each example also has its clean face (``datasets.layout.with_clean_images``:
    examples without one are left out, with a warning).
    """

    def __init__(self, root: str | Path, img_size: int, annotations: str | Path | None = None,
                 masked_dir: str = "image_masked", binary_dir: str = "image_binary",
                 cache_images: bool = False, image_dir: str | None = None) -> None:
        root = require_dir(Path(root), "dataset root")
        samples = (read_annotations(Path(annotations), root) if annotations
                   else folder_pairs(root, masked_dir, binary_dir))
        if image_dir is not None:
            samples = with_clean_images(samples, root, image_dir)
        super().__init__(samples, img_size, f"segmentation dataset {annotations or root}", cache_images)

    def load_arrays(self, index: int) -> dict:
        s = self.samples[index]
        if s.image is not None:
            return self.load_files(masked=s.masked, mask=s.mask, image=s.image)
        return self.load_files(masked=s.masked, mask=s.mask)
