"""The square face crop, the eye line it is built on, and ``Region``: one cut of a photo.

The crop follows the CelebA-HQ / FFHQ recipe (centre and size from the eyes and the
eye-to-mouth vector), with its side measured on the CelebA-HQ 512 crops of the CelebA
sample data and its centre moved down so a mask under the chin stays inside. Parts of the
crop that fall outside the photo are filled by mirroring, as CelebA-HQ did. Dataset
preparation and inference cut faces with the same ``Region``, so a model sees at inference
what it saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from core.images import resize_image, resize_mask
from faces.detect import Face
from faces.landmarks import Box

# Crop side = CROP_SCALE * max(2 * eye distance, 1.8 * eye-to-mouth distance), centred at
# the eye midpoint + CROP_CENTER_SHIFT * eye-to-mouth vector. The side is CelebA-HQ's (measured
# on its 512 crops); the centre sits lower than CelebA-HQ's because masks reach under the
# chin: MaskTheFace's masks on the Dataset1 frames end 2.34 eye distances below the eyes,
# past the CelebA-HQ crop's edge (2.24), and the part outside the crop was never painted.
# This crop ends 2.58 below the eyes and still holds the whole brow.
CROP_SCALE = 2.32
CELEBA_HQ_CENTER_SHIFT = -0.1
CROP_CENTER_SHIFT = 0.3
EYE_TO_MOUTH = 0.85  # eye-to-mouth distance / eye distance, median of the CelebA sample faces
# Where a face mask can be: below the line through the eyes (it never covers them) and
# inside the jaw line pushed out from the nose tip by ``MASK_ZONE_REACH``. With the landmarks
# fitted on the masked faces, this zone holds at least 98.5% of the mask for 9 faces in 10
# of the CelebA sample wearing MaskTheFace's masks or ours and of the Dataset1 video frames
# (MaskTheFace masks reaching well under the chin); the rest lose ear loops, or the top of
# masks drawn up to the eyes.
MASK_ZONE_REACH = 1.6


@dataclass(frozen=True)
class EyeLine:
    """The eyes of 68 landmarks: ``left`` and ``right`` centres ``(2,)`` (x, y) pixels, their
    ``distance`` and ``down``, the unit vector at right angles to the eye line towards the chin."""

    left: np.ndarray
    right: np.ndarray
    distance: float
    down: np.ndarray

    @classmethod
    def of(cls, lm: np.ndarray) -> EyeLine:
        left, right = lm[36:42].mean(0), lm[42:48].mean(0)
        across = right - left
        distance = float(np.linalg.norm(across))
        return cls(left, right, distance, np.array([-across[1], across[0]]) / max(distance, 1e-9))


def crop_box(lm: np.ndarray) -> tuple[float, float, float]:
    """Centre x, centre y and side (pixels) of the square face crop for landmarks ``(68,2)``.

    From the eyes alone, which a face mask leaves visible (its mouth landmarks are guesses):
    the eye-to-mouth vector is taken as ``EYE_TO_MOUTH`` eye distances at right angles to
    the eye line.
    """
    eyes = EyeLine.of(lm)
    eye_to_mouth = EYE_TO_MOUTH * eyes.distance * eyes.down
    side = CROP_SCALE * max(2.0 * eyes.distance, 1.8 * np.linalg.norm(eye_to_mouth))
    cx, cy = (eyes.left + eyes.right) / 2 + CROP_CENTER_SHIFT * eye_to_mouth
    return float(cx), float(cy), float(side)


def mask_zone(lm: np.ndarray) -> np.ndarray:
    """``(N,2)``: the polygon of a face's 68 landmarks where a face mask can be."""
    jaw = lm[30] + (lm[0:17] - lm[30]) * MASK_ZONE_REACH
    eyes = EyeLine.of(lm)
    # Jaw points above the eye line (the jaw starts at ear height) are moved down onto it.
    above = np.minimum((jaw - eyes.left) @ eyes.down, 0.0)
    return jaw - above[:, None] * eyes.down


def square_pad(image: np.ndarray) -> np.ndarray:
    """A non-square image mirrored out to a square (nothing is cut off); squares unchanged."""
    h, w = image.shape[:2]
    if h == w:
        return image
    extra = abs(h - w)
    before, after = extra // 2, extra - extra // 2
    pads = ((before, after), (0, 0), (0, 0)) if h < w else ((0, 0), (before, after), (0, 0))
    return np.pad(image, pads, mode="reflect")


