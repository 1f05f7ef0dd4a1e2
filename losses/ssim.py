"""Structural similarity, differentiable, with the Gaussian window of Wang et al.

One implementation serves the loss and the metric. With ``gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1`` scikit-image computes the same map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WINDOW = 11
SIGMA = 1.5
C1 = 0.01**2
C2 = 0.03**2


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA, device=None, dtype=None) -> torch.Tensor:
    """Normalised 1-D Gaussian, shape ``(size,)``."""
    x = torch.arange(size, device=device, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return (w / w.sum()).to(dtype or torch.float32)


def _symmetric_pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """Mirror padding that repeats the edge pixel (numpy 'symmetric', scipy 'reflect')."""
    x = torch.cat([x[..., :p, :].flip(-2), x, x[..., -p:, :].flip(-2)], dim=-2)
    return torch.cat([x[..., :p].flip(-1), x, x[..., -p:].flip(-1)], dim=-1)


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur per channel, same size out (symmetric borders)."""
    c = x.shape[1]
    p = window.numel() // 2
    x = _symmetric_pad(x, p)
    x = F.conv2d(x, window.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, window.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM of ``(B,C,H,W)`` images in [0,1] -> ``(B,C,H,W)``.

    Needs H, W >= 6 (half the window plus one).
    """
    x = x.float()
    y = y.float()
    window = gaussian_window(device=x.device)
    mu_x, mu_y = _blur(x, window), _blur(y, window)
    xx = _blur(x * x, window) - mu_x**2
    yy = _blur(y * y, window) - mu_y**2
    xy = _blur(x * y, window) - mu_x * mu_y
    num = (2 * mu_x * mu_y + C1) * (2 * xy + C2)
    den = (mu_x**2 + mu_y**2 + C1) * (xx + yy + C2)
    return num / den


def ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """SSIM per image, ``(B,)``.

    Without a mask: the mean of the map away from a 5-pixel border (as scikit-image does).
    With a mask ``(B,1,H,W)`` in {0,1}: the mean of the map over the mask pixels
    (images with an empty mask score NaN).
    """
    s = ssim_map(x, y)
    if mask is None:
        p = WINDOW // 2
        return s[..., p:-p, p:-p].mean(dim=(1, 2, 3))
    m = mask.float().expand_as(s)
    return (s * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3))


class SSIMLoss(torch.nn.Module):
    """``1 - SSIM``, averaged over the batch."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1 - ssim_map(x, y).mean()
