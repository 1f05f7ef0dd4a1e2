"""Stage 2: the generator that paints the face back inside the mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.fill import FILLS, fill_hole
from models.unet import UNet

AUDIO_MODES = ("none", "map", "film")
MAP_SIDE = 16  # the audio "map" is predicted at 16x16 and upsampled to the image size
FILM_INIT_STD = 0.1  # FiLM scale/shift start within about +-0.1 of the identity
RESIDUAL_EPS = 1e-3  # the fill is clamped this far inside (0, 1) before its logit
# The mean face kept with fill="prior": a fixed side, so a checkpoint loads at any image size;
# the mean of many faces is blurred, so 128 px loses nothing of it at 256.
PRIOR_SIDE = 128


class Generator(UNet):
    """U-Net with squeeze-excitation on the first two encoder levels and a dilated
    bottleneck (2, 4, 8, 16).

    Input: the masked face with the mask region filled (``fill``: ``white``, the published
    input; ``smooth``, the colours around the hole spread inwards; or ``prior``, the training
    set's mean face, kept in the ``prior`` buffer and set by ``set_prior``: ``models.fill``), and
    the mask itself (4 channels), plus, with ``audio="map"``, one conditioning channel
    projected from the audio embedding (5 channels). With ``audio="film"`` the embedding
    instead scales and shifts the bottleneck features (feature-wise linear modulation).

    ``residual``: the output is the filled input plus a learnt change (in logit space), so
    an untrained network already returns the fill and training adds only what differs.
    The defaults (``white``, no residual) rebuild checkpoints that predate both arguments.
    """

    def __init__(self, base_channels: int = 32, depth: int = 4, arch: str = "unet",
                 audio: str = "none", audio_dim: int = 128, fill: str = "white",
                 residual: bool = False) -> None:
        if audio not in AUDIO_MODES:
            raise ValueError(f"audio must be one of {AUDIO_MODES}, got {audio!r}")
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
        in_channels = 5 if audio == "map" else 4
        super().__init__(in_channels, 3, base_channels=base_channels, depth=depth, arch=arch,
                         se_levels=2, dilations=(2, 4, 8, 16))
        self.audio, self.fill, self.residual = audio, fill, residual
        if fill == "prior":
            self.register_buffer("prior", torch.full((1, 3, PRIOR_SIDE, PRIOR_SIDE), 0.5))
        if residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        if audio == "map":
            self.audio_map = nn.Linear(audio_dim, MAP_SIDE * MAP_SIDE)
        elif audio == "film":
            self.film = nn.Linear(audio_dim, 2 * self.bottleneck_channels)
            # Start close to the identity so an untrained audio path barely disturbs the
            # image, but not at zero: a zero weight would pass no gradient back to the audio
            # encoder on the first steps.
            nn.init.normal_(self.film.weight, std=FILM_INIT_STD / audio_dim ** 0.5)
            nn.init.zeros_(self.film.bias)
        self.spec = {"kind": "generator", "base_channels": base_channels, "depth": depth,
                     "arch": arch, "audio": audio, "audio_dim": audio_dim, "fill": fill,
                     "residual": residual}

    @torch.no_grad()
    def set_prior(self, mean_face: torch.Tensor) -> None:
        """Keep ``mean_face`` ``(1,3,H,W)`` in [0,1] (the training faces' mean) as the hole's
        first guess (``fill="prior"`` only)."""
        if self.fill != "prior":
            raise ValueError(f"set_prior needs fill='prior', this generator has fill={self.fill!r}")
        self.prior.copy_(F.interpolate(mean_face.float(), size=(PRIOR_SIDE, PRIOR_SIDE), mode="area")
                         .clamp(0, 1).to(self.prior))

    def fill_hole(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What this generator sees in the hole, ``(B,3,H,W)`` in [0,1]."""
        return fill_hole(masked, mask, self.fill, getattr(self, "prior", None))

    def forward(self, masked: torch.Tensor, mask: torch.Tensor,
                audio: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            masked: ``(B,3,H,W)`` in [0,1], the face wearing the mask.
            mask: ``(B,1,H,W)`` in {0,1}, 1 where the face is to be painted.
            audio: ``(B, audio_dim)`` embedding; required unless ``audio="none"``.
        Returns:
            ``(B,3,H,W)`` in [0,1], the generated face (composite it with ``composite``).
        """
        if (audio is None) != (self.audio == "none"):
            raise ValueError(f"generator built with audio={self.audio!r} "
                             f"{'needs' if audio is None else 'takes no'} audio input")
        hole = self.fill_hole(masked, mask)
        x = torch.cat([hole * 2 - 1, mask], dim=1)
        if self.audio == "map":
            side = self.audio_map(audio).view(-1, 1, MAP_SIDE, MAP_SIDE)
            x = torch.cat([x, F.interpolate(side, size=x.shape[-2:], mode="bilinear",
                                            align_corners=False)], dim=1)
        x, (h, w) = self.pad(x)
        x, skips = self.encode(x)
        x = self.bottleneck(x)
        if self.audio == "film":
            scale, shift = self.film(audio).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
            x = x * (1 + scale) + shift
        x = self.decode(x, skips)[..., :h, :w]
        if self.residual:
            x = x + torch.logit(hole.clamp(RESIDUAL_EPS, 1 - RESIDUAL_EPS))
        return torch.sigmoid(x)


def composite(masked: torch.Tensor, generated: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep the input outside the mask, the generated face inside: ``masked*(1-m) + out*m``."""
    return masked * (1 - mask) + generated * mask
