"""Face photos for the demo, made from the one face that ships with our dependencies.

``skimage.data.astronaut()`` (public domain) is warped into many "photos": different
crops, zooms, rotations, mirror images and colours. The held-out photos use rotation
angles that no training photo uses (the bands ``HELD_OUT_ANGLES``) and fresh random draws
of every other setting, so the model is scored on views of the face it has never seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.images import write_image

PHOTO_SIDE = 256  # the demo "photos"; prepare resizes them to the training size
# Absolute rotation angles (degrees) reserved for the held-out photos.
HELD_OUT_ANGLES = (5.0, 9.0)
MAX_ANGLE = 16.0


@dataclass(frozen=True)
class View:
    """How one photo is cut from the astronaut image and recoloured."""

    zoom: float  # crop side / the face crop's side (> 1: more background, smaller face)
    shift: tuple[float, float]  # crop centre offset, in crop sides
    angle: float  # degrees, counter-clockwise
    mirror: bool
    hue: float  # hue rotation, fraction of the colour wheel
    saturation: float  # multipliers
    brightness: float
    contrast: float


def source_image() -> np.ndarray:
    """The astronaut photo, ``(512,512,3)`` uint8 RGB."""
    from skimage import data

    return data.astronaut()


@lru_cache(maxsize=1)
def face_landmarks() -> np.ndarray:
    """Her 68 dlib landmarks ``(68,2)`` in the source photo (found once per process)."""
    from faces.detect import PREPARE, find_faces

    faces = find_faces(source_image(), PREPARE)
    if not faces:
        raise RuntimeError("dlib found no face in skimage.data.astronaut(); is dlib installed correctly?")
    return faces[0].landmarks


def face_box() -> tuple[float, float, float]:
    """Centre x, centre y and side of her square face crop (``faces.crop.crop_box``)."""
    from faces.crop import crop_box

    return crop_box(face_landmarks())


def _held_out_angle(angle: float) -> bool:
    low, high = HELD_OUT_ANGLES
    return low <= abs(angle) <= high


def random_view(rng: np.random.Generator, held_out: bool) -> View:
    """One random view; ``held_out`` chooses the angle bands (disjoint from training)."""
    while True:
        angle = float(rng.uniform(-MAX_ANGLE, MAX_ANGLE))
        if _held_out_angle(angle) == held_out:
            break
    return View(zoom=float(rng.uniform(0.9, 1.35)),
                shift=(float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.08, 0.08))),
                angle=angle, mirror=bool(rng.random() < 0.5),
                hue=float(rng.uniform(-0.03, 0.03)), saturation=float(rng.uniform(0.7, 1.3)),
                brightness=float(rng.uniform(0.75, 1.2)), contrast=float(rng.uniform(0.8, 1.2)))


def views(count: int, held_out: bool, seed: int) -> list[View]:
    rng = np.random.default_rng([seed, int(held_out)])
    return [random_view(rng, held_out) for _ in range(count)]


def render(image: np.ndarray, view: View, side: int = PHOTO_SIDE) -> np.ndarray:
    """The photo ``view`` describes: ``(side,side,3)`` uint8 RGB."""
    face_x, face_y, face_side = face_box()
    crop = face_side * view.zoom
    cx = face_x + view.shift[0] * crop
    # The face is near the top of the source: keep the crop inside it there, or the
    # mirrored border would show an upside-down head above hers.
    cy = max(face_y + view.shift[1] * crop, crop / 2)
    matrix = cv2.getRotationMatrix2D((cx, cy), view.angle, side / crop)
    matrix[:, 2] += (side / 2 - cx, side / 2 - cy)  # the crop centre lands in the middle
    # Mirrored borders where a rotated corner leaves the source: a black corner would be an
    # easy, unrealistic cue.
    out = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_AREA,
                         borderMode=cv2.BORDER_REFLECT_101)
    if view.mirror:
        out = out[:, ::-1]
    return recolor(out, view)


def recolor(image: np.ndarray, view: View) -> np.ndarray:
    """Hue rotation, saturation, brightness and contrast changes (a different camera)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + view.hue * 256) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * view.saturation, 0, 255)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    mean = rgb.mean()
    rgb = (rgb - mean) * view.contrast + mean * view.brightness
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def write_photos(folder: Path, count: int, held_out: bool, seed: int = 0) -> list[Path]:
    """Write ``count`` photos (``astro_{train|test}_NNN.png``) into ``folder``; existing files
    are kept (the views are the same for the same seed)."""
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    image = source_image()
    tag = "test" if held_out else "train"
    paths = []
    todo = views(count, held_out, seed)
    for k, view in enumerate(tqdm(todo, desc=f"{tag} photos", unit="img", dynamic_ncols=True)):
        path = folder / f"astro_{tag}_{k:03d}.png"
        if not path.is_file():
            write_image(path, render(image, view))
        paths.append(path)
    return paths

