"""WAV files: mono 16-bit PCM, the format every soundtrack is kept in."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from core.files import atomic_path

AUDIO_RATE = 16000  # Hz, mono: the rate speech models use
SILENCE_PEAK = 10 ** (-60 / 20)  # a track whose peak stays under -60 dBFS counts as silent


class WavError(ValueError):
    """A WAV file this project cannot read; the message names the file and why."""


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV -> ``(samples,)`` float32 in [-1,1] (channels averaged), sample rate."""
    with wave.open(str(path), "rb") as f:
        rate, channels, width = f.getframerate(), f.getnchannels(), f.getsampwidth()
        data = f.readframes(f.getnframes())
    if width != 2:
        raise WavError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


def is_silent(samples: np.ndarray) -> bool:
    """True when the peak level stays under -60 dBFS (or there are no samples)."""
    return samples.size == 0 or float(np.abs(samples).max()) < SILENCE_PEAK


def write_wav(path: str | Path, samples: np.ndarray, rate: int = AUDIO_RATE) -> Path:
    """``(T,)`` float samples in [-1,1] as a mono 16-bit PCM WAV, atomically."""
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return Path(path)
