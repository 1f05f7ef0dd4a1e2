"""Faces: dlib detection, 68-point landmarks and descriptors, and the square face crop.

The dlib model files ship in the ``face_recognition_models`` package (nothing is
downloaded). That package's own ``__init__`` imports ``pkg_resources``; we only need its
data files, so we find its folder without importing it.

The crop follows the CelebA-HQ / FFHQ recipe (centre and size from the eyes and the
eye-to-mouth vector), with its side measured on the CelebA-HQ 512 crops of the CelebA
sample data and its centre moved down so a mask under the chin stays inside. Parts of the crop
that fall outside the photo are filled by mirroring, as CelebA-HQ did. Dataset
preparation and inference cut faces with the same functions, so a model sees at inference
what it saw in training.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

DETECT_MAX_SIDE = 1024  # photos are searched for faces at most this large (speed)
MIN_SCORE_RATIO = 0.5  # drop detections scoring under half the best one (look-alike patches)
# Crop side = CROP_SCALE * max(2 * eye distance, 1.8 * eye-to-mouth distance), centred at
# the eye midpoint + CROP_CENTER_SHIFT * eye-to-mouth vector. The side is CelebA-HQ's (measured
# on its 512 crops); the centre sits lower than CelebA-HQ's because masks reach under the
# chin: MaskTheFace's masks on the Dataset1 frames end 2.34 eye distances below the eyes,
# past the CelebA-HQ crop's edge (2.24), and the part outside the crop was never painted.
# This crop ends 2.58 below the eyes and still holds the whole brow.
CROP_SCALE = 2.32
CELEBA_HQ_CENTER_SHIFT = -0.1
CROP_CENTER_SHIFT = 0.3
EYE_TO_MOUTH = 0.85  # eye-to-mouth distance / eye distance, median of the CelebA sample faces


class FaceModelsMissing(RuntimeError):
    """The dlib model files are not installed."""


@lru_cache(maxsize=1)
def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelsMissing("the package face_recognition_models is not installed "
                                "(pip install face-recognition-models, or 'make setup')")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not folder.is_dir():
        raise FaceModelsMissing(f"face_recognition_models has no model folder at {folder}")
    return folder


def model_file(name: str) -> str:
    """The path of one of the dlib model files that ship in ``face_recognition_models``."""
    path = models_dir() / name
    if not path.is_file():
        raise FaceModelsMissing(f"dlib model file missing: {path}")
    return str(path)


@lru_cache(maxsize=1)
def face_detector():
    """dlib's HOG frontal face detector (fast on CPU)."""
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def landmark_predictor():
    import dlib

    return dlib.shape_predictor(model_file("shape_predictor_68_face_landmarks.dat"))


@lru_cache(maxsize=1)
def face_encoder():
    import dlib

    return dlib.face_recognition_model_v1(model_file("dlib_face_recognition_resnet_model_v1.dat"))


def detect_faces(rgb: np.ndarray, upsample: int = 1) -> list:
    """Face rectangles (``dlib.rectangle``) in an ``(H,W,3)`` uint8 RGB image, largest first."""
    rects = list(face_detector()(np.ascontiguousarray(rgb), upsample))
    return sorted(rects, key=lambda r: r.width() * r.height(), reverse=True)


