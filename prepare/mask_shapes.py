"""The five mask designs, drawn procedurally on the canvas of ``prepare.mask_canvas``.

Each design is a set of outlines and details in mask units. A painter returns the canvas
alpha (bool, True = mask material, including ear loops and straps) and the canvas colours
(float RGB in [0,1], before the face's lighting).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from prepare.mask_canvas import (
    Canvas,
    Color,
    Painted,
    bezier,
    outline,
    paint,
    turned_shading,
    with_ear_loops,
)


def surgical(canvas: Canvas, albedo: np.ndarray, base: Color) -> Painted:
    """Three-ply pleated mask: three horizontal pleats, hems, nose wire, thin ear loops."""
    half = 1.04
    far = canvas.far_side
    # The far side reaches only to the face outline; the near side wraps a bit beyond.
    half_l = half - (0.06 if far == -1 else 0)
    half_r = half - (0.06 if far == 1 else 0)

    def top(u):
        return -0.05 + 0.28 * np.abs(u) ** 1.4

    def bottom(u):
        return 1.07 - 0.47 * np.abs(u) ** 2.0

    def serration(t):  # the pleats make the side edge step out a little at each fold
        return 0.022 * ((t * 5) % 1.0) * ((t > 0.2) & (t < 0.8))

    body_poly = outline(top, bottom, half, serration)
    body_poly[:, 0] = np.where(body_poly[:, 0] < 0, body_poly[:, 0] * half_l / half,
                               body_poly[:, 0] * half_r / half)
    body = canvas.fill(body_poly)
    u, v = canvas.u, canvas.v
    t = (v - top(u)) / np.maximum(bottom(u) - top(u), 1e-3)  # 0 at the top hem, 1 at the bottom
    shade = np.ones(canvas.shape, np.float32)
    for fold in (0.3, 0.5, 0.7):
        below = t - fold
        shade -= 0.2 * np.exp(-np.clip(below, 0, None) / 0.035) * (below > 0)  # shadow under a fold
        shade += 0.07 * ((below > -0.05) & (below <= 0))  # the fold's lit ridge
    hem = (t < 0.08) | (t > 0.92) | (np.abs(u) > np.where(u < 0, half_l, half_r) - 0.07)
    shade[hem] *= 0.93
    stitch = (np.abs(t - 0.07) < 0.006) | (np.abs(t - 0.93) < 0.006)
    shade[stitch & ((u * canvas.px_per_unit / 3).astype(int) % 2 == 0)] *= 0.85
    shade *= 1.0 - 0.12 * u**2  # the mask curves away round the cheeks
    shade *= turned_shading(canvas)
    rgb = albedo * shade[..., None]
    nose_wire = (np.abs(u) < 0.3) & (t > 0.015) & (t < 0.055) & body
    rgb[nose_wire] = rgb[nose_wire] * 1.06 + 0.03
    return with_ear_loops(canvas, rgb, body, (half, top(half), bottom(half)), 0.022, (0.94, 0.94, 0.92))


def n95(canvas: Canvas, albedo: np.ndarray, base: Color) -> Painted:
    """Moulded cup respirator: dome shading, rolled rim, nose clip, two head straps."""
    u, v = canvas.u, canvas.v
    rx, cy = 1.06, 0.5
    ry = np.where(v < cy, 0.56, 0.58)
    r = ((np.abs(u) / rx) ** 2.2 + (np.abs(v - cy) / ry) ** 2.2) ** (1 / 2.2)
    body = r <= 1.0
    depth = canvas.depth_inside(body)
    shade = 0.8 + 0.24 * np.sqrt(np.clip(1 - r**2, 0, 1))
    shade[depth < 0.05] *= 0.88  # rolled edge
    shade *= turned_shading(canvas)
    rgb = albedo * shade[..., None]
    clip = (np.abs(u) < 0.32) & (v > -0.02) & (v < 0.05) & body
    paint(rgb, clip, (0.74, 0.75, 0.78))
    alpha = body.copy()
    for side in (-1, 1):
        if canvas.hidden(side):
            continue
        # Head straps leave the cup's sides and pass the ears, above and below them.
        for v0, bend, v1 in ((0.2, 0.02, -0.02), (0.8, 0.85, 0.78)):
            x0 = side * 0.93
            curve = bezier((x0, v0), (x0 + side * 0.22, bend), (x0 + side * 0.4, v1))
            strap = canvas.stroke(curve, 0.05) & ~body
            paint(rgb, strap, (0.93, 0.87, 0.58))
            alpha |= strap
    return Painted(alpha, np.clip(rgb, 0, 1))


def kn95(canvas: Canvas, albedo: np.ndarray, base: Color) -> Painted:
    """Flat-folded respirator: pointed at nose and chin, centre fold, welded dotted border."""
    half = 1.0

    def top(u):
        return -0.08 + 0.3 * np.abs(u)

    def bottom(u):
        return 1.12 - 0.55 * np.abs(u) ** 1.25

    body = canvas.fill(outline(top, bottom, half))
    u, v = canvas.u, canvas.v
    depth = canvas.depth_inside(body)
    shade = np.where(u < 0, 1.0, 0.9).astype(np.float32) - 0.08 * np.abs(u)  # two planes at the fold
    if canvas.far_side:
        shade = np.where(u * canvas.far_side > 0, shade * 0.85, shade)
    weld = (depth > 0.03) & (depth < 0.06)
    dotted = ((np.floor(u / 0.022) + np.floor(v / 0.022)) % 2) == 0
    shade[weld & dotted] *= 0.84
    fold = np.abs(u) < 0.008
    shade[fold] *= 0.72
    rgb = albedo * shade[..., None]
    return with_ear_loops(canvas, rgb, body, (half, top(half), bottom(half)), 0.02, (0.95, 0.95, 0.95))


def cloth(canvas: Canvas, albedo: np.ndarray, base: Color) -> Painted:
    """Contoured fabric mask: rounded outline, centre seam, stitched hem, fabric loops."""
    half = 1.05

    def top(u):
        return -0.06 + 0.3 * u**2

    def bottom(u):
        return 1.1 - 0.47 * u**2

    body = canvas.fill(outline(top, bottom, half))
    radius = max(1, int(0.08 * canvas.px_per_unit))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    body = cv2.morphologyEx(body.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0  # round the corners
    u, v = canvas.u, canvas.v
    depth = canvas.depth_inside(body)
    shade = (1.0 - 0.2 * u**2) * turned_shading(canvas)
    shade[depth < 0.04] *= 0.9
    stitch = (np.abs(depth - 0.06) < 0.006) & (((u + v) * canvas.px_per_unit / 4).astype(int) % 2 == 0)
    shade[stitch] *= 0.8
    seam_u = 0.04 * np.sin(np.pi * np.clip(v, 0, 1))  # the seam follows the nose-chin curve
    shade[np.abs(u - seam_u) < 0.01] *= 0.7
    rgb = albedo * shade[..., None]
    corners = (half - 0.04, top(half) + 0.04, bottom(half) - 0.04)
    return with_ear_loops(canvas, rgb, body, corners, 0.035, np.clip(np.asarray(base) * 0.8, 0, 1))


def gas(canvas: Canvas, albedo: np.ndarray, base: Color) -> Painted:
    """Half-face respirator: rubber face piece, two round filter cartridges, valve, straps."""
    u, v = canvas.u, canvas.v
    piece_poly = np.array([[0, -0.14], [0.3, -0.1], [0.62, 0.2], [0.8, 0.55], [0.62, 0.92], [0.3, 1.1],
                           [0, 1.15], [-0.3, 1.1], [-0.62, 0.92], [-0.8, 0.55], [-0.62, 0.2], [-0.3, -0.1]])
    piece = canvas.fill(piece_poly).astype(np.float32)
    piece = cv2.GaussianBlur(piece, (0, 0), 0.06 * canvas.px_per_unit) > 0.5  # soft, moulded corners
    highlight = np.exp(-((u + 0.25) ** 2 + (v - 0.35) ** 2) / 0.06)
    rgb = albedo * (turned_shading(canvas) * (0.9 + 0.1 * (1 - u**2)))[..., None]
    rgb += 0.16 * highlight[..., None]
    alpha = piece.copy()
    for side in (-1, 1):
        if canvas.hidden(side):
            continue
        for v0, bend, v1 in ((0.15, -0.02, -0.08), (0.95, 1.02, 0.98)):
            x0 = side * 0.5
            curve = bezier((x0, v0), (x0 + side * 0.45, bend), (x0 + side * 0.8, v1))
            strap = canvas.stroke(curve, 0.08) & ~alpha
            paint(rgb, strap, (0.08, 0.08, 0.09))
            alpha |= strap
    for side in (-1, 1):
        cu, cv_ = side * 0.76, 0.7
        r = np.hypot(u - cu, v - cv_)
        cartridge = r < 0.29
        groove = 0.86 + 0.14 * np.cos(2 * np.pi * r / 0.06)
        ring = np.where(r > 0.25, 0.7, np.where(r < 0.08, 1.15, groove))
        lit = 1.0 - 0.25 * np.clip((u - cu) * side, 0, None) / 0.29  # rounded side in shadow
        color = np.array([0.34, 0.35, 0.33], np.float32)
        rgb[cartridge] = color * (ring * lit)[cartridge, None]
        alpha |= cartridge
    r = np.hypot(u, v - 0.86)
    valve = r < 0.17
    slots = np.where(np.sin(2 * np.pi * v / 0.045) > 0.3, 0.6, 1.0) * (r < 0.13) + (r >= 0.13)
    rgb[valve] = (np.array([0.12, 0.12, 0.13], np.float32) * (slots * 1.0)[valve, None] + 0.02)
    alpha |= valve
    return Painted(alpha, np.clip(rgb, 0, 1))


PAINTERS: dict[str, Callable[[Canvas, np.ndarray, Color], Painted]] = {
    "surgical": surgical, "N95": n95, "KN95": kn95, "cloth": cloth, "gas": gas}
