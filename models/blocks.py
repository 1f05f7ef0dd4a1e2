"""Small building blocks shared by the U-Nets."""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """Two 3x3 conv + BatchNorm + ReLU layers; keeps H and W."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1) -> None:
        pad = dilation
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SqueezeExcitation(nn.Module):
    """Channel attention: rescale each channel by a gate computed from its global mean."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class DilatedBottleneck(nn.Module):
    """Residual stack of 3x3 convs with growing dilation (2, 4, 8, 16 by default).

    Widens the receptive field at the lowest resolution so the generator sees the face
    around the whole mask, at no cost in resolution.
    """

    def __init__(self, in_channels: int, channels: int,
                 dilations: tuple[int, ...] = (2, 4, 8, 16)) -> None:
        super().__init__()
        self.project = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=d, dilation=d, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        for layer in self.layers:
            x = x + layer(x)
        return x
