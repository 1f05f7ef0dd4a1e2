"""Training losses."""

from losses.adversarial import LSGANLoss
from losses.dice import DiceLoss, soft_dice
from losses.feature_matching import feature_matching_loss
from losses.perceptual import PerceptualLoss
from losses.ssim import SSIMLoss, ssim, ssim_map
from losses.thin_parts import thin_parts, thin_weighted_bce

__all__ = ["DiceLoss", "LSGANLoss", "PerceptualLoss", "SSIMLoss", "feature_matching_loss",
           "soft_dice", "ssim", "ssim_map", "thin_parts", "thin_weighted_bce"]
