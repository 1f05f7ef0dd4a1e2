"""dlib face detection, 68-point landmarks and face descriptors, with the model files that
ship in the ``face_recognition_models`` package (nothing is downloaded).

The package's own ``__init__`` imports ``pkg_resources``; we only need its data files, so
we find its folder without importing it.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np


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


def _model_file(name: str) -> str:
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

    return dlib.shape_predictor(_model_file("shape_predictor_68_face_landmarks.dat"))


@lru_cache(maxsize=1)
def face_encoder():
    import dlib

    return dlib.face_recognition_model_v1(_model_file("dlib_face_recognition_resnet_model_v1.dat"))


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
