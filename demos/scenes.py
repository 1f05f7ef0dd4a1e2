"""Wide frames with faces in them: a face crop (masked, its ground truth and its mask alike)
pasted at a given scale and position onto a photo without people, as a face sits in a
webcam frame or a holiday photo. Used by the demo, the benchmarks and the tests.

The backgrounds are the photos without people that ship with scikit-image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NO_PEOPLE = ("coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")


def background(k: int, size: tuple[int, int] = (1920, 1080)) -> np.ndarray:
    """Photo ``k`` (cycling through ``NO_PEOPLE``) resized to ``size`` = (width, height), RGB uint8."""
    from skimage import data

    photo = getattr(data, NO_PEOPLE[k % len(NO_PEOPLE)])()
    return cv2.resize(np.ascontiguousarray(photo[..., :3]), size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Placement:
    """Where a square crop lands: its top-left corner and side, in frame pixels."""

    x: int
    y: int
    side: int

    def box(self, box: tuple[float, float, float, float], crop_side: int) -> tuple[float, ...]:
        """A (l, t, r, b) box in the crop's pixels -> frame pixels."""
        s = self.side / crop_side
        return tuple(v * s + o for v, o in zip(box, (self.x, self.y, self.x, self.y)))


def random_placement(rng: np.random.Generator, frame: tuple[int, int], scale: float) -> Placement:
    """A square of ``scale`` x the frame height at a random position inside the frame."""
    width, height = frame
    side = int(round(scale * height))
    return Placement(int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)), side)


def paste(frame: np.ndarray, crop: np.ndarray, where: Placement) -> np.ndarray:
    """``crop`` (RGB uint8 or bool mask, square) resized into ``frame`` at ``where`` (a copy).

    Images are resized by area averaging, masks by averaging then thresholding at one half,
    so a pasted mask covers exactly the pasted mask pixels of the pasted image.
    """
    out = frame.copy()
    size = (where.side, where.side)
    if crop.dtype == bool:
        resized = cv2.resize(crop.astype(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) > 127
    else:
        resized = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    out[where.y: where.y + where.side, where.x: where.x + where.side] = resized
    return out


def scene(crops: dict[str, np.ndarray], where: Placement, frame: np.ndarray) -> dict[str, np.ndarray]:
    """Each of ``crops`` (e.g. masked, truth: RGB; mask: bool) pasted at the same place: images
    onto ``frame``, a bool mask onto an empty frame."""
    empty = np.zeros(frame.shape[:2], bool)
    return {name: paste(empty if crop.dtype == bool else frame, crop, where) for name, crop in crops.items()}


def masked_astronaut(side: int = 256, kind: str = "surgical", seed: int = 0) -> dict[str, np.ndarray]:
    """The astronaut's face crop (``faces.crop.Region.around``) at ``side`` px wearing one of our
    masks: ``{"truth": clean, "masked": masked, "mask": bool}``."""
    from skimage import data

    from faces.crop import Region
    from faces.detect import PREPARE, find_faces
    from prepare.masks import MaskStyle, draw_mask

    image = data.astronaut()
    face = find_faces(image, PREPARE)[0]
    region = Region.around(face)
    clean = region.cut(image, side)
    points = region.to_cut(face.landmarks, side)
    drawn = draw_mask(clean, points, MaskStyle(kind), np.random.default_rng(seed))
    return {"truth": clean, "masked": drawn.image, "mask": drawn.mask}
