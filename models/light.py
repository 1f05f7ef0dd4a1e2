"""The blocks of ``arch="light"``: MobileNetV2-style inverted residuals in place of full 3x3 convolutions.

A full 3x3 convolution from ``c`` to ``c`` channels costs ``9 c**2`` multiply-adds per pixel;
an inverted residual (1x1 expansion to ``t c``, 3x3 depthwise, linear 1x1 projection back)
costs ``2 t c**2 + 9 t c``. With ``t = 4`` that is under a quarter of one full convolution for
``c >= 16``, and a U-Net level of two full convolutions becomes one such block. The activation
is a plain ReLU (not MobileNetV2's ReLU6) so that the inference fast path (``models.fusion``)
fuses it into the convolution before it; the projection stays linear (no activation), as in
MobileNetV2, where a ReLU on the narrow output would throw information away.
"""

from __future__ import annotations

import torch
from torch import nn

EXPAND = 4  # hidden width of an inverted residual, per output channel
BOTTLENECK_EXPAND = 2  # the bottleneck is the widest level: a smaller expansion keeps it cheap


def _conv_bn(in_channels: int, out_channels: int, kernel: int = 1, dilation: int = 1, groups: int = 1,
             relu: bool = True) -> list[nn.Module]:
    pad = dilation * (kernel // 2)
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, padding=pad, dilation=dilation,
                                         groups=groups, bias=False), nn.BatchNorm2d(out_channels)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


class InvertedResidual(nn.Module):
    """1x1 expansion -> 3x3 depthwise (``dilation``) -> linear 1x1 projection; keeps H and W.

    ``(B, in_channels, H, W) -> (B, out_channels, H, W)``; the input is added back when the
    widths match. The hidden width is ``expand * out_channels`` (not ``* in_channels``): a
    decoder block's input is the concatenation of two levels, and expanding that would cost
    half as much again for nothing the output can hold.
    """

    def __init__(self, in_channels: int, out_channels: int, expand: int = EXPAND, dilation: int = 1) -> None:
        super().__init__()
        hidden = expand * out_channels
        self.body = nn.Sequential(
            *_conv_bn(in_channels, hidden),
            *_conv_bn(hidden, hidden, 3, dilation, groups=hidden),
            *_conv_bn(hidden, out_channels, relu=False),
        )
        self.residual = in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class LightBlock(nn.Sequential):
    """One U-Net level of the light topology: an inverted residual, then a ReLU (the level's
    output feeds a skip connection and a max-pool, which want non-negative features as the
    full ``ConvBlock``'s are)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(InvertedResidual(in_channels, out_channels), nn.ReLU(inplace=True))


class LightDilatedBottleneck(nn.Module):
    """The dilated residual bottleneck of ``models.blocks.DilatedBottleneck`` (dilations 2, 4,
    8, 16 by default) with inverted residuals: a 1x1 projection to ``channels``, then one
    inverted residual per rate whose depthwise 3x3 is dilated, each added to its input. The
    receptive field is the full block's; the cost about a tenth."""

    def __init__(self, in_channels: int, channels: int, dilations: tuple[int, ...] = (2, 4, 8, 16)) -> None:
        super().__init__()
        self.project = nn.Sequential(*_conv_bn(in_channels, channels))
        self.layers = nn.ModuleList(InvertedResidual(channels, channels, BOTTLENECK_EXPAND, d)
                                    for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        for layer in self.layers:
            x = layer(x)  # residual inside: x + f(x)
        return torch.relu(x)
