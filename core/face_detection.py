"""Finding faces that wear face masks, anywhere in a photo or video frame.

Detectors trained on bare faces miss many masked ones: dlib's HOG detector at its default
threshold finds 16 of the 30 MaskTheFace-masked CelebA sample faces. Three detectors that
ship with our dependencies miss different faces, so they are combined:

1. dlib's HOG detector with a lowered threshold (``hog_threshold``), and OpenCV's Haar
   cascade ``haarcascade_frontalface_alt2`` (it keys on the eyes and brow, which a mask
   leaves visible), both on a copy scaled to at most ``max_side``;
2. where both find nothing, dlib's CNN detector (``mmod_human_face_detector.dat``, from
   ``face_recognition_models``) on a copy scaled to at most ``cnn_max_side``: slower, so
   only as a fallback.

Boxes of the three disagree in size and centre; each is mapped onto the HOG detector's
geometry (the offsets and scales below, measured on the CelebA sample faces), overlapping
boxes are merged (HOG's kept: the landmark model was trained on its boxes), and the 68
landmarks are fitted in the full-resolution image. ``benchmarks/face_detection.py``
measures the recall of each setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from core.faces import Face, face_detector, landmarks, model_file

# (centre dx, centre dy, width) of a detector's box relative to the HOG box of the same face,
# in HOG box widths: its HOG box is (centre - (dx, dy) * w, w) for a box of width scale * w.
BOX_GEOMETRY = {"hog": (0.0, 0.0, 1.0), "haar": (0.008, -0.062, 1.143), "cnn": (-0.021, -0.074, 0.984)}
PREFERENCE = ("hog", "haar", "cnn")  # when boxes of one face overlap, keep the first kind
MERGE_IOU = 0.3
MIN_FACE = 20  # pixels (full resolution): smaller boxes are noise


@dataclass(frozen=True)
class DetectorSettings:
    """Which detectors run, on copies how large. ``hog_threshold`` 0 is dlib's default."""

    hog: bool = True
    hog_threshold: float = -0.3
    haar: bool = True
    cnn_fallback: bool = True
    max_side: int = 1024
    cnn_max_side: int = 768
    hog_upsample: int = 0


@cache
def haar_cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    if cascade.empty():
        raise RuntimeError("OpenCV's haarcascade_frontalface_alt2.xml is missing from cv2.data")
    return cascade


@cache
def cnn_detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(model_file("mmod_human_face_detector.dat"))


def _scaled(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return np.ascontiguousarray(image), 1.0
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA), scale


def _as_hog_box(box: np.ndarray, kind: str) -> np.ndarray:
    """A detector's (l, t, r, b) box -> the HOG detector's box of the same face."""
    dx, dy, scale = BOX_GEOMETRY[kind]
    width = (box[2] - box[0]) / scale
    cx, cy = (box[0] + box[2]) / 2 - dx * width, (box[1] + box[3]) / 2 - dy * width
    return np.array([cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _candidates(image: np.ndarray, settings: DetectorSettings) -> list[tuple[str, np.ndarray, float]]:
    """``(kind, box in full-resolution HOG geometry, score)`` from the first-round detectors."""
    small, scale = _scaled(image, settings.max_side)
    found = []
    if settings.hog:
        rects, scores, _ = face_detector().run(small, settings.hog_upsample, settings.hog_threshold)
        found += [("hog", np.array([r.left(), r.top(), r.right(), r.bottom()], float), s)
                  for r, s in zip(rects, scores)]
    if settings.haar:
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        boxes = haar_cascade().detectMultiScale(gray, 1.1, 5, minSize=(30, 30))
        found += [("haar", np.array([x, y, x + w, y + h], float), 0.0) for x, y, w, h in boxes]
    if not found and settings.cnn_fallback:
        small, scale = _scaled(image, settings.cnn_max_side)
        found = [("cnn", np.array([d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()], float),
                  float(d.confidence)) for d in cnn_detector()(small, 0)]
    return [(kind, _as_hog_box(box / scale, kind), score) for kind, box, score in found]


def merge(candidates: list[tuple[str, np.ndarray, float]]) -> list[tuple[str, np.ndarray, float]]:
    """One box per face: of overlapping boxes the preferred kind's (then the higher score)."""
    ranked = sorted(candidates, key=lambda c: (PREFERENCE.index(c[0]), -c[2]))
    kept: list[tuple[str, np.ndarray, float]] = []
    for candidate in ranked:
        if all(box_iou(candidate[1], k[1]) <= MERGE_IOU for k in kept):
            kept.append(candidate)
    return kept


def detect_masked_faces(image: np.ndarray, settings: DetectorSettings = DetectorSettings()) -> list[Face]:
    """Faces, masked or not, in an ``(H,W,3)`` uint8 RGB image, largest first, each with its
    68 landmarks fitted at full resolution (``Face.detector`` says which detector found it)."""
    import dlib

    image = np.ascontiguousarray(image)
    faces = []
    for kind, box, score in merge(_candidates(image, settings)):
        if box[2] - box[0] < MIN_FACE:
            continue
        left, top, right, bottom = (int(round(v)) for v in box)
        points = landmarks(image, dlib.rectangle(left, top, right, bottom))
        faces.append(Face((left, top, right, bottom), float(score), points, kind))
    return sorted(faces, key=lambda f: f.width, reverse=True)
