"""Per-pixel weights that make the thin parts of a mask count.

A face mask's ear straps are a pixel or two wide in a 256 px crop: a few dozen pixels against
thousands in the mask's body, so BCE and Dice barely notice a segmenter that leaves them out,
and a user then sees white lines left on the face. The pixels a morphological opening removes
(parts narrower than ``width``) are the straps and the mask's thin rims; weighing them more
is the border weighting of the original U-Net paper applied to thin structures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def thin_parts(mask: torch.Tensor, width: int = 5) -> torch.Tensor:
    """``(B,1,H,W)`` mask in {0,1} -> ``(B,1,H,W)`` in {0,1}: its pixels in parts narrower than
    ``width`` pixels (odd), which an opening with a ``width`` square removes."""
    pad = width // 2
    eroded = -F.max_pool2d(-mask, width, stride=1, padding=pad)
    opened = F.max_pool2d(eroded, width, stride=1, padding=pad)
    return mask * (1 - opened)


def thin_weighted_bce(logits: torch.Tensor, mask: torch.Tensor, thin_weight: float) -> torch.Tensor:
    """BCE of ``(B,1,H,W)`` logits against a {0,1} mask, the mask's thin parts weighing
    ``1 + thin_weight`` (plain BCE when ``thin_weight`` is 0)."""
    weight = None if thin_weight <= 0 else 1 + thin_weight * thin_parts(mask)
    return F.binary_cross_entropy_with_logits(logits, mask, weight=weight)
