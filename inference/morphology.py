"""Turn segmentation probabilities into a clean binary mask, on the whole batch at once.

Threshold, then erosion (drops specks the segmenter got wrong), then dilation (grows the
mask past its edge so no rim of the face mask survives into the composite). Both are
max-pool operations on the tensor, so they run on the same device as the models and cost
a few milliseconds instead of the published 262,144 Python iterations per 512 image.

They match ``cv2.erode`` / ``cv2.dilate`` with a ``k x k`` kernel of ones, the default
anchor (the centre, ``k // 2``) and default borders: outside the image counts as mask
for erosion and as background for dilation, so the image edge neither eats nor grows a mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def binarize(prob: torch.Tensor, threshold: float) -> torch.Tensor:
    """``(B,1,H,W)`` probabilities -> float {0,1}, 1 where the probability is above ``threshold``."""
    return (prob.float() > threshold).float()


def _window_max(mask: torch.Tensor, kernel: int, outside: float) -> torch.Tensor:
    """Max over a ``kernel x kernel`` window anchored at ``kernel // 2``; ``outside`` fills the border."""
    before, after = kernel // 2, kernel - 1 - kernel // 2
    padded = F.pad(mask, (before, after, before, after), value=outside)
    return F.max_pool2d(padded, kernel, stride=1)


def dilate(mask: torch.Tensor, kernel: int, iterations: int = 1) -> torch.Tensor:
    """Grow a ``(B,1,H,W)`` {0,1} mask; ``kernel`` or ``iterations`` of 0 leave it as it is."""
    if kernel <= 0:
        return mask
    for _ in range(iterations):
        mask = _window_max(mask, kernel, outside=0.0)
    return mask


def erode(mask: torch.Tensor, kernel: int, iterations: int = 1) -> torch.Tensor:
    """Shrink a ``(B,1,H,W)`` {0,1} mask (the minimum over the window, as ``-max(-x)``)."""
    if kernel <= 0:
        return mask
    for _ in range(iterations):
        mask = -_window_max(-mask, kernel, outside=-1.0)
    return mask


def clean_mask(prob: torch.Tensor, threshold: float = 0.5, erode_kernel: int = 3,
               erode_iters: int = 1, dilate_kernel: int = 7, dilate_iters: int = 1) -> torch.Tensor:
    """Probabilities ``(B,1,H,W)`` in [0,1] -> the cleaned mask ``(B,1,H,W)`` float in {0,1}."""
    mask = binarize(prob, threshold)
    mask = erode(mask, erode_kernel, erode_iters)
    return dilate(mask, dilate_kernel, dilate_iters)
