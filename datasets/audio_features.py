"""Log-mel spectrograms with plain torch: ``torch.stft`` and our own mel filterbank.

The settings that define a feature (rate, bands, hop, analysis window, context window)
travel together as ``AudioSettings`` so a trained audio encoder can record exactly which
features it was trained on, and inference can recompute them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

F_MIN = 20.0  # Hz; below this there is only rumble, no speech
POWER_FLOOR = 1e-10  # log(POWER_FLOOR) is what digital silence maps to
CHUNK_COLUMNS = 4096  # spectrogram columns computed per stft call (bounds memory on long tracks)


@dataclass(frozen=True)
class AudioSettings:
    """What the audio features are.

    ``sample_rate`` Hz; ``n_mels`` bands; ``hop_ms`` between spectrogram columns;
    ``win_ms`` analysis window (Hann) of each column; ``window_s`` seconds of context
    centred on each video frame.
    """

    sample_rate: int = 16000
    n_mels: int = 40
    hop_ms: float = 10.0
    win_ms: float = 25.0
    window_s: float = 1.0

    @classmethod
    def from_config(cls, cfg: Any) -> AudioSettings:
        """The settings a ``Config`` asks for (keys sample_rate, n_mels, hop_ms, win_ms, audio_window)."""
        return cls(cfg.sample_rate, cfg.n_mels, cfg.hop_ms, cfg.win_ms, cfg.audio_window)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def hop(self) -> int:
        """Samples between columns."""
        return max(1, round(self.sample_rate * self.hop_ms / 1000))

    @property
    def win_length(self) -> int:
        """Samples in each column's analysis window."""
        return max(2, round(self.sample_rate * self.win_ms / 1000))

    @property
    def n_fft(self) -> int:
        """FFT size: the analysis window rounded up to a power of two."""
        return 1 << math.ceil(math.log2(self.win_length))

    @property
    def columns(self) -> int:
        """Spectrogram columns in one frame's context window (at least 1)."""
        return max(1, round(self.window_s * 1000 / self.hop_ms))


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """The HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float = F_MIN,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular filters, ``(n_mels, n_fft // 2 + 1)`` float32, each peaking at 1.

    Filter ``i`` rises from mel point ``i`` to ``i+1`` and falls to ``i+2``, the
    ``n_mels + 2`` points equally spaced on the mel scale over ``[f_min, f_max]``.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(f_min))),
                                     float(hz_to_mel(torch.tensor(f_max))), n_mels + 2,
                                     dtype=torch.float64))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return torch.minimum(rising, falling).clamp(min=0.0).float()


class LogMel:
    """Waveform -> log-mel spectrogram, for one ``AudioSettings``.

    Column ``j`` of ``__call__(x)`` analyses ``x[j*hop : j*hop + n_fft]`` (no centring: the
    caller pads, see ``datasets.audio.SoundTrack``). Values are ``log(mel power)``,
    floored at ``log(POWER_FLOOR)`` (digital silence).
    """

    def __init__(self, settings: AudioSettings) -> None:
        self.settings = settings
        self.filters = mel_filterbank(settings.n_fft, settings.n_mels, settings.sample_rate)
        self.window = torch.hann_window(settings.win_length, dtype=torch.float32)
        self.silence = math.log(POWER_FLOOR)

    def num_columns(self, num_samples: int) -> int:
        s = self.settings
        return 0 if num_samples < s.n_fft else 1 + (num_samples - s.n_fft) // s.hop

    @torch.no_grad()
    def __call__(self, samples: torch.Tensor) -> torch.Tensor:
        """``(T,)`` float waveform in [-1,1] -> ``(n_mels, num_columns(T))`` float32.

        Computed in chunks of ``CHUNK_COLUMNS`` so an hour of audio never holds the
        whole complex spectrum in memory.
        """
        s = self.settings
        samples = samples.float()
        total = self.num_columns(samples.numel())
        out = torch.empty(s.n_mels, total)
        for first in range(0, total, CHUNK_COLUMNS):
            count = min(CHUNK_COLUMNS, total - first)
            piece = samples[first * s.hop: (first + count - 1) * s.hop + s.n_fft]
            spec = torch.stft(piece, s.n_fft, hop_length=s.hop, win_length=s.win_length,
                              window=self.window, center=False, return_complex=True)
            power = spec.real.square() + spec.imag.square()  # (n_fft//2+1, count)
            out[:, first: first + count] = (self.filters @ power).clamp_(min=POWER_FLOOR).log_()
        return out
