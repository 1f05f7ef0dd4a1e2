"""PatchGAN discriminator (as in pix2pix): one realness score per image patch."""

from __future__ import annotations

import torch
from torch import nn


class NLayerDiscriminator(nn.Module):
    """``(B,3,H,W)`` in [0,1] -> patch logits ``(B,1,H/2**n,W/2**n)`` (roughly).

    ``num_layers`` stride-2 convolutions; ``forward(x, features=True)`` also returns the
    activations after each layer, for the feature-matching loss.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True))]
        width = base_channels
        for i in range(1, num_layers + 1):
            out = base_channels * min(2**i, 8)
            stride = 2 if i < num_layers else 1
            layers.append(nn.Sequential(
                nn.Conv2d(width, out, 4, stride=stride, padding=1, bias=False),
                nn.InstanceNorm2d(out, affine=True),
                nn.LeakyReLU(0.2, inplace=True)))
            width = out
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, features: bool = False):
        x = x * 2 - 1
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return (x, feats[:-1]) if features else x
