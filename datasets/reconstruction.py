"""Stage-2 data: (clean face, masked face, mask) triplets, with audio for video datasets."""

from __future__ import annotations

from pathlib import Path

from core.audio import AudioSettings
from datasets.audio import FrameAudio
from datasets.base import ImageDataset
from datasets.layout import read_annotations, require_dir, triplets, with_clean_images


class ReconstructionDataset(ImageDataset):
    """Items ``{"image": (3,H,W) [0,1] ground truth, "masked": (3,H,W) [0,1],
    "mask": (1,H,W) {0,1}, "name", "index"}``, plus ``"audio": (n_mels, W)`` normalised
    log-mel window centred on the frame's time when ``audio`` settings are given.

    ``annotations``: optional segmentation CSV whose rows choose the examples, so one root
    serves both stages with the same train/val split (a prepared root, or the published
    CelebA layout, where the clean faces sit beside the masked ones: see
    ``datasets.layout.with_clean_images``).
    ``audio``: the root must then be a video dataset (``audio/TRACK.wav`` + ``frames.csv``);
    otherwise ``DatasetError``. The track is decoded once here and kept in memory.
    """

    def __init__(self, root: str | Path, img_size: int, image_dir: str = "image",
                 masked_dir: str = "image_masked", binary_dir: str = "image_binary",
                 annotations: str | Path | None = None, cache_images: bool = False,
                 audio: AudioSettings | None = None) -> None:
        root = require_dir(Path(root), "dataset root")
        samples = (with_clean_images(read_annotations(Path(annotations), root), root, image_dir)
                   if annotations else triplets(root, image_dir, masked_dir, binary_dir))
        super().__init__(samples, img_size, f"reconstruction dataset {root}", cache_images)
        self.audio: FrameAudio | None = None
        if audio is not None:
            self.audio = FrameAudio.from_root(root, audio)
            self.audio.require([s.name for s in self.samples], root)

    def load_arrays(self, index: int) -> dict:
        s = self.samples[index]
        return self.load_files(image=s.image, masked=s.masked, mask=s.mask)

    def __getitem__(self, index: int) -> dict | None:
        item = super().__getitem__(index)
        if item is not None and self.audio is not None:
            item["audio"] = self.audio.window(item["name"])
        return item
