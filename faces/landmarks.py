"""dlib's face models: the HOG and CNN detectors, the 68-point landmarks and the 128-d descriptor.

The model files ship in the ``face_recognition_models`` package (nothing is downloaded).
That package's own ``__init__`` imports ``pkg_resources``; we only need its data files, so
we find its folder without importing it.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

Box = tuple[int, int, int, int]  # (left, top, right, bottom) in image pixels


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
def hog_detector():
    """dlib's HOG frontal face detector (fast on CPU)."""
    import dlib

    return dlib.get_frontal_face_detector()


@lru_cache(maxsize=1)
def cnn_detector():
    """dlib's CNN face detector (``mmod_human_face_detector.dat``): slower, finds more."""
    import dlib

    return dlib.cnn_face_detection_model_v1(model_file("mmod_human_face_detector.dat"))


@lru_cache(maxsize=1)
def landmark_predictor():
    import dlib

    return dlib.shape_predictor(model_file("shape_predictor_68_face_landmarks.dat"))


@lru_cache(maxsize=1)
def face_encoder():
    import dlib

    return dlib.face_recognition_model_v1(model_file("dlib_face_recognition_resnet_model_v1.dat"))


def _shape(rgb: np.ndarray, box: Box):
    import dlib

    return landmark_predictor()(np.ascontiguousarray(rgb), dlib.rectangle(*(int(v) for v in box)))


def landmarks(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The 68 iBUG landmarks of the face in ``box`` of ``(H,W,3)`` uint8 RGB as ``(68,2)``
    float (x, y) pixels."""
    return np.array([(p.x, p.y) for p in _shape(rgb, box).parts()], dtype=np.float64)


def face_descriptor(rgb: np.ndarray, box: Box) -> np.ndarray:
    """dlib's ``(128,)`` face descriptor of the face in ``box``; Euclidean distance < 0.6
    means the same person."""
    rgb = np.ascontiguousarray(rgb)
    return np.array(face_encoder().compute_face_descriptor(rgb, _shape(rgb, box)))
