"""Synthetic face masks drawn onto real faces, MaskTheFace's method with our own drawings.

1. Six key points come from dlib's 68 landmarks (``key_points``).
2. The chosen design (``prepare.mask_shapes``) is painted on a flat canvas in mask units
   (``prepare.mask_canvas``), with optional colour and a procedural texture from
   ``prepare.mask_textures``.
3. A homography fitted to the six point pairs warps the canvas onto the face; the head's
   turn picks the left, front or right variant (far-side loops hidden, far side darker).
4. The mask takes the face's brightness and lighting direction.

The binary mask returned is exactly the set of pixels that were painted: outside it the
masked image equals the input bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from prepare.mask_canvas import TEMPLATE_KEY_POINTS, Canvas, Painted
from prepare.mask_shapes import PAINTERS
from prepare.mask_textures import PATTERNS, accent_color, fabric_grain, low_pass, pattern

MASK_TYPES = tuple(PAINTERS)
TEXTURES = PATTERNS
VARIANTS = ("left", "front", "right")

# Default colours (RGB 0-255). Cloth masks draw one of CLOTH_COLORS per image.
DEFAULT_COLORS = {"surgical": (122, 176, 222), "N95": (236, 236, 230), "KN95": (240, 240, 240),
                  "gas": (44, 44, 47)}
CLOTH_COLORS = ((30, 40, 70), (25, 25, 28), (120, 120, 125), (150, 30, 40), (40, 90, 60),
                (200, 180, 150), (220, 150, 170), (235, 235, 235))
GRAIN = {"surgical": 0.03, "N95": 0.04, "KN95": 0.025, "cloth": 0.09, "gas": 0.02}

# How far (0..1 between the cheek points) the nose tip may sit off centre before the
# head counts as turned (far-side loops hidden, far side darker); 0.5 is a frontal face.
TURN_THRESHOLD = 0.12
# The template's centre line follows the nose up to this far from the middle (template
# units, cheeks at -1 and +1); beyond it the head is in profile and masks look wrong anyway.
MAX_CENTER_SHIFT = 0.6


class MaskFitError(ValueError):
    """The landmarks do not give a usable mask placement (degenerate or off the image)."""


@dataclass(frozen=True)
class MaskStyle:
    """What to draw. ``kind``: one of ``MASK_TYPES``; ``color``: RGB 0-255 or None for the
    type's default; ``texture``: one of ``TEXTURES`` or None for plain material."""

    kind: str = "surgical"
    color: tuple[int, int, int] | None = None
    texture: str | None = None


@dataclass
class DrawnMask:
    """``image``: ``(H,W,3)`` uint8 masked face; ``mask``: ``(H,W)`` bool painted pixels."""

    image: np.ndarray
    mask: np.ndarray
    kind: str
    variant: str
    color: tuple[int, int, int]
    texture: str | None


def parse_color(text: str) -> tuple[int, int, int]:
    """``"#7ab0de"`` or ``"7ab0de"`` -> (122, 176, 222); ValueError with a clear message."""
    hexpart = text.strip().lstrip("#")
    if len(hexpart) != 6 or any(c not in "0123456789abcdefABCDEF" for c in hexpart):
        raise ValueError(f"colour must be 6 hex digits like #7ab0de, got {text!r}")
    return tuple(int(hexpart[i:i + 2], 16) for i in (0, 2, 4))


