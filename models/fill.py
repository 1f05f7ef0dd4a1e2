"""A first guess for the hole: the colours around it, spread smoothly inwards.

The generator starts from this guess instead of a flat white hole, so the skin tone and the
light across the face come from the photo itself and the network only has to add the
structure (nose, mouth, shadows). A push-pull fill: average the known pixels down an image
pyramid, then fill each level's unknown pixels from the coarser level on the way back up.
All tensor ops, no loops over pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FILLS = ("white", "smooth")
# Pixels this close to the mask are not trusted as its surroundings: a drawn mask's
# anti-aliased rim (often white) lies just outside its binary mask.
RIM = 2
# Only a band this wide beyond the rim is spread inwards: farther pixels (hair, headphones,
# the background) are not what the hidden skin looks like.
BAND = 8


def smooth_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``image`` ``(B,C,H,W)`` with the pixels under ``mask`` ``(B,1,H,W)`` in {0,1} replaced by a
    smooth blend of the pixels in a band around them (from ``RIM`` to ``RIM + BAND`` pixels
    away); pixels outside the mask are kept exactly. An image with no such pixel is filled
    with 0.5."""
    mask = mask.to(image.dtype)
    grow = lambda r: F.max_pool2d(mask, 2 * r + 1, stride=1, padding=r)  # noqa: E731
    known = grow(RIM + BAND) - grow(RIM)
    levels = [(image * known, known)]
    while min(levels[-1][1].shape[-2:]) > 1:
        x, w = levels[-1]
        levels.append((F.avg_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True)))
    x, w = levels[-1]
    estimate = torch.where(w > 0, x / w.clamp_min(1e-6), torch.full_like(x, 0.5))
    for x, w in reversed(levels[:-1]):
        up = F.interpolate(estimate, size=x.shape[-2:], mode="bilinear", align_corners=False)
        # x holds the known colours premultiplied by their share w of the cell: a convex blend.
        estimate = x + (1 - w) * up
    return image * (1 - mask) + estimate * mask


def fill_hole(image: torch.Tensor, mask: torch.Tensor, fill: str) -> torch.Tensor:
    """The generator's view of the hole: ``white`` (the published input) or ``smooth``."""
    if fill == "white":
        return image * (1 - mask) + mask
    if fill == "smooth":
        return smooth_fill(image, mask)
    raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
