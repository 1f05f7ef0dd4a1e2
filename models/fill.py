"""A first guess for the hole, so the generator does not start from a flat white one.

- ``smooth``: the colours around the hole spread smoothly inwards, so the skin tone and the
  light come from the photo itself. A push-pull fill: average the known pixels down an image
  pyramid, then fill each level's unknown pixels from the coarser level on the way back up.
- ``prior``: the mean face of the training set (aligned face crops share where the nose and
  the mouth are), shifted per colour channel to the photo's colours just outside the hole.
  The mean face already has a nose and a mouth, blurred; the network adds what this face has.

All tensor ops, no loops over pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FILLS = ("white", "smooth", "prior")
# Pixels this close to the mask are not trusted as its surroundings: a drawn mask's
# anti-aliased rim (often white) lies just outside its binary mask.
RIM = 2
# Only a band this wide beyond the rim is spread inwards: farther pixels (hair, headphones,
# the background) are not what the hidden skin looks like.
BAND = 8
# The prior's colours are matched on a wider band, and only on its upper half and its middle
# columns (above the nose and the cheeks): below the mask lie the neck, a beard or the
# background, beside it hair, whose colours are not the skin's. Chosen on training faces (each
# scored against the mean of the others), not on the faces the benchmarks score.
PRIOR_BAND = 18
PRIOR_COLUMNS = 0.8  # the share of the mask's width, centred, whose band sets the colour


def surroundings(mask: torch.Tensor, band: int = BAND) -> torch.Tensor:
    """``(B,1,H,W)`` in {0,1}: the band from ``RIM`` to ``RIM + band`` pixels outside ``mask``."""
    grow = lambda r: F.max_pool2d(mask, 2 * r + 1, stride=1, padding=r)  # noqa: E731
    return grow(RIM + band) - grow(RIM)


def upper_half(mask: torch.Tensor) -> torch.Tensor:
    """``(B,1,H,1)`` in {0,1}: the rows above the middle of the rows each mask covers."""
    rows = mask.amax(3, keepdim=True)
    index = torch.arange(mask.shape[2], device=mask.device, dtype=mask.dtype).view(1, 1, -1, 1)
    top = (index + (1 - rows) * mask.shape[2]).amin(2, keepdim=True)
    bottom = (index * rows).amax(2, keepdim=True)
    return (index < (top + bottom) / 2).to(mask.dtype)


def smooth_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``image`` ``(B,C,H,W)`` with the pixels under ``mask`` ``(B,1,H,W)`` in {0,1} replaced by a
    smooth blend of the pixels in a band around them (from ``RIM`` to ``RIM + BAND`` pixels
    away); pixels outside the mask are kept exactly. An image with no such pixel is filled
    with 0.5."""
    mask = mask.to(image.dtype)
    known = surroundings(mask)
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


def middle_columns(mask: torch.Tensor, share: float) -> torch.Tensor:
    """``(B,1,1,W)`` in {0,1}: the centred ``share`` of the columns each mask spans."""
    cols = mask.amax(2, keepdim=True)
    index = torch.arange(mask.shape[3], device=mask.device, dtype=mask.dtype).view(1, 1, 1, -1)
    left = (index + (1 - cols) * mask.shape[3]).amin(3, keepdim=True)
    right = (index * cols).amax(3, keepdim=True)
    centre, half = (left + right) / 2, (right - left) / 2 * share
    return ((index >= centre - half) & (index <= centre + half)).to(mask.dtype)


def prior_fill(image: torch.Tensor, mask: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """``image`` ``(B,3,H,W)`` in [0,1] with the pixels under ``mask`` ``(B,1,H,W)`` replaced by
    ``prior`` ``(1,3,h,w)`` in [0,1] (resized to H x W), moved per channel by the mean difference
    between the image and the prior in the band around the hole's upper half and middle columns
    (no move where there is no such band)."""
    mask = mask.to(image.dtype)
    prior = F.interpolate(prior.to(image.dtype), size=image.shape[-2:], mode="bilinear",
                          align_corners=False)
    band = surroundings(mask, PRIOR_BAND) * upper_half(mask) * middle_columns(mask, PRIOR_COLUMNS)
    shift = ((image - prior) * band).sum((2, 3), keepdim=True) / band.sum((2, 3), keepdim=True).clamp_min(1)
    return image * (1 - mask) + (prior + shift).clamp(0, 1) * mask


def fill_hole(image: torch.Tensor, mask: torch.Tensor, fill: str,
              prior: torch.Tensor | None = None) -> torch.Tensor:
    """The generator's view of the hole: ``white`` (the published input), ``smooth`` or
    ``prior`` (which needs the mean face ``prior``)."""
    if fill == "white":
        return image * (1 - mask) + mask
    if fill == "smooth":
        return smooth_fill(image, mask)
    if fill == "prior":
        if prior is None:
            raise ValueError("fill='prior' needs the training set's mean face")
        return prior_fill(image, mask, prior)
    raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
