"""The one face detector: faces, masked or not, anywhere in a photo, with named presets.

Detectors trained on bare faces miss many masked ones: dlib's HOG detector at its default
threshold finds 16 of the 30 MaskTheFace-masked CelebA sample faces. Three detectors that
ship with our dependencies miss different faces, so they can be combined
(``DetectorSettings`` says which run):

1. dlib's HOG detector (threshold ``hog_threshold``, optionally searched again upsampled
   when it finds nothing) and OpenCV's Haar cascade ``haarcascade_frontalface_alt2`` (it
   keys on the eyes and brow, which a mask leaves visible), both on a copy scaled to at
   most ``max_side``;
2. where both find nothing, dlib's CNN detector on a copy scaled to at most
   ``cnn_max_side``: slower, so only as a fallback.

Boxes of the three disagree in size and centre; each is mapped onto the HOG detector's
geometry (the offsets and scales below, measured on the CelebA sample faces), overlapping
boxes are merged (HOG's kept: the landmark model was trained on its boxes), and the 68
landmarks are fitted in the full-resolution image (``fit_landmarks``).

A HOG detection under dlib's own threshold (0) beside a confident face is a look-alike more
often than a face (the round mission patch on the astronaut's suit scores -0.05, her face
1.53): with ``confirm_weak`` it is kept only where the Haar cascade found the same face or
dlib's CNN finds one in a small cut around it. Alone in a photo it is kept: a masked face
often scores under 0, and no better candidate is there.
``benchmarks/face_detection.py`` measures the recall of each setting.

Presets: ``INFERENCE`` (the combination above: masked faces in any photo), ``PREPARE``
(HOG only at its default threshold, weak look-alikes dropped: the bare faces a dataset is
made from) and ``BARE_FULL_RESOLUTION`` (HOG upsampled once on the unscaled image: the
reference face of a metric or a benchmark's ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import cv2
import numpy as np

from faces.landmarks import Box, cnn_detector, hog_detector, landmarks

# (centre dx, centre dy, width) of a detector's box relative to the HOG box of the same face,
# in HOG box widths: its HOG box is (centre - (dx, dy) * w, w) for a box of width scale * w.
BOX_GEOMETRY = {"hog": (0.0, 0.0, 1.0), "haar": (0.008, -0.062, 1.143), "cnn": (-0.021, -0.074, 0.984)}
PREFERENCE = ("hog", "haar", "cnn")  # when boxes of one face overlap, keep the first kind
MERGE_IOU = 0.3
SMALLEST_IMAGE = 16  # dlib's CNN fails below this side (its filters do not fit), and no face is that small


@dataclass(frozen=True)
class DetectorSettings:
    """Which detectors run, on copies how large, and which detections are kept.

    ``hog_threshold`` 0 is dlib's default; ``hog_retry_upsampled``: where HOG finds nothing,
    search again at twice the resolution (finds faces down to about 40 px);
    ``max_side`` None: search the image at its own resolution; ``min_score_ratio``: drop
    detections scoring under this fraction of the best one (look-alike patches);
    ``min_face``: drop boxes narrower than this (pixels of the full-resolution image);
    ``confirm_weak``: a weak HOG detection beside a confident face needs a second detector.
    """

    hog: bool = True
    hog_threshold: float = -0.3
    hog_upsample: int = 0
    hog_retry_upsampled: bool = False
    haar: bool = True
    cnn_fallback: bool = True
    max_side: int | None = 1024
    cnn_max_side: int = 768
    min_score_ratio: float = 0.0
    min_face: int = 20
    confirm_weak: bool = True


INFERENCE = DetectorSettings()
PREPARE = DetectorSettings(hog_threshold=0.0, hog_retry_upsampled=True, haar=False, cnn_fallback=False,
                           min_score_ratio=0.5, min_face=0, confirm_weak=False)
BARE_FULL_RESOLUTION = DetectorSettings(hog_threshold=0.0, hog_upsample=1, haar=False, cnn_fallback=False,
                                        max_side=None, min_face=0, confirm_weak=False)
WEAK_SCORE = 0.0  # dlib's own HOG threshold: under it, a detection needs confirming
CONFIRM_SIDE = 160  # the CNN confirms a weak face in a cut this many pixels across
CONFIRM_MARGIN = 0.5  # that cut: the box grown by this share of its width on each side
NEAR_MARGIN = 0.25  # a search near a followed face: its crop grown by this share of its side on each side
NEAR_SIDE = 320  # ... searched at most this many pixels across (the face about 130 px wide)


@dataclass(frozen=True)
class Detection:
    """A face's ``box`` (left, top, right, bottom) in image pixels (the HOG detector's
    geometry), the detector's ``score`` and which ``detector`` found it ("hog", "haar", "cnn")."""

    box: Box
    score: float
    detector: str = "hog"

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


@dataclass
class Face:
    """A detection with its ``landmarks``: ``(68,2)`` float (x, y) in image pixels."""

    box: Box
    score: float
    landmarks: np.ndarray
    detector: str = "hog"

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


@cache
def haar_cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
    if cascade.empty():
        raise RuntimeError("OpenCV's haarcascade_frontalface_alt2.xml is missing from cv2.data")
    return cascade


def _scaled(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = 1.0 if max_side is None else min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return np.ascontiguousarray(image), 1.0
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA), scale


