"""Builders for the inference tests: tiny datasets, photos, videos and checkpoints."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch import nn

from configs import Config
from core.images import write_image
from core.media import encode_video
from core.wav import write_wav

REPO = Path(__file__).resolve().parents[1]
CELEBA30 = REPO.parent / "shared" / "fixtures" / "celeba30"
MASK_RGB = (120, 170, 230)  # a surgical-mask blue
# Subprocesses get one thread too (torch reads this at start-up).
ONE_THREAD_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a busy machine the threads' barriers
    cost more than the work (60 training steps: 1.4 s on one thread, up to 40 s on two
    while other jobs share the cores). Restored afterwards for other test modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def face(height: int, width: int, shift: int = 0) -> np.ndarray:
    """The astronaut's face (public domain), ``(height,width,3)`` uint8, shifted a little."""
    crop = skdata.astronaut()[30 + shift:250 + shift, 140:330]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def mask_region(height: int, width: int) -> np.ndarray:
    """A face-mask-shaped region (lower middle of the face), ``(height,width)`` bool."""
    m = np.zeros((height, width), bool)
    m[int(height * 0.55):int(height * 0.9), int(width * 0.2):int(width * 0.8)] = True
    return m


def put_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = image.copy()
    out[mask] = MASK_RGB
    return out


def make_dataset(root: Path, count: int = 3, size: tuple[int, int] = (40, 40)) -> list[str]:
    """A triplet root (the published layout) of ``count`` faces; returns the names."""
    h, w = size
    names = []
    for i in range(count):
        name = f"face{i:02d}"
        clean = face(h, w, shift=3 * i)
        m = mask_region(h, w)
        write_image(root / "image" / f"{name}.png", clean)
        write_image(root / "image_masked" / f"{name}_masked.png", put_mask(clean, m))
        write_image(root / "image_binary" / f"{name}_binary.png", m.astype(np.uint8) * 255)
        names.append(name)
    return names


def write_tone(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A 440 Hz tone as a mono 16-bit WAV."""
    t = np.arange(int(seconds * rate)) / rate
    return write_wav(path, 0.3 * np.sin(2 * math.pi * 440 * t), rate)


def make_video(path: Path, frames: int = 5, size: tuple[int, int] = (48, 64), fps: int = 10,
               audio: bool = True) -> Path:
    """An H.264 ``.mp4`` of a masked face drifting, ``size`` = (height, width), with a tone."""
    h, w = size
    wav = write_tone(path.with_suffix(".wav"), frames / fps) if audio else None
    pictures = [put_mask(face(h, w, shift=2 * i), mask_region(h, w)) for i in range(frames)]
    return encode_video(path, pictures, fps, wav)


def tiny_config(root: Path, weights: Path, img_size: int = 32, **extra) -> Config:
    """Settings for tiny, fast models (random weights are fine for plumbing)."""
    return Config.from_dict({"root_dir": str(root), "checkpoint_path": str(weights),
                             "sample_folder": str(weights / "samples"), "img_size": img_size,
                             "base_channels": 4, "depth": 2, "perceptual": "none",
                             "num_workers": 0, "batch_size": 2, "device": "cpu", **extra})


def make_checkpoints(root: Path, weights: Path, img_size: int = 32) -> tuple[Path, Path]:
    """Real-format checkpoints from the real trainers (random initial weights), saved as
    ``weights/model_segm_0_0.pth`` and ``weights/model_0_0.pth``."""
    from trainers import ReconstructionTrainer, SegmentationTrainer

    segm = SegmentationTrainer(tiny_config(root, weights, img_size, task="segm")).save()
    recon = ReconstructionTrainer(tiny_config(root, weights, img_size, task="facemask")).save()
    return segm, recon


class FixedSegmenter(nn.Module):
    """A stand-in segmenter whose logits say exactly which pixels are mask.

    ``masks``: ``(N,1,S,S)`` {0,1}; the i-th image of each call gets ``masks[i]``.
    """

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("masks", masks.float())
        self.spec = {"kind": "segm"}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (self.masks[: image.shape[0]] * 2 - 1) * 20.0


class EchoGenerator(nn.Module):
    """A stand-in generator that returns fixed images (e.g. the ground truth)."""

    audio = "none"

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images.float())

    def forward(self, masked: torch.Tensor, mask: torch.Tensor, audio=None) -> torch.Tensor:
        return self.images[: masked.shape[0]]


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A few hundred bytes whose PNG header promises ``width x height`` RGB pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compress(b"\x00" * (3 * width + 1) * 4)  # the first rows only: never decoded
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path
