"""The flat canvas masks are designed on, in "mask units", and the drawing parts the designs share.

Mask units put the six face key points (see ``prepare.masks.key_points``) of an average
frontal face at ``TEMPLATE_KEY_POINTS``: the nose bridge at (0, 0), the chin at (0, 1),
the cheek sides at nose height at u = -1 and +1. ``prepare.masks`` warps the canvas onto a
real face with a homography fitted to the six points. u < 0 is the side of landmark 0
(image left on an upright face), v grows downwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

# Mean positions of the key points over frontal CelebA-HQ faces, in mask units, made
# left/right symmetric. Order: a, b, c, d, e, f (see prepare.masks.key_points).
TEMPLATE_KEY_POINTS = np.array([[-1.0, 0.24], [0.0, 0.0], [1.0, 0.24],
                                [0.91, 0.52], [0.0, 1.0], [-0.91, 0.52]])

# Canvas extent in template units: wide enough for ear loops, straps and gas filters.
U_RANGE = (-1.8, 1.8)
V_RANGE = (-0.45, 1.45)

Color = np.ndarray  # (3,) float RGB in [0,1]


@dataclass
class Canvas:
    """A raster over the template rectangle ``U_RANGE x V_RANGE``.

    Designs are drawn in *design units* (``u``, ``v``: ``(H,W)`` float32 design coordinates
    of each pixel's centre). For a turned head the template is the design with its
    centre line moved to ``center`` (the far half squeezed, the near half stretched, both
    cheek sides staying at -1 and +1), so that the homography onto the face stays close to
    affine instead of blowing up the near side: this is the left/right variant.
    ``far_side``: -1 when the u < 0 half faces away from the camera, +1 for the u > 0
    half, 0 for a frontal face.
    """

    px_per_unit: float
    u: np.ndarray
    v: np.ndarray
    far_side: int = 0
    center: float = 0.0

    @classmethod
    def create(cls, px_per_unit: float, far_side: int = 0, center: float = 0.0) -> Canvas:
        w = int(round((U_RANGE[1] - U_RANGE[0]) * px_per_unit))
        h = int(round((V_RANGE[1] - V_RANGE[0]) * px_per_unit))
        template_u = U_RANGE[0] + (np.arange(w, dtype=np.float32) + 0.5) / px_per_unit
        ys = V_RANGE[0] + (np.arange(h, dtype=np.float32) + 0.5) / px_per_unit
        design_u = np.where(template_u < center, (template_u - center) / (1 + center),
                            (template_u - center) / (1 - center)).astype(np.float32)
        u, v = np.meshgrid(design_u, ys)
        return cls(px_per_unit, u, v, far_side, center)

    def to_template(self, points: np.ndarray) -> np.ndarray:
        """``(N,2)`` design units -> template units (moves the centre line to ``center``)."""
        points = np.array(points, dtype=np.float64)
        u = points[:, 0]
        points[:, 0] = self.center + u * np.where(u < 0, 1 + self.center, 1 - self.center)
        return points

    @property
    def shape(self) -> tuple[int, int]:
        return self.u.shape

    def to_px(self, points: np.ndarray) -> np.ndarray:
        """``(N,2)`` design units -> ``(N,2)`` canvas pixel coordinates (float)."""
        return (self.to_template(points) - [U_RANGE[0], V_RANGE[0]]) * self.px_per_unit

    def fill(self, polygon: np.ndarray) -> np.ndarray:
        """``(N,2)`` design-unit polygon -> ``(H,W)`` bool inside mask."""
        out = np.zeros(self.shape, np.uint8)
        pts = np.round(self.to_px(polygon) * 16).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(out, [pts], 255, lineType=cv2.LINE_8, shift=4)
        return out > 0

    def stroke(self, points: np.ndarray, width: float) -> np.ndarray:
        """An open ``(N,2)`` design-unit polyline ``width`` units wide -> ``(H,W)`` bool."""
        out = np.zeros(self.shape, np.uint8)
        pts = np.round(self.to_px(points) * 16).astype(np.int32)
        thickness = max(1, int(round(width * self.px_per_unit)))
        cv2.polylines(out, [pts], False, 255, thickness, lineType=cv2.LINE_AA, shift=4)
        return out > 127

    def depth_inside(self, inside: np.ndarray) -> np.ndarray:
        """Distance in (template) units from each inside pixel to the outline (0 outside)."""
        dist = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
        return dist / self.px_per_unit

    def hidden(self, side: int) -> bool:
        """True for details on the far side (``side`` -1 or +1): they are behind the head."""
        return self.far_side != 0 and side == self.far_side


def bezier(p0, p1, p2, n: int = 24) -> np.ndarray:
    """Points of the quadratic Bezier curve p0 -> p2 pulled towards p1, ``(n,2)``."""
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def outline(top: Callable, bottom: Callable, half_width: float, side: Callable | None = None,
            n: int = 48) -> np.ndarray:
    """A closed outline: ``top(u)`` left to right, the right side, ``bottom(u)`` back, the left side.

    ``side(t)`` (t in [0,1] from top to bottom corner) bulges the side edges outwards.
    """
    us = np.linspace(-half_width, half_width, n)
    top_edge = np.stack([us, top(us)], 1)
    bottom_edge = np.stack([us[::-1], bottom(us[::-1])], 1)
    t = np.linspace(0, 1, n)[1:-1]
    bulge = side(t) if side is not None else np.zeros_like(t)
    y0, y1 = top(np.array([half_width]))[0], bottom(np.array([half_width]))[0]
    right = np.stack([half_width + bulge, y0 + t * (y1 - y0)], 1)
    left = np.stack([-half_width - bulge[::-1], y1 + t * (y0 - y1)], 1)
    return np.concatenate([top_edge, right, bottom_edge, left])


def ear_loops(canvas: Canvas, half_width: float, top_v: float, bottom_v: float, width: float,
              reach: float = 0.42) -> list[tuple[np.ndarray, int]]:
    """The elastic loops from the mask's side corners towards the ears, one per visible side.

    Returns ``(stroke bool map, side)`` pairs.
    """
    loops = []
    for side in (-1, 1):
        if canvas.hidden(side):
            continue
        x = side * half_width
        curve = bezier((x, top_v + 0.02), (x + side * reach * 1.3, (top_v + bottom_v) / 2 - 0.18),
                       (x, bottom_v - 0.02))
        loops.append((canvas.stroke(curve, width), side))
    return loops


def turned_shading(canvas: Canvas, amount: float = 0.14) -> np.ndarray:
    """``(H,W)`` brightness factor: the far side of a turned head catches less light."""
    if canvas.far_side == 0:
        return np.ones(canvas.shape, np.float32)
    return 1.0 - amount * np.clip(canvas.u * canvas.far_side, 0, 1.2)


@dataclass
class Painted:
    """A painter's result on the canvas."""

    alpha: np.ndarray  # (H,W) bool, mask material (body, loops, straps)
    rgb: np.ndarray  # (H,W,3) float32 in [0,1]


def paint(rgb: np.ndarray, where: np.ndarray, color) -> None:
    """Set the ``(H,W,3)`` canvas colours to ``color`` where the bool map ``where`` is True."""
    rgb[where] = np.asarray(color, dtype=np.float32)


def with_ear_loops(canvas: Canvas, rgb: np.ndarray, body: np.ndarray, corners: tuple[float, float, float],
                   width: float, color) -> Painted:
    """A mask ``body`` (bool canvas map) painted ``rgb``, with ear loops of ``color`` from its
    side corners (half width, top and bottom v) towards the ears."""
    alpha = body.copy()
    for loop, _ in ear_loops(canvas, *corners, width):
        paint(rgb, loop & ~body, color)
        alpha |= loop
    return Painted(alpha, np.clip(rgb, 0, 1))