def _jaw_crossing(jaw: np.ndarray, point: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Where the line through ``point`` across the face (perpendicular to ``down``) meets
    the jaw polyline ``(N,2)``; the nearest jaw point when it does not."""
    offset = (jaw - point) @ down  # signed distance of each jaw point along the face axis
    crossings = np.nonzero(np.sign(offset[:-1]) != np.sign(offset[1:]))[0]
    if crossings.size == 0:
        return jaw[np.argmin(np.abs(offset))]
    i = crossings[0]
    t = offset[i] / (offset[i] - offset[i + 1])
    return jaw[i] + t * (jaw[i + 1] - jaw[i])


def key_points(lm: np.ndarray) -> np.ndarray:
    """The six mask key points ``(6,2)`` (x, y) from the 68 dlib landmarks ``(68,2)``.

    Order: a = jaw side at nose-tip height on landmark 0's side, b = nose bridge
    (landmark 28), c = jaw side at nose-tip height on landmark 16's side, d = jaw at lip
    height on landmark 16's side, e = chin (landmark 8), f = jaw at lip height on
    landmark 0's side. "Height" is measured along the face's own axis (27 -> 8), so tilted
    heads work.
    """
    lm = np.asarray(lm, dtype=np.float64)
    down = lm[8] - lm[27]
    norm = np.linalg.norm(down)
    if not np.isfinite(norm) or norm < 1e-6:
        raise MaskFitError("degenerate landmarks (nose bridge and chin coincide)")
    down /= norm
    right_jaw = lm[8:17][::-1]  # from landmark 16 down to the chin, like lm[0:9]
    lips = (lm[48] + lm[54]) / 2
    a = _jaw_crossing(lm[0:9], lm[30], down)
    c = _jaw_crossing(right_jaw, lm[30], down)
    f = _jaw_crossing(lm[0:9], lips, down)
    d = _jaw_crossing(right_jaw, lips, down)
    return np.stack([a, lm[28], c, d, lm[8], f])


def head_turn(lm: np.ndarray) -> float:
    """Where the nose tip sits between the two cheek points: 0.5 frontal, < 0.5 nearer
    landmark 0's side (that side of the face is turned away from the camera)."""
    kp = key_points(lm)
    across = kp[2] - kp[0]
    return float((np.asarray(lm[30], dtype=np.float64) - kp[0]) @ across / max(across @ across, 1e-6))


def variant_for(turn: float) -> str:
    """"left" when landmark 0's side is turned away, "right" for the other side, else "front"."""
    if turn < 0.5 - TURN_THRESHOLD:
        return "left"
    if turn > 0.5 + TURN_THRESHOLD:
        return "right"
    return "front"


def _body_albedo(canvas: Canvas, kind: str, base: np.ndarray, texture: str | None,
                 rng: np.random.Generator) -> np.ndarray:
    """``(H,W,3)`` float32 material colour: base colour, printed pattern, fabric grain."""
    h, w = canvas.shape
    albedo = np.broadcast_to(base.astype(np.float32), (h, w, 3)).copy()
    if texture is not None:
        cover = pattern(texture, canvas.u, canvas.v, rng)[..., None]
        accent = accent_color(base).astype(np.float32)
        heart = np.array([0.95, 0.8, 0.25], np.float32)  # floral: the flower hearts
        albedo = np.where(cover == 0.5, heart, albedo * (1 - cover) + accent * cover) \
            if texture == "floral" else albedo * (1 - cover) + accent * cover
    grain = fabric_grain((h, w), rng, canvas.px_per_unit, GRAIN[kind])
    return albedo * grain[..., None]


def _canvas_scale(kp: np.ndarray) -> float:
    """Canvas pixels per mask unit: about 1.3 canvas pixels per image pixel of the mask."""
    half_width = np.linalg.norm(kp[2] - kp[0]) / 2
    return float(np.clip(1.3 * half_width, 24, 600))


def _match_lighting(face: np.ndarray, colors: np.ndarray, painted: np.ndarray, blur_px: float) -> np.ndarray:
    """Scale mask colours ``(h,w,3)`` [0,1] by the face's brightness and its smooth light field.

    Overall gain: square root of the face's mean luma over 0.55 (a normally lit face), so a
    dim photo gives a dim mask without making masks on darker skin black. Local factor:
    the face's heavily blurred luma relative to its mean under the mask, so the side of
    the face in shadow puts the mask in shadow too.
    """
    luma = face.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    mean = float(luma[painted].mean())
    gain = float(np.clip(np.sqrt(mean / 0.55), 0.5, 1.1))
    smooth = low_pass(luma, max(blur_px, 1.0))
    local = np.clip(smooth / max(float(smooth[painted].mean()), 1e-3), 0.7, 1.3) ** 0.6
    return np.clip(colors * (gain * local)[..., None], 0, 1)


def _is_gray(image: np.ndarray) -> bool:
    """True when all three channels are equal (a grayscale photo loaded as RGB)."""
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def _color_of(style: MaskStyle, rng: np.random.Generator) -> tuple[int, int, int]:
    """The style's colour, else its type's default (cloth: one of ``CLOTH_COLORS``)."""
    if style.color is not None:
        return tuple(style.color)
    if style.kind == "cloth":
        return CLOTH_COLORS[int(rng.integers(len(CLOTH_COLORS)))]
    return DEFAULT_COLORS[style.kind]


def _warp_onto(painted: Painted, canvas: Canvas, kp: np.ndarray,
               shape: tuple[int, ...]) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """The painted canvas warped onto the face's key points ``kp`` ``(6,2)`` in an image of
    ``shape``: the (rows, cols) it covers, ``(h,w)`` bool painted pixels and ``(h,w,3)``
    float colours there. MaskFitError when the warp is degenerate or misses the image."""
    homography, _ = cv2.findHomography(canvas.to_px(TEMPLATE_KEY_POINTS), kp, 0)
    if homography is None or not np.all(np.isfinite(homography)):
        raise MaskFitError("no homography fits the face key points")
    h, w = shape[:2]
    # Warp only into the mask's bounding box: the rest of a large photo is untouched anyway.
    ch, cw = canvas.shape
    corners = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float64)
    depth = np.c_[corners, np.ones(4)] @ homography[2]
    if np.any(depth <= 1e-9 * np.abs(depth).max()):
        # The canvas would cross the homography's horizon: landmarks of a profile or broken face.
        raise MaskFitError("the key points give a degenerate mask warp (head in profile?)")
    warped_corners = cv2.perspectiveTransform(corners[None], homography)[0]
    x0, y0 = np.floor(warped_corners.min(0)).astype(int)
    x1, y1 = np.ceil(warped_corners.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise MaskFitError("the mask falls outside the image")
    to_roi = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ homography
    size = (x1 - x0, y1 - y0)
    alpha = cv2.warpPerspective(painted.alpha.astype(np.float32), to_roi, size, flags=cv2.INTER_LINEAR)
    colors = cv2.warpPerspective(painted.rgb, to_roi, size, flags=cv2.INTER_LINEAR)
    if not (alpha >= 0.5).any():
        raise MaskFitError("the mask falls outside the image")
    return (slice(y0, y1), slice(x0, x1)), alpha >= 0.5, colors


def draw_mask(image: np.ndarray, lm: np.ndarray, style: MaskStyle, rng: np.random.Generator,
              variant: str | None = None) -> DrawnMask:
    """Draw a mask of ``style`` on the face with landmarks ``lm`` ``(68,2)`` in ``image``
    ``(H,W,3)`` uint8 RGB. ``variant`` overrides the one read from the head's turn.

    Returns a new image; ``image`` is not modified. Raises MaskFitError when the fitted
    mask is degenerate or falls outside the image.
    """
    if style.kind not in PAINTERS:
        raise ValueError(f"unknown mask type {style.kind!r}; choose from {', '.join(MASK_TYPES)}")
    kp = key_points(lm)
    turn = head_turn(lm)
    variant = variant or variant_for(turn)
    far_side = {"left": -1, "front": 0, "right": 1}[variant]
    center = float(np.clip(2 * turn - 1, -MAX_CENTER_SHIFT, MAX_CENTER_SHIFT))
    color = _color_of(style, rng)
    base = np.asarray(color, np.float64) / 255.0
    canvas = Canvas.create(_canvas_scale(kp), far_side, center)
    albedo = _body_albedo(canvas, style.kind, base, style.texture, rng)
    roi, painted, colors = _warp_onto(PAINTERS[style.kind](canvas, albedo, base), canvas, kp, image.shape)

    lit = _match_lighting(image[roi], colors, painted, blur_px=canvas.px_per_unit / 1.3 / 3)
    if _is_gray(image):  # a black-and-white photo gets a grey mask, or the mask would give itself away
        lit = np.repeat(lit @ np.array([0.299, 0.587, 0.114], np.float32), 3).reshape(lit.shape)
    out = image.copy()
    out[roi][painted] = np.round(lit[painted] * 255).astype(np.uint8)
    mask = np.zeros(image.shape[:2], bool)
    mask[roi] = painted
    return DrawnMask(out, mask, style.kind, variant, tuple(int(c) for c in color), style.texture)


def random_style(rng: np.random.Generator, kind: str = "random", color: tuple[int, int, int] | None = None,
                 texture: str | None = None) -> MaskStyle:
    """Resolve "random" choices for one image: the type (uniform over ``MASK_TYPES``) and
    the texture ("random" -> plain half the time, else a uniform pattern)."""
    if kind == "random":
        kind = MASK_TYPES[int(rng.integers(len(MASK_TYPES)))]
    if texture == "random":
        texture = None if rng.random() < 0.5 else TEXTURES[int(rng.integers(len(TEXTURES)))]
    return MaskStyle(kind, color, texture)
