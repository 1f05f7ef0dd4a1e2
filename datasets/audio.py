"""A video's soundtrack as per-frame audio features (the proposed model's conditioning).

The track is decoded and turned into a log-mel spectrogram once, normalised per mel band
over the whole track (so a quiet and a loud recording look alike), and kept in memory.
Frame ``k`` at time ``t_k`` then takes the ``window_s`` seconds centred on ``t_k`` as a
slice of that spectrogram, as if the waveform were zero-padded beyond its ends: nothing
is decoded or transformed again per sample.

A prepared video dataset (``python3 -m datasets.prepare video``) holds the track as
``ROOT/audio/TRACK.wav`` and the frame times as ``ROOT/frames.csv`` (``name,timestamp_seconds``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from math import gcd
from pathlib import Path

import numpy as np
import torch

from datasets.audio_features import AudioSettings, LogMel
from datasets.layout import DatasetError

STD_FLOOR = 1e-2  # per-band std below this (a constant band, e.g. a silent track) is not amplified
PREPARE_HINT = ("prepare a video dataset with 'python3 -m datasets.prepare video --video FILE "
                "--out ROOT', or train without audio (audio=none)")


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
            raise DatasetError("the soundtrack is empty (0 samples)")
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
        from datasets.video import VideoError, read_wav

        path = Path(path)
        try:
            samples, rate = read_wav(path)
        except (OSError, EOFError, VideoError) as err:
            raise DatasetError(f"{path}: cannot read the soundtrack ({err})") from None
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


def read_frames_csv(path: Path) -> dict[str, float]:
    """``frames.csv`` (header ``name,timestamp_seconds``) -> {frame name: seconds}."""
    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    for line, row in enumerate(rows, 1):
        if line == 1 and row[0].strip() == "name":
            continue
        try:
            out[row[0].strip()] = float(row[1])
        except (IndexError, ValueError):
            raise DatasetError(f"{path}, row {line}: expected name,timestamp_seconds; got {row}") from None
    return out


class FrameAudio:
    """The audio windows of a prepared video dataset's frames, by frame name.

    ``FrameAudio.from_root(root, settings)`` reads ``root/audio/*.wav`` (exactly one
    track) and ``root/frames.csv``; ``window(name)`` is ``(n_mels, W)``.
    """

    def __init__(self, track: SoundTrack, timestamps: dict[str, float]) -> None:
        self.track = track
        self.timestamps = timestamps

    @classmethod
    def from_root(cls, root: str | Path, settings: AudioSettings) -> FrameAudio:
        """Raises ``DatasetError`` (one line) when the root has no usable soundtrack."""
        root = Path(root)
        tracks = sorted((root / "audio").glob("*.wav")) if (root / "audio").is_dir() else []
        frames_csv = root / "frames.csv"
        if not tracks or not frames_csv.is_file():
            missing = " and ".join(p for p, ok in (("audio/*.wav", bool(tracks)),
                                                   ("frames.csv", frames_csv.is_file())) if not ok)
            raise DatasetError(f"audio conditioning needs a video dataset, but {root} has no "
                               f"{missing}: {PREPARE_HINT}")
        if len(tracks) > 1:
            raise DatasetError(f"{root / 'audio'} holds {len(tracks)} soundtracks; a video dataset "
                               "root holds one video (prepare each video into its own root)")
        return cls(SoundTrack.from_wav(tracks[0], settings), read_frames_csv(frames_csv))

    def require(self, names: Sequence[str], root: str | Path) -> None:
        """DatasetError unless every frame in ``names`` has a timestamp."""
        missing = [n for n in names if n not in self.timestamps]
        if missing:
            first = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            raise DatasetError(f"{len(missing)} frame(s) of {root} have no timestamp in "
                               f"frames.csv ({first})")

    def window(self, name: str) -> torch.Tensor:
        """``(n_mels, W)`` features centred on frame ``name``'s time."""
        return self.track.windows([self.timestamps[name]])[0]

    def windows(self, names: Sequence[str]) -> torch.Tensor:
        """``(N, n_mels, W)`` for several frames at once."""
        return self.track.windows([self.timestamps[n] for n in names])