def _turn(angle: float) -> np.ndarray:
    """``(2,2)``: a turn by ``angle`` radians in image coordinates (y down: clockwise on screen)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


@dataclass(frozen=True)
class Pose:
    """A followed face's crop at sub-pixel precision: the square of side ``side`` (input pixels)
    centred at (``cx``, ``cy``) and turned by ``angle`` radians with the face, cut by an affine
    warp instead of whole-pixel slicing, so it moves, scales and turns smoothly with the face.
    Coordinates are continuous (pixel ``x`` covers ``[x, x+1)``). ``track``: which followed face
    it is (a face found anew, after a loss or a cut, gets a new number). ``carry``: ``(2,3)``,
    where a point of the previous frame's crop of this face is in this one, in crop units
    (``[0,1]`` across the crop), from the face's measured motion (None: where it was: the crop
    moved as the face did)."""

    track: int
    cx: float
    cy: float
    side: float
    angle: float = 0.0
    carry: np.ndarray | None = field(default=None, compare=False)

    def to_unit(self) -> np.ndarray:
        """``(3,3)``: continuous input coordinates -> crop units ``[0,1]``."""
        inverse = _turn(-self.angle) / self.side
        out = np.eye(3)
        out[:2, :2] = inverse
        out[:2, 2] = 0.5 - inverse @ [self.cx, self.cy]
        return out

    def matrix(self, size: int) -> np.ndarray:
        """``(2,3)`` float64: input pixel (x, y) -> pixel of the ``(size,size)`` cut, pixel centres
        at whole numbers (as ``cv2.resize`` places them)."""
        return (_pixels(size) @ self.to_unit() @ _pixels(1, inverse=True))[:2]

    def carry_matrix(self, size: int) -> np.ndarray | None:
        """``carry`` in pixels of a ``(size,size)`` cut (None: where it was)."""
        if self.carry is None:
            return None
        unit = np.vstack([self.carry, [0.0, 0.0, 1.0]])
        return (_pixels(size) @ unit @ _pixels(size, inverse=True))[:2]

    def bounds(self) -> tuple[int, int, int, int]:
        """The whole-pixel box ``(x0, y0, x1, y1)`` holding the crop (a pixel of margin)."""
        half = self.side / 2 * (abs(np.cos(self.angle)) + abs(np.sin(self.angle)))
        return (int(np.floor(self.cx - half)) - 1, int(np.floor(self.cy - half)) - 1,
                int(np.ceil(self.cx + half)) + 1, int(np.ceil(self.cy + half)) + 1)

    def to_cut(self, points: np.ndarray, size: int) -> np.ndarray:
        """``(N,2)`` input points -> points of the ``(size,size)`` cut (continuous, as ``Region.to_cut``)."""
        unit = self.to_unit()
        return (np.asarray(points, np.float64) @ unit[:2, :2].T + unit[:2, 2]) * size

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """The crop of ``image`` (``(H,W,3)`` uint8, or ``(H,W)`` float32) as ``(size,size[,3])``,
        bilinear, mirrored past the image's edges. Shrinking by more than 1x it is first blurred
        (about the averaging ``cv2.INTER_AREA`` does to the training crops)."""
        x0, y0, x1, y1 = self.bounds()
        shrink = self.side / size
        pad = int(np.ceil(shrink)) + 1 if shrink > 1 else 0
        local = Region(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad).pixels(image)
        if shrink > 1:
            local = cv2.GaussianBlur(local, (0, 0), 0.5 * np.sqrt(shrink ** 2 - 1))
        m = self.matrix(size)
        m[:, 2] += m[:, :2] @ [x0 - pad, y0 - pad]
        return cv2.warpAffine(local, m, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT_101)


def _pixels(size: int, inverse: bool = False) -> np.ndarray:
    """``(3,3)``: continuous units (``[0,1]`` across, or input coordinates with ``size`` 1) ->
    pixel indices of a ``(size,size)`` image, pixel centres at whole numbers (or back)."""
    if inverse:
        return np.array([[1 / size, 0, 0.5 / size], [0, 1 / size, 0.5 / size], [0, 0, 1.0]])
    return np.array([[size, 0, -0.5], [0, size, -0.5], [0, 0, 1.0]])


@dataclass(frozen=True)
class Region:
    """One cut of an input image: a face's square crop, or the whole image.

    ``x0, y0, width, height``: pixels of the input; a face crop is square and may reach past
    the image's edges (mirrored there), the whole image is its own region. ``box``: the
    face's detection box (left, top, right, bottom), for drawing; ``zone``: ``(N,2)``
    polygon in input pixels outside which a face mask cannot be (``mask_zone``). ``pose``: on
    a video with temporal stabilisation, the followed face's sub-pixel crop, which ``cut`` and
    ``to_cut`` then use (the whole-pixel square above is its nearest, for drawing and pasting).
    """

    x0: int
    y0: int
    width: int
    height: int
    box: Box | None = None
    zone: np.ndarray | None = None
    pose: Pose | None = None

    @property
    def is_face(self) -> bool:
        return self.box is not None

    @classmethod
    def whole(cls, image: np.ndarray) -> Region:
        return cls(0, 0, image.shape[1], image.shape[0])

    @classmethod
    def around(cls, face: Face) -> Region:
        """The square crop ``crop_box`` gives for ``face``'s landmarks."""
        return cls.square(*crop_box(face.landmarks), face.box, mask_zone(face.landmarks))

    @classmethod
    def square(cls, cx: float, cy: float, side: float, box: Box | None = None,
               zone: np.ndarray | None = None) -> Region:
        """The whole-pixel square of about ``side`` centred at about (cx, cy)."""
        n = max(1, int(round(side)))
        return cls(int(round(cx - n / 2)), int(round(cy - n / 2)), n, n, box, zone)

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.x0 + self.width / 2, self.y0 + self.height / 2])

    def to_cut(self, points: np.ndarray, size: int) -> np.ndarray:
        """``(N,2)`` input pixels -> pixels of this region resized to ``size`` (``cut``)."""
        if self.pose is not None:
            return self.pose.to_cut(points, size)
        return (np.asarray(points, np.float64) - [self.x0, self.y0]) * (size / self.width)

    def pixels(self, image: np.ndarray) -> np.ndarray:
        """This region of ``image`` (``(H,W,3)``, or ``(H,W)`` for a mask) at the input's
        resolution, mirrored where it leaves the image."""
        h, w = image.shape[:2]
        x1, y1 = self.x0 + self.width, self.y0 + self.height
        inner = image[max(self.y0, 0):min(y1, h), max(self.x0, 0):min(x1, w)]
        if inner.size == 0:
            raise ValueError("crop lies entirely outside the image")
        pads = ((max(0, -self.y0), max(0, y1 - h)), (max(0, -self.x0), max(0, x1 - w)), (0, 0))[: image.ndim]
        crop = np.pad(inner, pads, mode="reflect") if any(p for pair in pads[:2] for p in pair) else inner
        return np.ascontiguousarray(crop)

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """This region of ``image`` as ``(size,size,3)`` uint8, resized as the training data was."""
        if self.pose is not None:
            return self.pose.cut(image, size)
        return resize_image(self.pixels(image), size)

    def cut_mask(self, mask: np.ndarray, size: int) -> np.ndarray:
        """This region of an ``(H,W)`` bool mask as ``(size,size)`` bool (averaged, then one half)."""
        if self.pose is not None:
            return self.pose.cut(mask.astype(np.float32), size) > 0.5
        return resize_mask(self.pixels(mask), size)

    def visible(self, shape: tuple[int, ...]) -> tuple[tuple[int, int, int, int], tuple[slice, slice]] | None:
        """The part of this region inside an image of ``shape``: ``((top, bottom, left, right)
        in the image, (rows, cols) slices of the region)``, or None when nothing of it is inside."""
        height, width = shape[:2]
        left, top = max(self.x0, 0), max(self.y0, 0)
        right, bottom = min(self.x0 + self.width, width), min(self.y0 + self.height, height)
        if left >= right or top >= bottom:
            return None
        return (top, bottom, left, right), (slice(top - self.y0, bottom - self.y0),
                                            slice(left - self.x0, right - self.x0))

    def lower_face(self, size: int) -> np.ndarray | None:
        """``(size,size)`` bool: the pixels of ``cut`` inside the mask zone (None: no limit)."""
        if self.zone is None:
            return None
        canvas = np.zeros((size, size), np.uint8)
        cv2.fillPoly(canvas, [np.round(self.to_cut(self.zone, size)).astype(np.int32)], 1)
        return canvas.astype(bool)
