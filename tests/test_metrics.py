"""Metrics and differentiable losses against scikit-image and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import structural_similarity

from losses import DiceLoss, SSIMLoss, soft_dice
from metrics import PSNR_CAP_DB, DiceScore, PixelAccuracy, dice_per_image, masked_l1, psnr, ssim
from metrics.reconstruction import ssim as ssim_metric


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()


def _skimage_ssim(a, b, full=False):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1, channel_axis=2, full=full)


@pytest.mark.parametrize("noise", [0.02, 0.1, 0.3])
def test_ssim_matches_scikit_image(noise):
    rng = np.random.default_rng(1)
    a = data.astronaut()[:160, 40:230] / 255.0
    b = np.clip(a + rng.normal(0, noise, a.shape), 0, 1)
    assert abs(float(ssim(_t(a), _t(b))) - _skimage_ssim(a, b)) < 1e-3


def test_ssim_in_mask_is_mean_of_map_inside_mask():
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, (64, 48, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    mask = np.zeros((64, 48), bool)
    mask[20:50, 10:30] = True
    _, smap = _skimage_ssim(a, b, full=True)
    expected = smap[mask].mean()
    got = float(ssim_metric(_t(a), _t(b), torch.from_numpy(mask)[None, None].float()))
    assert abs(got - expected) < 1e-3
    assert float(ssim(_t(a), _t(a))) == pytest.approx(1.0, abs=1e-6)


def test_ssim_loss_is_differentiable():
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss = SSIMLoss()(x, torch.rand(2, 3, 32, 32))
    loss.backward()
    assert 0 < loss.item() < 2 and x.grad.abs().sum() > 0


def test_dice_matches_hand_computation():
    pred = torch.zeros(3, 1, 4, 4)
    target = torch.zeros(3, 1, 4, 4)
    pred[0, 0, :2, :] = 1       # 8 pixels
    target[0, 0, 1:3, :] = 1    # 8 pixels, 4 shared -> 2*4/16 = 0.5
    pred[1, 0, 0, 0] = 1        # 1 vs 0 -> 0
    # image 2: both empty -> 1
    d = dice_per_image(pred, target)
    assert d.tolist() == [0.5, 0.0, 1.0]
    score = DiceScore()
    score.update(pred[:2], target[:2])
    score.update(pred[2:], target[2:])
    assert score.compute() == pytest.approx(0.5)
    acc = PixelAccuracy()
    acc.update(pred, target)
    assert acc.compute() == pytest.approx((48 - 8 - 1) / 48)


def test_soft_dice_loss_bounds():
    t = (torch.rand(2, 1, 8, 8) > 0.5).float()
    assert float(DiceLoss()(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(soft_dice(1 - t, t, eps=0).mean()) == pytest.approx(0.0, abs=1e-6)


def test_psnr_matches_hand_computation():
    x = torch.zeros(2, 3, 4, 4)
    y = torch.zeros(2, 3, 4, 4)
    y[0] = 0.1                               # MSE 0.01 -> 20 dB
    y[1, :, :2] = 0.5                        # inside mask: error 0.5 -> MSE 0.25 -> 6.02 dB
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, :2] = 1
    assert psnr(x, y)[0].item() == pytest.approx(20.0)
    assert psnr(x, y)[1].item() == pytest.approx(10 * math.log10(1 / 0.125))
    assert psnr(x, y, mask)[1].item() == pytest.approx(10 * math.log10(4))
    assert psnr(x, x).tolist() == [PSNR_CAP_DB, PSNR_CAP_DB]
    assert masked_l1(x, y, mask)[1].item() == pytest.approx(0.5)
