"""Least-squares GAN loss with one-sided-or-both label smoothing."""

from __future__ import annotations

import torch


class LSGANLoss(torch.nn.Module):
    """Mean squared distance of the discriminator's patch scores to a target label.

    Targets default to 0.9 for real and 0.1 for fake (label smoothing keeps the
    discriminator from becoming over-confident early). The generator is trained towards
    ``real_label``.
    """

    def __init__(self, real_label: float = 0.9, fake_label: float = 0.1) -> None:
        super().__init__()
        self.real_label, self.fake_label = real_label, fake_label

    def forward(self, scores: torch.Tensor, real: bool) -> torch.Tensor:
        target = self.real_label if real else self.fake_label
        return ((scores.float() - target) ** 2).mean()
