"""Evaluation metrics: one definition each, used in training, inference and benchmarks."""

from metrics.identity import SAME_PERSON, identity_distances
from metrics.reconstruction import PSNR_CAP_DB, masked_l1, psnr, published_image_dice, ssim
from metrics.segmentation import DiceScore, PixelAccuracy, dice_per_image
from metrics.temporal import flicker, flicker_pairs, luma, temporal_std, warp_error

__all__ = ["PSNR_CAP_DB", "SAME_PERSON", "DiceScore", "PixelAccuracy", "dice_per_image",
           "flicker", "flicker_pairs", "identity_distances", "luma", "masked_l1", "psnr",
           "published_image_dice", "ssim", "temporal_std", "warp_error"]
