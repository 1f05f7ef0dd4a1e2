"""Turn segmentation probabilities into a clean binary mask, on the whole batch at once.

Threshold, then erosion (drops specks the segmenter got wrong), then dilation (grows the
mask past its edge so no rim of the face mask survives into the composite). On a GPU both
are max-pool operations on the tensor, on the device the models run on; on the CPU OpenCV's
``cv2.erode`` / ``cv2.dilate`` do the same on the whole batch at once (the batch as an image's
channels), about 50x faster than torch's max-pool there. Either costs a millisecond or less,
instead of the published 262,144 Python iterations per 512 image.

They match ``cv2.erode`` / ``cv2.dilate`` with a ``k x k`` kernel of ones, the default
anchor (the centre, ``k // 2``) and default borders: outside the image counts as mask
for erosion and as background for dilation, so the image edge neither eats nor grows a mask.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MAX_CHANNELS = 512  # OpenCV's limit on an image's channels (CV_CN_MAX)


def binarize(prob: torch.Tensor, threshold: float) -> torch.Tensor:
    """``(B,1,H,W)`` probabilities -> float {0,1}, 1 where the probability is above ``threshold``."""
    return (prob.float() > threshold).float()


def _window_max(mask: torch.Tensor, kernel: int, outside: float) -> torch.Tensor:
    """Max over a ``kernel x kernel`` window anchored at ``kernel // 2``; ``outside`` fills the border."""
    before, after = kernel // 2, kernel - 1 - kernel // 2
    padded = F.pad(mask, (before, after, before, after), value=outside)
    return F.max_pool2d(padded, kernel, stride=1)


def _with_opencv(mask: torch.Tensor, kernel: int, iterations: int, operation) -> torch.Tensor:
    """``cv2.erode`` or ``cv2.dilate`` of a ``(B,1,H,W)`` {0,1} CPU mask, the batch as channels."""
    planes = mask[:, 0].to(torch.uint8).permute(1, 2, 0).numpy()  # (H,W,B)
    ones = np.ones((kernel, kernel), np.uint8)
    parts = [operation(np.ascontiguousarray(planes[..., i:i + MAX_CHANNELS]), ones, iterations=iterations)
             for i in range(0, planes.shape[-1], MAX_CHANNELS)]
    out = np.concatenate([p.reshape(*planes.shape[:2], -1) for p in parts], axis=-1)
    return torch.from_numpy(out).permute(2, 0, 1)[:, None].to(mask.dtype)


def _with_max_pool(mask: torch.Tensor, kernel: int, iterations: int, grow: bool) -> torch.Tensor:
    """Dilation (``grow``) or erosion (the minimum, as ``-max(-x)``) by max-pooling, any device."""
    sign = 1.0 if grow else -1.0
    mask = sign * mask
    for _ in range(iterations):
        mask = _window_max(mask, kernel, outside=0.0 if grow else -1.0)
    return sign * mask


def dilate(mask: torch.Tensor, kernel: int, iterations: int = 1) -> torch.Tensor:
    """Grow a ``(B,1,H,W)`` {0,1} mask; ``kernel`` or ``iterations`` of 0 leave it as it is."""
    if kernel <= 0 or iterations <= 0:
        return mask
    if mask.device.type == "cpu":
        return _with_opencv(mask, kernel, iterations, cv2.dilate)
    return _with_max_pool(mask, kernel, iterations, grow=True)


def erode(mask: torch.Tensor, kernel: int, iterations: int = 1) -> torch.Tensor:
    """Shrink a ``(B,1,H,W)`` {0,1} mask; ``kernel`` or ``iterations`` of 0 leave it as it is."""
    if kernel <= 0 or iterations <= 0:
        return mask
    if mask.device.type == "cpu":
        return _with_opencv(mask, kernel, iterations, cv2.erode)
    return _with_max_pool(mask, kernel, iterations, grow=False)


def clean_mask(prob: torch.Tensor, threshold: float = 0.5, erode_kernel: int = 3,
               erode_iters: int = 1, dilate_kernel: int = 7, dilate_iters: int = 1) -> torch.Tensor:
    """Probabilities ``(B,1,H,W)`` in [0,1] -> the cleaned mask ``(B,1,H,W)`` float in {0,1}."""
    mask = binarize(prob, threshold)
    mask = erode(mask, erode_kernel, erode_iters)
    return dilate(mask, dilate_kernel, dilate_iters)
