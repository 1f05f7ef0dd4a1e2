"""Segmentation metrics on binarized masks (DESIGN.md section 6)."""

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


class DiceScore:
    """Streaming mean of per-image Dice: ``update`` per batch, ``compute`` at the end."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch of ``(B,1,H,W)`` {0,1} masks; returns that batch's per-image Dice."""
        d = dice_per_image(pred, target)
        self.total += float(d.sum())
        self.count += d.numel()
        return d

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class PixelAccuracy:
    """Streaming fraction of pixels whose binarized prediction equals the target."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch; returns that batch's per-image accuracy ``(B,)``."""
        eq = (pred.bool() == target.bool()).flatten(1)
        self.correct += int(eq.sum())
        self.count += eq.numel()
        return eq.double().mean(1)

    def compute(self) -> float:
        return self.correct / self.count if self.count else float("nan")
