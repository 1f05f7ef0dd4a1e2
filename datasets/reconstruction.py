"""Stage-2 data: (clean face, masked face, mask) triplets."""

from __future__ import annotations

from pathlib import Path

from datasets.layout import read_annotations, require_dir, triplets
from datasets.segmentation import ImageDataset


class ReconstructionDataset(ImageDataset):
    """Items ``{"image": (3,H,W) [0,1] ground truth, "masked": (3,H,W) [0,1],
    "mask": (1,H,W) {0,1}, "name", "index"}``.

    ``annotations``: optional segmentation CSV whose rows choose which names to use, so
    one prepared root serves both stages with the same train/val split.
    """

    def __init__(self, root: str | Path, img_size: int, image_dir: str = "image",
                 masked_dir: str = "image_masked", binary_dir: str = "image_binary",
                 annotations: str | Path | None = None, cache_images: bool = False) -> None:
        root = require_dir(Path(root), "dataset root")
        names = ({s.name for s in read_annotations(Path(annotations), root)}
                 if annotations else None)
        samples = triplets(root, image_dir, masked_dir, binary_dir, names)
        super().__init__(samples, img_size, f"reconstruction dataset {root}", cache_images)

    def load_arrays(self, index: int) -> dict:
        s = self.samples[index]
        return self.load_files(image=s.image, masked=s.masked, mask=s.mask)
