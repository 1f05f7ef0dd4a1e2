"""Identity distance: does the reconstruction look like the same person?

The Euclidean distance between dlib face descriptors (the ResNet shipped in
``face_recognition_models``) of the ground truth and a reconstruction; lower is better and
below 0.6 dlib calls it the same person. The face is found once, in the ground truth, and
the same rectangle is described in each candidate, since a reconstruction is pixel-aligned
with its ground truth (and the mask it is painting over can hide the face from the detector).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from faces.detect import BARE_FULL_RESOLUTION, detect
from faces.landmarks import face_descriptor

SAME_PERSON = 0.6


def identity_distances(reference: np.ndarray, candidates: Sequence[np.ndarray]) -> list[float]:
    """Distance of each ``(H,W,3)`` uint8 candidate to the ``(H,W,3)`` uint8 reference.

    All NaN when no face is found in the reference.
    """
    faces = detect(reference, BARE_FULL_RESOLUTION)
    if not faces:
        return [math.nan] * len(candidates)
    face = faces[0].box
    ref = face_descriptor(reference, face)
    return [float(np.linalg.norm(face_descriptor(c, face) - ref)) for c in candidates]
