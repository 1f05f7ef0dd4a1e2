"""The published inference "DICE", kept only to compare with old reports.

The published ``infer.py`` printed ``1 - DiceLoss(reconstruction, ground_truth)`` on
*images*, with the published ``DiceLoss(smooth=1, p=2)``: ``(sum(x*y) + 1) / (sum(x^2) +
sum(y^2) + 1)``. It is not a segmentation Dice, and without the usual factor 2 it is at
most about 0.5, reached by a perfect reconstruction. Report ``dice_per_image`` on masks
for segmentation and SSIM / PSNR for reconstruction instead.
"""

from __future__ import annotations

import torch


def published_image_dice(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The published image "DICE" per image, ``(B,)``, for ``(B,C,H,W)`` images in [0,1]."""
    x, y = x.double().flatten(1), y.double().flatten(1)
    return ((x * y).sum(1) + 1) / ((x * x).sum(1) + (y * y).sum(1) + 1)
