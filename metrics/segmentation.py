"""Segmentation metrics on binarized masks."""

from __future__ import annotations

import torch


def dice_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``2|P and G| / (|P| + |G|)`` for ``(B,1,H,W)`` {0,1} masks -> ``(B,)``.

    An image where both masks are empty scores 1.
    """
    p = pred.bool().flatten(1)
    g = target.bool().flatten(1)
    inter = (p & g).sum(1).double()
    total = (p.sum(1) + g.sum(1)).double()
    return torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total))


class StreamingMean:
    """A mean over many batches kept as a running total and count, so memory stays flat."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, total: float, count: int) -> None:
        self.total += total
        self.count += count

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class DiceScore(StreamingMean):
    """Streaming mean of per-image Dice: ``update`` per batch, ``compute`` at the end."""

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch of ``(B,1,H,W)`` {0,1} masks; returns that batch's per-image Dice."""
        d = dice_per_image(pred, target)
        self.add(float(d.sum()), d.numel())
        return d


class PixelAccuracy(StreamingMean):
    """Streaming fraction of pixels whose binarized prediction equals the target."""

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch; returns that batch's per-image accuracy ``(B,)``."""
        eq = (pred.bool() == target.bool()).flatten(1)
        self.add(int(eq.sum()), eq.numel())
        return eq.double().mean(1)
