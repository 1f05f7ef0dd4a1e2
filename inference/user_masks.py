"""Masks a user made elsewhere (``--masks``): one per image, found by name in a folder, or one
file for every image of a folder or every frame of a video. The segmenter is skipped for
them; the faces are still found, to cut the crops the generator sees.

A mask is white (> 127) where to paint. One of another size but the image's aspect ratio is
resized (nearest neighbour); one of another aspect ratio, one that is not a mask image, or
an all-black one refuses its image in one line, and the others go on.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.images import ImageReadError, check_same_frame, is_image_file, load_mask
from inference.inputs import InputError

SUFFIXES = ("", "_mask", "_binary")  # NAME.png, NAME_mask.png, NAME_binary.png


class UserMasks:
    """The given mask of each input image, by its name (``Item.name``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"--masks {self.path}: not found (a mask image, or a folder of them)")
        self.by_name: dict[str, Path] = {}
        self._one_file, self._one = None, None
        if self.path.is_file():  # one mask for every image or frame: read once
            try:
                self._one, self._one_file = load_mask(self.path), self.path
            except ImageReadError as err:
                raise InputError(f"--masks {err}") from None
        if self.path.is_dir():
            for file in sorted(p for p in self.path.iterdir() if is_image_file(p)):
                for suffix in SUFFIXES:
                    if suffix and file.stem.endswith(suffix):
                        self.by_name.setdefault(file.stem[: -len(suffix)], file)
                self.by_name.setdefault(file.stem, file)
            if not self.by_name:
                raise InputError(f"--masks {self.path}: no mask images in the folder")

    def file_for(self, name: str) -> Path:
        if self.path.is_file():
            return self.path
        # a video frame "clip_000012" takes the clip's mask "clip" when it has none of its own
        found = self.by_name.get(name) or self.by_name.get(name.rsplit("_", 1)[0])
        if found is None:
            raise ImageReadError(f"{name}: no mask for it in {self.path} (looked for {name}.png, "
                                 f"{name}_mask.png, ...)")
        return found

    def mask_for(self, name: str, image: np.ndarray) -> np.ndarray:
        """``(H,W)`` bool at ``image``'s size, or ``ImageReadError`` saying why not."""
        file = self.file_for(name)
        mask = self._one if file == self._one_file else load_mask(file)
        check_same_frame(Path(name), image.shape, file, mask.shape)
        if mask.shape != image.shape[:2]:
            mask = cv2.resize(mask.astype(np.uint8), (image.shape[1], image.shape[0]),
                              interpolation=cv2.INTER_NEAREST).astype(bool)
        if not mask.any():
            raise ImageReadError(f"{file}: an all-black mask (white marks what to paint)")
        return mask
