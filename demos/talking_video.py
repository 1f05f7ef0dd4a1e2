"""A short synthetic "talking" video of the astronaut, with a speech-like soundtrack.

The sound is a voiced buzz (a gliding pitch with vowel-like formants) cut into syllables;
the same syllable envelope opens her mouth, frame by frame, so picture and sound move
together. The head drifts slowly (zoom, rotation, pan). Everything is computed: no file
is downloaded and nothing third-party is copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.media import encode_video
from core.wav import AUDIO_RATE, write_wav
from demos.astronaut import View, face_landmarks, render, source_image

FORMANTS = ((700.0, 1200.0), (400.0, 2000.0), (550.0, 900.0))  # a, e, o: first two formants (Hz)
MOUTH_DARK = np.array([70.0, 25.0, 30.0])  # the inside of an open mouth, RGB


@dataclass(frozen=True)
class Speech:
    """``samples`` in [-1, 1] at ``rate`` Hz, and the mouth opening in [0, 1] per video frame."""

    samples: np.ndarray
    rate: int
    opening: np.ndarray


def syllable_envelope(seconds: float, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A loudness envelope in [0,1] made of syllables (120-300 ms, raised-cosine shaped)
    with short pauses, and the vowel index of each sample."""
    n = int(seconds * rate)
    envelope = np.zeros(n)
    vowel = np.zeros(n, dtype=int)
    t = 0.25  # start with a little silence
    while t < seconds - 0.3:
        length = rng.uniform(0.12, 0.3)
        start, stop = int(t * rate), min(n, int((t + length) * rate))
        envelope[start:stop] = np.sin(np.linspace(0, np.pi, stop - start)) ** 2
        vowel[start:stop] = rng.integers(len(FORMANTS))
        t += length + (rng.uniform(0.25, 0.5) if rng.random() < 0.25 else rng.uniform(0.02, 0.08))
    return envelope, vowel


def speech_like(seconds: float, fps: float, rate: int = AUDIO_RATE, seed: int = 0) -> Speech:
    """A voice-like signal: harmonics of a gliding 110-170 Hz pitch, each weighted by how
    close it lies to the current vowel's formants, times the syllable envelope."""
    rng = np.random.default_rng(seed)
    envelope, vowel = syllable_envelope(seconds, rate, rng)
    t = np.arange(len(envelope)) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t) + 5 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    first, second = (np.array(FORMANTS)[vowel, k] for k in (0, 1))
    signal = np.zeros_like(t)
    for harmonic in range(1, 30):
        freq = harmonic * pitch
        weight = (np.exp(-(((freq - first) / 150) ** 2)) + 0.6 * np.exp(-(((freq - second) / 200) ** 2))
                  + 0.05 / harmonic)
        signal += weight * np.sin(harmonic * phase)
    signal *= envelope
    signal += 0.003 * rng.standard_normal(len(t))  # room noise: real tracks are never digital silence
    signal *= 0.8 / max(np.abs(signal).max(), 1e-9)
    frames = int(round(seconds * fps))
    # The mouth follows the envelope averaged over each frame's duration.
    edges = np.linspace(0, len(envelope), frames + 1).astype(int)
    opening = np.array([envelope[a:b].mean() for a, b in zip(edges[:-1], edges[1:])])
    return Speech(signal.astype(np.float32), rate, opening / max(opening.max(), 1e-9))


def open_mouth(image: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """Open her mouth by ``amount`` in [0,1]: the lower lip and jaw move down and the gap
    between the lips turns dark. ``landmarks`` are the 68 dlib points in ``image``."""
    if amount <= 0:
        return image
    mouth = landmarks[48:68]
    width = float(np.ptp(mouth[:, 0]))
    cx = float(mouth[:, 0].mean())
    lip_line = float(landmarks[[62, 66], 1].mean())  # between the inner lips
    chin = float(landmarks[8, 1])
    drop = amount * 0.35 * width
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.exp(-(((xs - cx) / (0.45 * width)) ** 2))  # strongest in the middle of the mouth
    # 0 above the lips, 1 from the lips down to the chin, fading out below the chin.
    below = np.clip((ys - lip_line) / 2.0, 0, 1) * np.clip(1 - (ys - chin) / (0.6 * width), 0, 1)
    shift = drop * across * below
    moved = cv2.remap(image, xs, ys - shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    # The gap: pixels that now sample from above the lip line are the open mouth.
    gap = ((ys - shift) < lip_line) & (ys >= lip_line) & (shift > 1.0)
    gap = cv2.GaussianBlur(gap.astype(np.float32), (5, 5), 1.0)[..., None]
    return (moved * (1 - gap) + MOUTH_DARK * gap).astype(np.uint8)


def head_motion(t: float, seconds: float) -> View:
    """A slow drift of zoom, rotation and position (a person who moves while talking)."""
    phase = 2 * np.pi * t / seconds
    return View(zoom=1.15 + 0.08 * np.sin(phase), shift=(0.03 * np.sin(2 * phase), 0.02 * np.cos(phase)),
                angle=6 * np.sin(phase + 0.5), mirror=False, hue=0.0, saturation=1.0,
                brightness=1.0, contrast=1.0)


def write_talking_video(path: Path, seconds: float = 4.0, fps: float = 20.0, side: int = 256,
                        seed: int = 0) -> Path:
    """The demo video ``path`` (``.mp4``, ``side`` x ``side``) and its soundtrack beside it
    (``path`` with ``.wav``)."""
    speech = speech_like(seconds, fps, seed=seed)
    wav = write_wav(path.with_suffix(".wav"), speech.samples, speech.rate)
    from tqdm import tqdm

    image, landmarks = source_image(), face_landmarks()
    frames = [render(open_mouth(image, landmarks, float(amount)), head_motion(k / fps, seconds), side)
              for k, amount in enumerate(tqdm(speech.opening, desc="video frames", unit="frame",
                                              dynamic_ncols=True))]
    return encode_video(path, frames, fps, wav)
