"""Stage 1: the mask segmenter, RGB face -> probability of face-mask per pixel."""

from __future__ import annotations

import torch

from models.unet import UNet


class MaskSegmenter(UNet):
    """U-Net from an RGB image to one mask channel.

    ``forward``: ``(B,3,H,W)`` in [0,1] -> logits ``(B,1,H,W)`` (train on these with
    BCE-with-logits); ``probabilities`` applies the sigmoid.
    """

    def __init__(self, base_channels: int = 32, depth: int = 4, arch: str = "unet") -> None:
        super().__init__(3, 1, base_channels=base_channels, depth=depth, arch=arch)
        self.spec = {"kind": "segm", "base_channels": base_channels, "depth": depth, "arch": arch}

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return super().forward(image * 2 - 1)

    def probabilities(self, image: torch.Tensor) -> torch.Tensor:
        """``(B,3,H,W)`` in [0,1] -> ``(B,1,H,W)`` in [0,1]."""
        return torch.sigmoid(self(image))
