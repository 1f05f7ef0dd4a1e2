"""A soundtrack as per-frame audio features (the proposed model's conditioning).

Log-mel spectrograms with plain torch: ``torch.stft`` and our own mel filterbank. The
settings that define a feature (rate, bands, hop, analysis window, context window) travel
together as ``AudioSettings`` so a trained audio encoder can record exactly which features
it was trained on, and inference can recompute them.

A track is decoded and turned into a log-mel spectrogram once (``SoundTrack``), normalised
per mel band over the whole track (so a quiet and a loud recording look alike), and kept
in memory. Frame ``k`` at time ``t_k`` then takes the ``window_s`` seconds centred on
``t_k`` as a slice of that spectrogram, as if the waveform were zero-padded beyond its
ends: nothing is decoded or transformed again per sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.wav import WavError, read_wav

F_MIN = 20.0  # Hz; below this there is only rumble, no speech
POWER_FLOOR = 1e-10  # log(POWER_FLOOR) is what digital silence maps to
CHUNK_COLUMNS = 4096  # spectrogram columns computed per stft call (bounds memory on long tracks)
STD_FLOOR = 1e-2  # per-band std below this (a constant band, e.g. a silent track) is not amplified


class AudioError(ValueError):
    """A soundtrack that cannot be used; one line."""


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
    caller pads, see ``SoundTrack``). Values are ``log(mel power)``,
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


class SoundTrack:
    """One soundtrack's normalised log-mel spectrogram and the windows around given times.

    Args:
        samples: ``(T,)`` mono waveform in [-1,1] at ``settings.sample_rate``.
        settings: the features to compute.
    """

    def __init__(self, samples: np.ndarray | torch.Tensor, settings: AudioSettings) -> None:
        self.settings = s = settings
        samples = torch.as_tensor(samples, dtype=torch.float32).flatten()
        if samples.numel() == 0:
            raise AudioError("the soundtrack is empty (0 samples)")
        self.duration = samples.numel() / s.sample_rate
        logmel = LogMel(s)
        half = s.n_fft // 2
        # Column j is centred on sample j*hop. Columns -lead .. last still see the signal
        # (the ones further out analyse only zeros, i.e. silence), so compute those.
        lead = math.ceil(half / s.hop)
        last = math.ceil((samples.numel() + half) / s.hop)
        count = lead + last + 1
        left = lead * s.hop + half  # so padded column i starts at original sample (i-lead)*hop - half
        right = (count - 1) * s.hop + s.n_fft - left - samples.numel()
        spec = logmel(torch.nn.functional.pad(samples, (left, right)))  # (n_mels, count)
        # Statistics over the columns centred inside the track (not the padding).
        inside = spec[:, lead: lead + 1 + (samples.numel() - 1) // s.hop]
        mean, std = inside.mean(dim=1, keepdim=True), inside.std(dim=1, keepdim=True)
        std = std.clamp(min=STD_FLOOR)
        silence = (logmel.silence - mean) / std  # (n_mels, 1)
        width = s.columns
        # W silence columns on each side, so any window near the ends is one plain slice;
        # indices further out are clamped onto them.
        self.features = torch.cat([silence.expand(-1, width), (spec - mean) / std,
                                   silence.expand(-1, width)], dim=1).contiguous()
        self.offset = width + lead  # stored index of column 0 (centred on t = 0)
        # Per-band statistics, ``(n_mels,)``: ``features * std + mean`` is the log-mel power.
        self.mean, self.std = mean.squeeze(1), std.squeeze(1)

    @classmethod
    def from_wav(cls, path: str | Path, settings: AudioSettings) -> SoundTrack:
        """Read a 16-bit PCM WAV (channels averaged, resampled to ``settings.sample_rate``)."""
        path = Path(path)
        try:
            samples, rate = read_wav(path)
        except (OSError, EOFError, WavError) as err:
            raise AudioError(f"{path}: cannot read the soundtrack ({err})") from None
        return cls(resample(samples, rate, settings.sample_rate), settings)

    def columns_at(self, timestamps: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Stored column indices ``(N, W)`` of the windows centred on ``timestamps`` (seconds)."""
        s = self.settings
        t = torch.as_tensor(np.asarray(timestamps, dtype=np.float64)).reshape(-1)
        centre = torch.floor(t * s.sample_rate / s.hop + 0.5).long()
        width = s.columns
        first = centre - width // 2 + self.offset
        index = first[:, None] + torch.arange(width)[None, :]
        return index.clamp_(0, self.features.shape[1] - 1)

    def to_log_mel(self, features: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: ``(..., n_mels, W)`` features -> log mel power."""
        return features * self.std[:, None] + self.mean[:, None]

    def windows(self, timestamps: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Features of the ``window_s`` seconds centred on each time: ``(N, n_mels, W)`` float32,
        normalised per band (zero mean, unit variance over the track)."""
        index = self.columns_at(timestamps)
        return self.features[:, index].permute(1, 0, 2).contiguous()


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``(T,)`` at ``rate`` -> ``(T * target / rate,)`` at ``target`` (polyphase, anti-aliased)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)
