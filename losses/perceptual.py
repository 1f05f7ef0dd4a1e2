"""Perceptual loss: L1 between VGG19 features of the output and of the ground truth."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.perceptual import PerceptualNet


class PerceptualLoss(torch.nn.Module):
    """Sum over the four VGG slices of the mean absolute feature difference."""

    def __init__(self, net: PerceptualNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.net(y)
        return sum(F.l1_loss(a.float(), b.float()) for a, b in zip(self.net(x), target))
