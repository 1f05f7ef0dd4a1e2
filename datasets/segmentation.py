"""Stage-1 data: masked face -> binary mask."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from datasets.images import ImageReadError, check_same_frame, load_image, load_mask, resize_image, resize_mask
from datasets.layout import DatasetError, Sample, folder_pairs, read_annotations, require_dir

log = logging.getLogger(__name__)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H,W,3)`` uint8 -> ``(3,H,W)`` float32 in [0,1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float().div_(255)


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """``(H,W)`` bool -> ``(1,H,W)`` float32 in {0,1}."""
    return torch.from_numpy(mask).unsqueeze(0).float()


class ImageDataset(Dataset):
    """Base for the two datasets: a list of ``Sample`` paths, loading at ``img_size``.

    A file that cannot be read is skipped with one warning: ``__getitem__`` returns None
    and ``collate_skip_broken`` drops it from the batch. ``cache_images`` keeps decoded,
    resized arrays (uint8) in memory so small datasets are not decode-bound.
    """

    def __init__(self, samples: list[Sample], img_size: int, what: str, cache_images: bool = False) -> None:
        if not samples:
            raise DatasetError(f"{what} is empty: no complete examples found")
        self.samples, self.img_size = samples, img_size
        self.cache: dict[int, dict] | None = {} if cache_images else None
        self._warned: set[int] = set()

    def __len__(self) -> int:
        return len(self.samples)

    def load_arrays(self, index: int) -> dict:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict | None:
        if self.cache is not None and index in self.cache:
            arrays = self.cache[index]
        else:
            try:
                arrays = self.load_arrays(index)
            except ImageReadError as err:
                if index not in self._warned:
                    self._warned.add(index)
                    log.warning("skipping %s: %s", self.samples[index].name, err)
                return None
            if self.cache is not None:
                self.cache[index] = arrays
        item = {"name": self.samples[index].name, "index": index}
        for key, value in arrays.items():
            item[key] = mask_to_tensor(value) if value.ndim == 2 else to_tensor(value)
        return item

    def load_files(self, **paths: Path) -> dict[str, np.ndarray]:
        """Load one example's files (the key ``mask`` is a mask, the rest RGB images),
        check they show the same frame as ``masked``, resize all to ``img_size``."""
        arrays = {k: load_mask(p) if k == "mask" else load_image(p) for k, p in paths.items()}
        ref = paths["masked"]
        for key, array in arrays.items():
            check_same_frame(ref, arrays["masked"].shape, paths[key], array.shape)
        return {k: resize_mask(a, self.img_size) if k == "mask" else resize_image(a, self.img_size)
                for k, a in arrays.items()}


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


def collate_skip_broken(items: list[dict | None]) -> dict | None:
    """Stack a batch, leaving out items that failed to load (None if all failed)."""
    items = [i for i in items if i is not None]
    if not items:
        return None
    out = {}
    for key in items[0]:
        values = [i[key] for i in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else (
            torch.tensor(values) if isinstance(values[0], int) else values)
    return out
