"""Procedural textures for synthetic face masks: printed patterns and fabric grain.

Every function works on the mask's own canvas: ``u`` and ``v`` are ``(H,W)`` float
arrays holding each canvas pixel's position in mask units (see ``prepare.masks``), so a
pattern is printed on the mask and follows it through the warp onto the face. Patterns
return a coverage map in [0,1] (1 = the accent colour); nothing here is a stored image.
"""

from __future__ import annotations

import cv2
import numpy as np

PATTERNS = ("checks", "stripes", "dots", "floral")


def checks(u: np.ndarray, v: np.ndarray, period: float = 0.22) -> np.ndarray:
    """Gingham-like checks: full accent where both bands cross, half where one does."""
    band_u = (np.floor(u / period) % 2).astype(np.float32)
    band_v = (np.floor(v / period) % 2).astype(np.float32)
    return 0.5 * (band_u + band_v)


def stripes(u: np.ndarray, v: np.ndarray, period: float = 0.16, angle_deg: float = 35.0) -> np.ndarray:
    """Diagonal stripes, accent on half of each period."""
    theta = np.deg2rad(angle_deg)
    along = u * np.cos(theta) + v * np.sin(theta)
    return ((along / period) % 1.0 < 0.5).astype(np.float32)


def dots(u: np.ndarray, v: np.ndarray, period: float = 0.18, radius: float = 0.045) -> np.ndarray:
    """Polka dots on a lattice whose every other row is shifted by half a period."""
    row = np.floor(v / period)
    shifted_u = u + 0.5 * period * (row % 2)
    du = (shifted_u / period) % 1.0 - 0.5
    dv = (v / period) % 1.0 - 0.5
    return (np.hypot(du, dv) * period < radius).astype(np.float32)


def floral(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, period: float = 0.3) -> np.ndarray:
    """Five-petal flowers, one per lattice cell, each with its own offset, size and turn.

    Returns 1 on petals and 0.5 on the flower hearts (drawn in a second accent shade).
    """
    cell_u, cell_v = np.floor(u / period), np.floor(v / period)
    # Per-cell random parameters come from small tables indexed by the cell number, so
    # the whole canvas is drawn at once without a loop over flowers.
    n = 64
    table = rng.random((4, n, n)).astype(np.float32)
    iu, iv = (cell_u.astype(np.int64) % n), (cell_v.astype(np.int64) % n)
    jitter_u, jitter_v = (table[0][iv, iu] - 0.5) * 0.35, (table[1][iv, iu] - 0.5) * 0.35
    size = (0.28 + 0.14 * table[2][iv, iu]) * period
    turn = table[3][iv, iu] * 2 * np.pi
    du = (u / period - cell_u - 0.5 - jitter_u) * period
    dv = (v / period - cell_v - 0.5 - jitter_v) * period
    r = np.hypot(du, dv)
    angle = np.arctan2(dv, du) + turn
    petal_edge = size * (0.45 + 0.55 * np.abs(np.cos(2.5 * angle)))
    out = (r < petal_edge).astype(np.float32)
    out[r < 0.28 * size] = 0.5
    return out


def pattern(name: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The coverage map of pattern ``name`` (one of ``PATTERNS``) on the canvas."""
    if name == "checks":
        return checks(u, v)
    if name == "stripes":
        return stripes(u, v, angle_deg=float(rng.choice([0.0, 35.0, 90.0, -35.0])))
    if name == "dots":
        return dots(u, v)
    if name == "floral":
        return floral(u, v, rng)
    raise ValueError(f"unknown texture {name!r}; choose from {', '.join(PATTERNS)}")


def accent_color(base: np.ndarray) -> np.ndarray:
    """A colour that reads well on ``base`` (RGB in [0,1]): light on dark, dark on light."""
    luma = float(base @ np.array([0.299, 0.587, 0.114]))
    return np.array([0.96, 0.95, 0.92]) if luma < 0.55 else np.clip(base * 0.35 + [0.1, 0.05, 0.2], 0, 1)


def low_pass(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D float32 field with a large ``sigma`` (pixels), computed at a
    reduced resolution (the result has no detail finer than sigma anyway)."""
    h, w = field.shape[:2]
    factor = max(1, int(sigma // 4))
    if factor == 1:
        return cv2.GaussianBlur(field, (0, 0), sigma)
    small = cv2.resize(field, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """``(H,W)`` float32 Gaussian noise smoothed over ``sigma`` pixels, unit standard deviation."""
    factor = max(1, int(sigma // 4))
    h, w = shape
    small = rng.standard_normal((max(1, h // factor) + 1, max(1, w // factor) + 1)).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), max(sigma / factor, 0.5))
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return field / (field.std() + 1e-6)


def fabric_grain(shape: tuple[int, int], rng: np.random.Generator, px_per_unit: float,
                 strength: float) -> np.ndarray:
    """Multiplicative ``(H,W)`` grain around 1: fine weave lines plus soft blotches.

    ``strength`` is the relative amplitude (0.03 = +-3 %); the weave period is tied to
    the canvas scale so it looks the same at every output size.
    """
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(2.0, 0.02 * px_per_unit)
    weave = 0.5 * (np.sin(2 * np.pi * x / period) * np.sin(2 * np.pi * y / period))
    blotch = smooth_noise((h, w), rng, 0.06 * px_per_unit)
    return 1.0 + strength * (0.6 * weave + 0.4 * np.clip(blotch, -2.5, 2.5) / 2.5)
