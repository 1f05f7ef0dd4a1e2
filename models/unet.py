"""The U-Net both stages are built on, in three topologies.

``arch="unet"`` (default): each encoder level halves the resolution (max-pool) and each
decoder level doubles it back (bilinear), so the bottleneck at 1/2**depth sees the whole
face. ``arch="flat"``: the published topology, the same channel plan with every level at
full resolution (no pooling). It costs about 62x more at 512 px and is kept only for
comparison. ``arch="light"``: the U-Net's resolutions with each level's two 3x3 convolutions
replaced by one inverted residual (``models.light``), for real-time video on a CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.blocks import ConvBlock, DilatedBottleneck, SqueezeExcitation
from models.light import LightBlock, LightDilatedBottleneck

ARCHS = ("unet", "flat", "light")


class UNet(nn.Module):
    """Encoder-decoder with skip connections: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    Widths: ``base * (1, 2, .., 2**(depth-1))`` per level, ``base * 2**depth`` at the
    bottleneck. Any H and W work: the input is padded to a multiple of ``2**depth`` and the output
    cropped back. Returns raw (unbounded) values; subclasses choose the output activation.

    Args:
        base_channels: channels at the first level.
        depth: number of encoder levels above the bottleneck.
        se_levels: squeeze-excitation on this many of the first encoder levels.
        dilations: a dilated residual bottleneck with these rates; empty for a plain one.
    """

    def __init__(self, in_channels: int, out_channels: int, base_channels: int = 64,
                 depth: int = 4, arch: str = "unet", se_levels: int = 0,
                 dilations: tuple[int, ...] = ()) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        self.arch, self.depth = arch, depth
        widths = [base_channels * 2**i for i in range(depth)]
        self.encoders = nn.ModuleList()
        prev = in_channels
        level, dilated = ((LightBlock, LightDilatedBottleneck) if arch == "light"
                          else (ConvBlock, DilatedBottleneck))
        for i, width in enumerate(widths):
            block = level(prev, width)
            self.encoders.append(nn.Sequential(block, SqueezeExcitation(width)) if i < se_levels else block)
            prev = width
        # As in the original U-Net the bottleneck doubles the width once more: it is cheap at
        # 1/2**depth resolution and is where the whole face is in view.
        bottom = 2 * widths[-1]
        self.bottleneck = (dilated(widths[-1], bottom, dilations) if dilations
                           else level(widths[-1], bottom))
        self.bottleneck_channels = bottom
        self.decoders = nn.ModuleList(
            level((bottom if i == depth - 1 else widths[i + 1]) + widths[i], widths[i])
            for i in range(depth)
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    @property
    def multiple(self) -> int:
        """Input sides are padded to a multiple of this."""
        return 1 if self.arch == "flat" else 2**self.depth

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            if self.arch != "flat":
                x = F.max_pool2d(x, 2)
        return x, skips

    def decode(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for i in reversed(range(self.depth)):
            skip = skips[i]
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = self.decoders[i](torch.cat([x, skip], dim=1))
        return self.head(x)

    def pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        return x, (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, (h, w) = self.pad(x)
        x, skips = self.encode(x)
        x = self.decode(self.bottleneck(x), skips)
        return x[..., :h, :w]
