"""Moving-camera clips with known motion, made from still frames.

A still frame (``(S,S,3)`` RGB; its masked version, its clean version and its true mask alike)
is placed into a wide canvas by a known similarity transform per frame (scale, angle,
translation: a 2x3 matrix from still-frame pixels to canvas pixels) over a photo without
people. Since every transform is kept, each frame of any output made from the clip can be
warped back into the still frame's coordinates and compared there, pixel for pixel.

Kinds (``KINDS``): ``drift_zoom`` (smooth translation and scale), ``rotation`` (a small
rocking rotation with a slow drift), ``still_face`` (the face does not move, the background
around the still frame pans) and ``cut`` (two different still frames at two places, the shot
changing halfway).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from demos.scenes import background

CANVAS = (1280, 720)  # width, height
KINDS = ("drift_zoom", "rotation", "still_face", "cut")
PAN_PIXELS = 6  # background pan per frame in the still_face clip


def similarity(scale: float, angle_deg: float, anchor: tuple[float, float],
               to: tuple[float, float]) -> np.ndarray:
    """The ``(2,3)`` float64 matrix that scales by ``scale``, turns by ``angle_deg``
    (counter-clockwise on screen) about ``anchor`` (still-frame pixels) and puts it at ``to``
    (canvas pixels)."""
    theta = np.deg2rad(angle_deg)
    a, b = scale * np.cos(theta), -scale * np.sin(theta)  # image y points down
    linear = np.array([[a, -b], [b, a]])
    return np.hstack([linear, (np.asarray(to, float) - linear @ np.asarray(anchor, float))[:, None]])


def map_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N,2)`` x, y points through a ``(2,3)`` affine matrix."""
    return np.asarray(points, float) @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse ``(2,3)`` affine matrix (canvas pixels -> still-frame pixels)."""
    return cv2.invertAffineTransform(matrix)


@dataclass(frozen=True)
class Still:
    """One source frame: masked, clean (``(S,S,3)`` uint8 RGB) and true mask (``(S,S)`` bool)."""

    name: str
    masked: np.ndarray
    clean: np.ndarray
    mask: np.ndarray

    @property
    def anchor(self) -> tuple[float, float]:
        """The mask's centre, x, y in still-frame pixels."""
        ys, xs = np.nonzero(self.mask)
        return float(xs.mean()), float(ys.mean())


@dataclass
class Clip:
    """Per frame: which still (an index into ``stills``), its still -> canvas matrix, and how
    far the background has panned (pixels). ``cuts``: frames that start a new shot."""

    kind: str
    stills: list[Still]
    source: list[int] = field(default_factory=list)
    matrices: list[np.ndarray] = field(default_factory=list)
    pan: list[int] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    canvas: tuple[int, int] = CANVAS  # width, height

    def __len__(self) -> int:
        return len(self.matrices)

    def segments(self) -> list[range]:
        """Frame ranges of the shots (split at ``cuts``)."""
        edges = [0, *self.cuts, len(self)]
        return [range(a, b) for a, b in zip(edges, edges[1:]) if b > a]

    def frame(self, t: int, layer: str) -> np.ndarray:
        """Frame ``t`` of ``layer``: ``masked`` / ``clean`` ((H,W,3) uint8 over the background)
        or ``mask`` ((H,W) bool, nothing elsewhere)."""
        still = self.stills[self.source[t]]
        width, height = self.canvas
        if layer == "mask":
            placed = cv2.warpAffine(still.mask.astype(np.float32), self.matrices[t], self.canvas,
                                    flags=cv2.INTER_LINEAR)
            return placed > 0.5
        canvas = _backdrop(width + max(self.pan, default=0), height)
        canvas = canvas[:, self.pan[t]:self.pan[t] + width].copy()  # warped onto: never the cached one
        image = still.masked if layer == "masked" else still.clean
        return cv2.warpAffine(image, self.matrices[t], self.canvas, dst=canvas, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_TRANSPARENT)

    def frames(self, layer: str) -> Iterator[np.ndarray]:
        return (self.frame(t, layer) for t in range(len(self)))

    def to_still(self, t: int, image: np.ndarray, nearest: bool = False) -> np.ndarray:
        """A canvas-sized frame ``t`` (output of anything run on the clip) warped back into
        its still frame's pixels (``(S,S,...)``, same dtype)."""
        side = self.stills[self.source[t]].mask.shape[0]
        flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
        return cv2.warpAffine(image, self.matrices[t], (side, side), flags=flags)


_BACKDROPS: dict[tuple[int, int], np.ndarray] = {}


def _backdrop(width: int, height: int) -> np.ndarray:
    if (width, height) not in _BACKDROPS:
        _BACKDROPS[(width, height)] = background(0, (width, height))
    return _BACKDROPS[(width, height)]


def _ramp(count: int, start: float, stop: float) -> np.ndarray:
    """``count`` values from ``start`` to ``stop``, eased so the motion starts and stops smoothly."""
    u = np.linspace(0.0, 1.0, count)
    return start + (stop - start) * (3 * u ** 2 - 2 * u ** 3)


def make_clip(kind: str, stills: list[Still], count: int, face_scale: float = 0.6,
              canvas: tuple[int, int] = CANVAS) -> Clip:
    """A clip of ``count`` frames of ``canvas`` (width, height) pixels; ``face_scale`` is the
    still frame's scale in the canvas (the fixtures' faces are about 130 px wide in their 512 px
    frames, so 0.4-0.75 gives faces of about 50-100 px, whatever the canvas). ``cut`` uses the
    first two stills, every other kind the first."""
    width, height = canvas
    clip = Clip(kind, stills[:2] if kind == "cut" else stills[:1], canvas=canvas)
    n = np.arange(count)
    zeros = np.zeros(count)
    if kind == "drift_zoom":
        scale, angle = _ramp(count, 0.75 * face_scale, 1.2 * face_scale), zeros
        x, y = _ramp(count, 0.3 * width, 0.7 * width), _ramp(count, 0.45 * height, 0.55 * height)
    elif kind == "rotation":
        scale, angle = np.full(count, face_scale), 6.0 * np.sin(2 * np.pi * n / max(count, 2))
        x, y = _ramp(count, 0.45 * width, 0.55 * width), np.full(count, 0.5 * height)
    elif kind == "still_face":
        scale, angle = np.full(count, face_scale), zeros
        x, y = np.full(count, 0.5 * width), np.full(count, 0.5 * height)
    elif kind == "cut":
        half = count // 2
        scale = np.where(n < half, 0.9 * face_scale, 1.1 * face_scale)
        angle = zeros
        x = np.where(n < half, _ramp(count, 0.3, 0.4) * width, _ramp(count, 0.6, 0.7) * width)
        y = np.where(n < half, 0.45 * height, 0.55 * height)
        clip.cuts = [half]
    else:
        raise ValueError(f"unknown clip kind {kind!r}; one of {', '.join(KINDS)}")
    clip.source = [int(kind == "cut" and t >= count // 2) for t in range(count)]
    clip.matrices = [similarity(float(s), float(a), clip.stills[i].anchor, (float(px), float(py)))
                     for s, a, px, py, i in zip(scale, angle, x, y, clip.source)]
    clip.pan = [PAN_PIXELS * t if kind == "still_face" else 0 for t in range(count)]
    return clip
