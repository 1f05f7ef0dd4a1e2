"""Soft Dice loss on probabilities (never on thresholded values: those have no gradient)."""

from __future__ import annotations

import torch


def soft_dice(prob: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Per-image soft Dice of ``(B,1,H,W)`` probabilities vs ``(B,1,H,W)`` {0,1} -> ``(B,)``.

    ``eps`` smooths the ratio so an empty prediction of an empty mask scores 1.
    """
    dims = tuple(range(1, prob.ndim))
    inter = (prob * target).sum(dims)
    return (2 * inter + eps) / (prob.sum(dims) + target.sum(dims) + eps)


class DiceLoss(torch.nn.Module):
    """``1 - soft Dice``, averaged over the batch."""

    def forward(self, prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 1 - soft_dice(prob.float(), target.float()).mean()
