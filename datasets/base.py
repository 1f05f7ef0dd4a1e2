"""What both datasets share: a list of example paths, decoded and resized on demand,
broken files skipped, an optional in-memory cache, and the batch collation that drops them."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from core.images import ImageReadError, check_same_frame, load_image, load_mask, resize_image, resize_mask
from datasets.layout import DatasetError, Sample

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
    resized arrays (uint8) in memory so small datasets are not decode-bound: call
    ``preload`` before making DataLoaders. Items cached later, inside a DataLoader worker,
    stay in that worker and are lost when it exits at the end of the epoch; items preloaded
    in the main process are inherited by forked workers (shared copy-on-write; with the
    ``spawn`` start method each worker gets a copy). Memory: about
    ``img_size**2 * 7`` bytes per triplet (1.8 MB at 512), so this is for small datasets.
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

    def preload(self, threads: int | None = None) -> int:
        """Decode every example into the cache now (``cache_images`` only), on ``threads``
        threads (OpenCV decodes without holding the GIL). Returns the bytes cached."""
        if self.cache is None:
            raise RuntimeError("preload needs a dataset built with cache_images=True")
        missing = [i for i in range(len(self)) if i not in self.cache]
        with ThreadPoolExecutor(threads or min(8, os.cpu_count() or 1)) as pool:
            for _ in pool.map(self.arrays, missing):
                pass
        size = sum(a.nbytes for arrays in self.cache.values() for a in arrays.values())
        log.info("cached %d of %d examples in memory (%.0f MB)", len(self.cache), len(self), size / 1e6)
        return size

    def arrays(self, index: int) -> dict[str, np.ndarray] | None:
        """Example ``index``'s decoded, resized uint8 arrays (from the cache when it holds
        them); None, with one warning, when a file cannot be read."""
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        try:
            arrays = self.load_arrays(index)
        except ImageReadError as err:
            if index not in self._warned:
                self._warned.add(index)
                log.warning("skipping %s: %s", self.samples[index].name, err)
            return None
        if self.cache is not None:
            self.cache[index] = arrays
        return arrays

    def __getitem__(self, index: int) -> dict | None:
        arrays = self.arrays(index)
        if arrays is None:
            return None
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
