"""Evaluation metrics: one definition each, used in training, inference and benchmarks."""

from metrics.reconstruction import PSNR_CAP_DB, masked_l1, psnr, ssim
from metrics.segmentation import DiceScore, PixelAccuracy, dice_per_image

__all__ = ["PSNR_CAP_DB", "DiceScore", "PixelAccuracy", "dice_per_image", "masked_l1", "psnr",
           "ssim"]