def _as_hog_box(box: np.ndarray, kind: str) -> np.ndarray:
    """A detector's (l, t, r, b) box -> the HOG detector's box of the same face."""
    if kind == "hog":
        return box
    dx, dy, scale = BOX_GEOMETRY[kind]
    width = (box[2] - box[0]) / scale
    cx, cy = (box[0] + box[2]) / 2 - dx * width, (box[1] + box[3]) / 2 - dy * width
    return np.array([cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _hog(small: np.ndarray, settings: DetectorSettings) -> list[tuple[str, np.ndarray, float]]:
    rects, scores, _ = hog_detector().run(small, settings.hog_upsample, settings.hog_threshold)
    if not len(rects) and settings.hog_retry_upsampled:
        rects, scores, _ = hog_detector().run(small, settings.hog_upsample + 1, settings.hog_threshold)
    return [("hog", np.array([r.left(), r.top(), r.right(), r.bottom()], float), float(s))
            for r, s in zip(rects, scores)]


def _candidates(image: np.ndarray, settings: DetectorSettings) -> list[tuple[str, np.ndarray, float]]:
    """``(kind, box in full-resolution HOG geometry, score)`` from every detector that ran."""
    small, scale = _scaled(image, settings.max_side)
    found = _hog(small, settings) if settings.hog else []
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


def _cnn_confirms(image: np.ndarray, box: np.ndarray) -> bool:
    """Whether dlib's CNN finds a face in a small cut around ``box`` (l, t, r, b)."""
    margin = (box[2] - box[0]) * CONFIRM_MARGIN
    h, w = image.shape[:2]
    left, top = int(max(box[0] - margin, 0)), int(max(box[1] - margin, 0))
    right, bottom = int(min(box[2] + margin, w)), int(min(box[3] + margin, h))
    cut, _ = _scaled(image[top:bottom, left:right], CONFIRM_SIDE)
    return min(cut.shape[:2]) >= SMALLEST_IMAGE and len(cnn_detector()(np.ascontiguousarray(cut), 0)) > 0


def confirmed(image: np.ndarray, merged: list[tuple[str, np.ndarray, float]],
              candidates: list[tuple[str, np.ndarray, float]]) -> list[tuple[str, np.ndarray, float]]:
    """``merged`` without the weak HOG detections that stand beside a confident face and that
    neither the Haar cascade (among ``candidates``) nor the CNN confirms."""
    def weak(m: tuple[str, np.ndarray, float]) -> bool:
        return m[0] == "hog" and m[2] < WEAK_SCORE

    if all(weak(m) for m in merged):
        return merged
    return [m for m in merged if not weak(m) or any(
        c[0] != "hog" and box_iou(c[1], m[1]) > MERGE_IOU for c in candidates) or _cnn_confirms(image, m[1])]


def detect(image: np.ndarray, settings: DetectorSettings) -> list[Detection]:
    """Faces in an ``(H,W,3)`` uint8 RGB image, widest first, boxes in its pixels."""
    if min(image.shape[:2]) < SMALLEST_IMAGE:
        return []
    found = _candidates(np.ascontiguousarray(image), settings)
    if found and settings.min_score_ratio > 0:
        best = max(score for _, _, score in found)
        found = [c for c in found if c[2] >= settings.min_score_ratio * best]
    merged = merge(found)
    if settings.confirm_weak:
        merged = confirmed(image, merged, found)
    detections = [Detection(tuple(int(round(v)) for v in box), score, kind)
                  for kind, box, score in merged if box[2] - box[0] >= settings.min_face]
    return sorted(detections, key=lambda d: d.width, reverse=True)


def fit_landmarks(image: np.ndarray, detections: list[Detection]) -> list[Face]:
    """The 68 landmarks of each detection, fitted on the full-resolution image."""
    image = np.ascontiguousarray(image)
    return [Face(d.box, d.score, landmarks(image, d.box), d.detector) for d in detections]


def find_faces(image: np.ndarray, settings: DetectorSettings) -> list[Face]:
    """Faces in ``(H,W,3)`` uint8 RGB, widest first, each with its 68 landmarks."""
    return fit_landmarks(image, detect(image, settings))


def find_faces_near(image: np.ndarray, boxes: list[Box], settings: DetectorSettings) -> list[Face]:
    """Faces in ``(H,W,3)`` uint8 RGB searched for only in cuts around ``boxes`` (l, t, r, b:
    followed faces' crops), each grown by ``NEAR_MARGIN`` and searched at most ``NEAR_SIDE``
    pixels across: about a tenth of a whole 1280x720 frame's search. Boxes and landmarks in
    ``image``'s pixels (landmarks fitted at its resolution); a face in two cuts comes twice."""
    height, width = image.shape[:2]
    near = replace(settings, max_side=NEAR_SIDE, cnn_max_side=min(settings.cnn_max_side, NEAR_SIDE))
    found = []
    for box in boxes:
        grow = NEAR_MARGIN * (box[2] - box[0])
        left, top = max(int(box[0] - grow), 0), max(int(box[1] - grow), 0)
        right, bottom = min(int(np.ceil(box[2] + grow)), width), min(int(np.ceil(box[3] + grow)), height)
        if right - left < SMALLEST_IMAGE or bottom - top < SMALLEST_IMAGE:
            continue
        for face in find_faces(np.ascontiguousarray(image[top:bottom, left:right]), near):
            b = face.box
            found.append(Face((b[0] + left, b[1] + top, b[2] + left, b[3] + top), face.score,
                              face.landmarks + [left, top], face.detector))
    return found
