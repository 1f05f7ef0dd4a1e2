"""Reconstruction metrics on RGB images in [0,1]."""

from __future__ import annotations

import torch

from losses.ssim import ssim

PSNR_CAP_DB = 100.0  # identical images (MSE 0) report this instead of infinity


def psnr(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, ``(B,)``, for ``(B,C,H,W)`` in [0,1].

    With a mask ``(B,1,H,W)`` in {0,1} the MSE runs over mask pixels only (NaN where the
    mask is empty). Capped at ``PSNR_CAP_DB`` for identical images.
    """
    err = (x.double() - y.double()) ** 2
    if mask is None:
        mse = err.mean(dim=(1, 2, 3))
    else:
        m = mask.double().expand_as(err)
        mse = (err * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3))
    floor = 10 ** (-PSNR_CAP_DB / 10)
    return 10 * torch.log10(1.0 / mse.clamp(min=floor))


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over mask pixels per image, ``(B,)``."""
    err = (x.double() - y.double()).abs()
    m = mask.double().expand_as(err)
    return (err * m).sum(dim=(1, 2, 3)) / m.sum(dim=(1, 2, 3))


def published_image_dice(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The published inference "DICE" per image, ``(B,)``, for ``(B,C,H,W)`` images in [0,1]:
    ``(sum(x*y) + 1) / (sum(x^2) + sum(y^2) + 1)``.

    It compares images, not masks, and without Dice's factor 2 a perfect reconstruction scores
    about 0.5; it is reported only as a labelled line beside the published summary.
    """
    x, y = x.double().flatten(1), y.double().flatten(1)
    return ((x * y).sum(1) + 1) / ((x * x).sum(1) + (y * y).sum(1) + 1)


__all__ = ["PSNR_CAP_DB", "masked_l1", "psnr", "published_image_dice", "ssim"]
