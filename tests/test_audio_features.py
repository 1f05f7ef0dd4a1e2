"""Log-mel features and per-frame windows (``core.audio``, ``datasets.audio``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.audio import POWER_FLOOR, AudioSettings, LogMel, SoundTrack, mel_filterbank, resample

RATE = 16000


def tone(freq: float, seconds: float, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def test_filterbank_shape_and_tones_land_in_their_band():
    s = AudioSettings()
    bank = mel_filterbank(s.n_fft, s.n_mels, s.sample_rate)
    assert bank.shape == (s.n_mels, s.n_fft // 2 + 1)
    assert float(bank.min()) >= 0 and float(bank.max()) <= 1
    peaks = bank.argmax(dim=1)
    assert torch.all(peaks[1:] >= peaks[:-1]), "filters must be ordered by frequency"
    # A pure tone's strongest band moves up with its frequency, and higher bands are wider.
    logmel = LogMel(s)
    bands = [int(logmel(torch.from_numpy(tone(f, 0.2))).mean(1).argmax()) for f in (300, 1000, 3000, 6000)]
    assert bands == sorted(bands) and len(set(bands)) == 4, bands
    widths = (bank > 0).sum(dim=1)
    assert widths[-1] > widths[0]


def test_window_equals_log_mel_of_the_zero_padded_waveform():
    """Any frame time, near the ends or past them: the stored slice equals the log-mel
    computed directly on the zero-padded waveform around that time."""
    s = AudioSettings(window_s=0.3)
    rng = np.random.default_rng(0)
    samples = (rng.normal(0, 0.1, int(1.3 * RATE)) * np.hanning(int(1.3 * RATE))).astype(np.float32)
    track = SoundTrack(samples, s)
    times = np.array([0.0, 0.004, 0.15, 0.7, 1.29, 1.4, 3.0])
    got = track.to_log_mel(track.windows(times))
    assert got.shape == (len(times), s.n_mels, s.columns)
    logmel, pad = LogMel(s), 10 * RATE
    padded = torch.from_numpy(np.concatenate([np.zeros(pad), samples, np.zeros(pad)]).astype(np.float32))
    for k, t in enumerate(times):
        centre = math.floor(t * RATE / s.hop + 0.5)
        first = (centre - s.columns // 2) * s.hop - s.n_fft // 2 + pad  # sample where column 0 starts
        direct = logmel(padded[first: first + (s.columns - 1) * s.hop + s.n_fft])
        assert torch.allclose(got[k], direct, atol=2e-3), (t, float((got[k] - direct).abs().max()))
    # Far past the end there is only silence.
    assert torch.allclose(got[-1], torch.full_like(got[-1], math.log(POWER_FLOOR)), atol=1e-3)


def test_features_are_normalised_per_band_and_ignore_the_recording_level():
    s = AudioSettings(window_s=0.5)
    rng = np.random.default_rng(1)
    speechlike = np.concatenate([tone(f, 0.4) * rng.uniform(0.2, 1) for f in (200, 600, 1800, 4000, 900)])
    speechlike += rng.normal(0, 0.01, speechlike.shape).astype(np.float32)
    loud, quiet = SoundTrack(speechlike, s), SoundTrack(0.05 * speechlike, s)
    inside = loud.features[:, loud.offset: loud.offset + len(speechlike) // s.hop]
    assert torch.allclose(inside.mean(1), torch.zeros(s.n_mels), atol=0.05)
    assert torch.allclose(inside.std(1), torch.ones(s.n_mels), atol=0.05)
    times = [0.5, 1.0, 1.5]  # windows away from the zero padding
    assert torch.allclose(loud.windows(times), quiet.windows(times), atol=0.05)


def test_resampling_keeps_a_tone_and_the_duration():
    samples = tone(1000, 1.0, rate=44100)
    out = resample(samples, 44100, RATE)
    assert len(out) == RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert np.fft.rfftfreq(len(out), 1 / RATE)[spectrum.argmax()] == pytest.approx(1000, abs=2)


def test_long_tracks_are_computed_in_chunks_with_the_same_result(monkeypatch):
    import core.audio as features

    s = AudioSettings(window_s=0.2)
    samples = np.random.default_rng(2).normal(0, 0.1, 3 * RATE).astype(np.float32)
    whole = SoundTrack(samples, s)
    monkeypatch.setattr(features, "CHUNK_COLUMNS", 7)
    chunked = SoundTrack(samples, s)
    assert torch.allclose(whole.features, chunked.features, atol=1e-4)