def landmarks(rgb: np.ndarray, rect) -> np.ndarray:
    """The 68 iBUG landmarks of the face in ``rect`` as ``(68,2)`` float (x, y) pixels."""
    shape = landmark_predictor()(np.ascontiguousarray(rgb), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def face_descriptor(rgb: np.ndarray, rect) -> np.ndarray:
    """dlib's 128-d face descriptor; Euclidean distance < 0.6 means the same person."""
    shape = landmark_predictor()(np.ascontiguousarray(rgb), rect)
    return np.array(face_encoder().compute_face_descriptor(np.ascontiguousarray(rgb), shape))


def detect_faces_scored(rgb: np.ndarray, upsample: int = 1) -> list[tuple[object, float]]:
    """``(dlib.rectangle, score)`` pairs, largest first; the score is the HOG detector's
    confidence (real faces score well above 0, look-alike patches near 0)."""
    rects, scores, _ = face_detector().run(np.ascontiguousarray(rgb), upsample, 0.0)
    pairs = list(zip(rects, scores))
    return sorted(pairs, key=lambda p: p[0].width() * p[0].height(), reverse=True)


@dataclass
class Face:
    """A detected face: ``box`` (left, top, right, bottom) in image pixels (the HOG
    detector's geometry), detector ``score``, ``landmarks`` ``(68,2)`` float (x, y) in image
    pixels, and which ``detector`` found it ("hog", "haar" or "cnn")."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray
    detector: str = "hog"

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


def detect_boxes(image: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """Face boxes (left, top, right, bottom) and detector scores in ``(H,W,3)`` uint8 RGB,
    largest first.

    Searches a copy scaled to at most ``DETECT_MAX_SIDE``; when nothing is found there it
    tries again at twice that resolution (dlib's upsampling), which finds faces down to
    about 40 px. Detections scoring under ``MIN_SCORE_RATIO`` of the best are dropped.
    """
    h, w = image.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
    small = image if scale == 1.0 else cv2.resize(image, (round(w * scale), round(h * scale)),
                                                  interpolation=cv2.INTER_AREA)
    found = detect_faces_scored(small, 0) or detect_faces_scored(small, 1)
    if not found:
        return []
    best = max(score for _, score in found)
    return [(tuple(int(round(c / scale)) for c in (r.left(), r.top(), r.right(), r.bottom())), float(score))
            for r, score in found if score >= MIN_SCORE_RATIO * best]


def fit_landmarks(image: np.ndarray, boxes: list[tuple[tuple[int, int, int, int], float]]) -> list[Face]:
    """The 68 landmarks of each detected box, fitted on the full-resolution image."""
    import dlib

    return [Face(box, score, landmarks(image, dlib.rectangle(*box))) for box, score in boxes]


def find_faces(image: np.ndarray) -> list[Face]:
    """Faces in ``(H,W,3)`` uint8 RGB, largest first, each with its 68 landmarks."""
    return fit_landmarks(image, detect_boxes(image))


def crop_box(lm: np.ndarray) -> tuple[float, float, float]:
    """Centre x, centre y and side (pixels) of the square face crop for landmarks ``(68,2)``.

    From the eyes alone, which a face mask leaves visible (its mouth landmarks are guesses):
    the eye-to-mouth vector is taken as ``EYE_TO_MOUTH`` eye distances at right angles to
    the eye line.
    """
    eye_left, eye_right = lm[36:42].mean(0), lm[42:48].mean(0)
    across = eye_right - eye_left
    eye_distance = float(np.linalg.norm(across))
    down = np.array([-across[1], across[0]]) / max(eye_distance, 1e-9)  # towards the chin
    eye_to_mouth = EYE_TO_MOUTH * eye_distance * down
    side = CROP_SCALE * max(2.0 * eye_distance, 1.8 * np.linalg.norm(eye_to_mouth))
    cx, cy = (eye_left + eye_right) / 2 + CROP_CENTER_SHIFT * eye_to_mouth
    return float(cx), float(cy), float(side)


def crop_square(image: np.ndarray, cx: float, cy: float, side: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``side x side`` square centred at (cx, cy), mirrored where it leaves the image.

    ``image``: ``(H,W,3)`` or ``(H,W)`` (a mask). Returns the crop and its top-left corner
    (x0, y0) in image pixels, so that ``crop_point = image_point - (x0, y0)``.
    """
    h, w = image.shape[:2]
    n = max(1, int(round(side)))
    x0, y0 = int(round(cx - n / 2)), int(round(cy - n / 2))
    x1, y1 = x0 + n, y0 + n
    inner = image[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    pads = ((max(0, -y0), max(0, y1 - h)), (max(0, -x0), max(0, x1 - w)), (0, 0))[: image.ndim]
    if inner.size == 0:
        raise ValueError("crop lies entirely outside the image")
    crop = np.pad(inner, pads, mode="reflect") if any(p for pair in pads[:2] for p in pair) else inner
    return np.ascontiguousarray(crop), np.array([x0, y0], np.float64)


def square_pad(image: np.ndarray) -> np.ndarray:
    """A non-square image mirrored out to a square (nothing is cut off); squares unchanged."""
    h, w = image.shape[:2]
    if h == w:
        return image
    extra = abs(h - w)
    before, after = extra // 2, extra - extra // 2
    pads = ((before, after), (0, 0), (0, 0)) if h < w else ((0, 0), (before, after), (0, 0))
    return np.pad(image, pads, mode="reflect")
