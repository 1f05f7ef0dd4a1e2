"""The audio encoder of the proposed model: a frame's log-mel window -> one embedding.

Trained jointly with the generator (its parameters sit in G's optimizer). The published
code instead mapped each sample's audio through a freshly initialised random ``nn.Linear``,
which is noise, not conditioning.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from core.audio import AudioSettings

AUDIO_ENCODER = "audio_encoder"  # its key in checkpoints, next to G, D and D2
POOLED_STEPS = 4  # time positions kept after pooling: the embedding knows early / centre / late


def _conv(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    # GroupNorm, not BatchNorm: behaves the same in train and eval mode and at batch size 1.
    return nn.Sequential(nn.Conv1d(in_channels, out_channels, 5, stride=stride, padding=2, bias=False),
                         nn.GroupNorm(8, out_channels), nn.ReLU(inplace=True))


class AudioEncoder(nn.Module):
    """Small 1-D conv net over time, mel bands as channels.

    ``(B, n_mels, W)`` normalised log-mel windows (``core.audio.SoundTrack``) -> ``(B, audio_dim)``.
    Any ``W`` works (adaptive pooling to ``POOLED_STEPS`` positions before the projection).

    Args:
        n_mels: mel bands of the input.
        audio_dim: embedding size (the generator's ``audio_dim``).
        channels: width of the first conv layers (the last one has twice as many).
        features: the ``AudioSettings`` (as a dict) the encoder is trained on; recorded in
            the checkpoint so inference computes the same features.
    """

    def __init__(self, n_mels: int = 40, audio_dim: int = 128, channels: int = 64,
                 features: dict[str, Any] | None = None) -> None:
        super().__init__()
        channels = max(8, channels // 8 * 8)
        self.features = AudioSettings(**(features or {"n_mels": n_mels}))
        if self.features.n_mels != n_mels:
            raise ValueError(f"features.n_mels={self.features.n_mels} but n_mels={n_mels}")
        self.convs = nn.Sequential(_conv(n_mels, channels, 1), _conv(channels, channels, 2),
                                   _conv(channels, 2 * channels, 2))
        self.pool = nn.AdaptiveAvgPool1d(POOLED_STEPS)
        self.project = nn.Linear(2 * channels * POOLED_STEPS, audio_dim)
        self.spec = {"kind": "audio_encoder", "n_mels": n_mels, "audio_dim": audio_dim,
                     "channels": channels, "features": self.features.as_dict()}

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, W)`` -> ``(B, audio_dim)``."""
        return self.project(self.pool(self.convs(mels)).flatten(1))
