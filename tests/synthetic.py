"""Small synthetic datasets for tests, written in the real on-disk layouts.

``blob_pairs``: coloured ellipses (the "mask") on textured backgrounds, for segmentation.
``face_triplets``: crops of ``skimage.data.astronaut()`` (public domain) with a painted
mask-shaped polygon, for reconstruction.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        for _ in range(3):
            fx, fy, ph = rng.uniform(1, 8), rng.uniform(1, 8), rng.uniform(0, 2 * np.pi)
            img[..., c] += np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    img = (img - img.min()) / (np.ptp(img) + 1e-9)
    img = 0.6 * img + 0.4 * rng.uniform(0, 1, (1, 1, 3)) + rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def blob_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(size,size,3)`` uint8 image and ``(size,size)`` bool mask of 1-2 flat ellipses."""
    img = _texture(rng, size)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(1, 3)):
        centre = tuple(int(v) for v in rng.integers(size // 5, 4 * size // 5, 2))
        axes = tuple(int(v) for v in rng.integers(size // 10, size // 4, 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    colour = rng.uniform(0, 255, 3)
    flat = np.clip(colour + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    img = np.where(mask[..., None] > 0, flat, img)
    return img, mask.astype(bool)


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    assert cv2.imwrite(str(path), bgr)


def blob_pairs(root: Path, n_train: int, n_val: int, size: int = 64, seed: int = 0) -> Path:
    """Segmentation data: ``root/image_masked``, ``root/image_binary`` and
    ``root/annotations/{train,val}.csv``."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"train": [], "val": []}
    for i in range(n_train + n_val):
        img, mask = blob_image(rng, size)
        name = f"{i:05d}"
        write_png(root / "image_masked" / f"{name}_masked.png", img)
        write_png(root / "image_binary" / f"{name}_binary.png", mask.astype(np.uint8) * 255)
        split = "train" if i < n_train else "val"
        rows[split].append([i, f"image_masked\\{name}_masked.png", f"image_binary\\{name}_binary.png"])
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, r in rows.items():
        with open(root / "annotations" / f"{split}.csv", "w", newline="") as f:
            csv.writer(f, lineterminator="\r\n").writerows(r)
    return root


def astronaut_face(size: int, shift: int = 0) -> np.ndarray:
    """A square crop around the astronaut's face, resized to ``size``."""
    from skimage import data

    img = data.astronaut()
    crop = img[20 + shift: 240 + shift, 110 + shift: 330 + shift]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def mask_polygon(size: int, rng: np.random.Generator) -> np.ndarray:
    """A face-mask-like region over the lower middle of a face crop, ``(size,size)`` bool."""
    s = size
    jitter = lambda: rng.uniform(-0.03, 0.03) * s  # noqa: E731
    pts = np.array([(0.30 * s + jitter(), 0.50 * s + jitter()), (0.70 * s + jitter(), 0.50 * s + jitter()),
                    (0.75 * s, 0.72 * s), (0.50 * s + jitter(), 0.90 * s), (0.25 * s, 0.72 * s)], np.int32)
    mask = np.zeros((s, s), np.uint8)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def face_triplets(root: Path, n: int, size: int = 64, seed: int = 0, colour=(90, 150, 220)) -> Path:
    """Reconstruction data: ``root/image``, ``root/image_masked``, ``root/image_binary``."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        face = astronaut_face(size, shift=int(rng.integers(0, 20)))
        mask = mask_polygon(size, rng)
        masked = face.copy()
        masked[mask] = np.array(colour, np.uint8)
        name = f"face{i:03d}"
        write_png(root / "image" / f"{name}.png", face)
        write_png(root / "image_masked" / f"{name}_masked.png", masked)
        write_png(root / "image_binary" / f"{name}_binary.png", mask.astype(np.uint8) * 255)
    return root


def celeba_layout(root: Path, n: int, size: int = 64, n_val: int = 2, seed: int = 0) -> Path:
    """The published CelebA layout: ``celeba512_30k{,_masked,_binary}/`` JPEGs and
    ``annotations/{train,val}.csv`` with Windows separators and line ends."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"train": [], "val": []}
    for i in range(n):
        face = astronaut_face(size, shift=int(rng.integers(0, 20)))
        mask = mask_polygon(size, rng)
        masked = face.copy()
        masked[mask] = (90, 150, 220)
        name = f"{i + 1:06d}"
        views = (("celeba512_30k", "", face), ("celeba512_30k_masked", "_masked", masked),
                 ("celeba512_30k_binary", "_binary", mask.astype(np.uint8) * 255))
        for folder, suffix, image in views:
            write_png(root / folder / f"{name}{suffix}.jpg", image)
        split = "val" if i >= n - n_val else "train"
        rows[split].append([i + 1, f"celeba512_30k_masked\\{name}_masked.jpg",
                            f"celeba512_30k_binary\\{name}_binary.jpg"])
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, r in rows.items():
        with open(root / "annotations" / f"{split}.csv", "w", newline="") as f:
            csv.writer(f, lineterminator="\r\n").writerows(r)
    return root
