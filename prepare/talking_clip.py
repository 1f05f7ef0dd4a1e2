"""A synthetic "talking" clip in which only the soundtrack tells what the mouth looks like.

The face is scikit-image's public-domain astronaut. At every moment one of a few tones
plays, and the mouth (which the face mask covers) takes the appearance that belongs to
that tone: dark and open, white teeth, or red lips. The face around the mask moves at
random, independently of the tone, so nothing visible outside the mask predicts the
mouth. A reconstructor that uses the audio can paint the right mouth; one without audio
can at best paint the average of the appearances.

Two forms:
- ``write_talking_dataset``: a prepared dataset root written directly (image, masked,
  binary, ``audio/talk.wav``, ``frames.csv``, annotations), with a drawn mask and no face
  detection: fast, for tests.
- ``write_talking_video``: an mp4 (H.264 + AAC) for ``python3 -m prepare video``,
  which then finds the face and draws its own masks, like for any user video::

      python3 -m prepare clip --out talk.mp4 [--seconds 60] [--fps 4] [--seed 0]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from core.images import write_image
from core.media import encode_video
from core.wav import AUDIO_RATE, write_wav
from datasets.layout import write_annotations, write_frames_csv

TONES_HZ = (400.0, 1000.0, 2500.0)  # one per mouth appearance; several mel bands apart
# Mouth appearances (RGB) and half-heights relative to the mouth's half-width.
MOUTHS = (((25, 5, 10), 0.75),   # open: dark cavity, tall
          ((245, 245, 240), 0.45),  # teeth: white, medium
          ((215, 30, 50), 0.25))  # lips pressed: red, flat
# Geometry measured once with dlib on the 512 x 512 astronaut (landmarks 48-67 and 30/8).
MOUTH_CENTRE = (223.0, 147.5)
MOUTH_HALF_WIDTH = 26.0
FACE_CENTRE = (223.0, 132.0)
FACE_SIDE = 150.0  # a square around the face, in astronaut pixels
MASK_POLYGON = np.array([(186, 118), (260, 118), (266, 158), (224, 186), (181, 158)], np.float32)
MASK_COLOUR = (120, 170, 215)


def astronaut() -> np.ndarray:
    """``(512,512,3)`` uint8 RGB, public domain."""
    from skimage import data

    return data.astronaut()


def mouth_classes(count: int, seed: int = 0, kinds: int = len(MOUTHS)) -> np.ndarray:
    """``(count,)`` int: the mouth appearance (and tone) of each frame, uniformly random."""
    return np.random.default_rng(seed).integers(0, kinds, count)


def tone_track(classes: np.ndarray, frame_s: float, sample_rate: int = AUDIO_RATE,
               amplitude: float = 0.3) -> np.ndarray:
    """``(len(classes) * frame_s * rate,)`` float32 in [-1,1]: frame ``k`` (at ``k*frame_s``)
    has its tone over ``[(k-1/2)*frame_s, (k+1/2)*frame_s)``, so the window centred on
    each frame hears that frame's tone. The first frame's tone starts at 0."""
    n = int(round(len(classes) * frame_s * sample_rate))
    t = np.arange(n) / sample_rate
    frame = np.clip(np.floor(t / frame_s + 0.5).astype(int), 0, len(classes) - 1)
    freqs = np.asarray(TONES_HZ)[classes[frame]]
    # Integrate the frequency so the phase stays continuous at the switches (no clicks).
    phase = 2 * np.pi * np.cumsum(freqs) / sample_rate
    return (amplitude * np.sin(phase)).astype(np.float32)


def draw_mouth(image: np.ndarray, kind: int) -> np.ndarray:
    """The 512 astronaut with mouth appearance ``kind`` painted over its mouth (a copy)."""
    colour, height = MOUTHS[kind]
    out = image.copy()
    centre = tuple(int(round(c)) for c in MOUTH_CENTRE)
    axes = (int(MOUTH_HALF_WIDTH), int(round(MOUTH_HALF_WIDTH * height)))
    cv2.ellipse(out, centre, axes, 0, 0, 360, colour, -1, lineType=cv2.LINE_AA)
    return out


def random_view(rng: np.random.Generator, side: float, out_size: int) -> np.ndarray:
    """``(2,3)`` affine from astronaut pixels to an ``out_size`` frame showing a ``side``-pixel
    square around the face, shifted by up to 6% and scaled by up to 8% at random."""
    scale = out_size / side * rng.uniform(0.92, 1.08)
    cx, cy = FACE_CENTRE + rng.uniform(-0.06, 0.06, 2) * side
    return np.array([[scale, 0, out_size / 2 - scale * cx], [0, scale, out_size / 2 - scale * cy]],
                    np.float32)


def render_frame(base: np.ndarray, kind: int, view: np.ndarray, out_size: int) -> np.ndarray:
    """``(out_size,out_size,3)`` uint8: the astronaut with mouth ``kind`` seen through ``view``."""
    return cv2.warpAffine(draw_mouth(base, kind), view, (out_size, out_size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REFLECT)


def write_talking_dataset(root: str | Path, frames: int, size: int = 32, frame_s: float = 0.25,
                          val_every: int = 5, seed: int = 0) -> Path:
    """A prepared video dataset root with ``frames`` frames at ``1/frame_s`` fps.

    Writes ``image/``, ``image_masked/``, ``image_binary/`` (PNG), ``audio/talk.wav``
    (16 kHz), ``frames.csv`` and ``annotations/{train,val}.csv`` (every ``val_every``-th
    frame held out for validation). Returns ``root``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    classes = mouth_classes(frames, seed)
    base = astronaut()
    examples = []
    times = []
    for k, kind in enumerate(classes):
        name = f"frame{k:04d}"
        view = random_view(rng, FACE_SIDE, size)
        clean = render_frame(base, int(kind), view, size)
        polygon = cv2.transform(MASK_POLYGON[None], view)[0]
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        masked = clean.copy()
        noise = rng.normal(0, 6, (int(mask.sum()), 3))
        masked[mask > 0] = np.clip(np.asarray(MASK_COLOUR) + noise, 0, 255).astype(np.uint8)
        write_image(root / "image" / f"{name}.png", clean)
        masked_path = root / "image_masked" / f"{name}_masked.png"
        binary_path = root / "image_binary" / f"{name}_binary.png"
        write_image(masked_path, masked)
        write_image(binary_path, mask * 255)
        examples.append(("val" if k % val_every == val_every - 1 else "train", masked_path, binary_path))
        times.append((name, round(k * frame_s, 6)))
    write_wav(root / "audio" / "talk.wav", tone_track(classes, frame_s), AUDIO_RATE)
    write_frames_csv(root / "frames.csv", times)
    write_annotations(root, examples)
    return root


def write_talking_video(path: str | Path, seconds: float, fps: int = 4, size: int = 256,
                        classes: np.ndarray | None = None, seed: int = 0) -> Path:
    """An H.264 + AAC mp4 of the talking astronaut: one mouth / tone per video frame
    (frame ``k`` at ``k/fps`` s), the view moving at random. ``classes`` overrides the
    random mouth sequence (one entry per frame)."""
    path = Path(path)
    count = int(round(seconds * fps))
    classes = mouth_classes(count, seed) if classes is None else np.asarray(classes)
    rng = np.random.default_rng(seed)
    base = astronaut()
    # A wider view than the dataset crop: the preparation step finds and crops the face.
    frames = [render_frame(base, int(kind), random_view(rng, 2.2 * FACE_SIDE, size), size)
              for kind in classes]
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "tones.wav", tone_track(classes, 1.0 / fps), AUDIO_RATE)
        encode_video(path, frames, fps, wav)
    return path
