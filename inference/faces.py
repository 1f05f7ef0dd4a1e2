"""Which parts of a photo the models see: its faces, found anywhere in the frame.

The models were trained on square face crops (``python3 -m prepare --crop face``), so at
inference each face is cut out the same way (``core.faces.crop_box``: one function for
both), resized to the model's side, reconstructed and pasted back (``inference.pipeline``).
``faces`` chooses:

- ``auto`` (default): every face found; when none is, the whole image if it could be a
  face crop (about square: an input that is already a tight crop, whose face the detectors
  may not recognise), else nothing (a wide frame without a face has nothing to unmask);
- ``all``: every face found, and nothing when none is;
- ``largest``: the largest face found only;
- ``none``: the whole image, resized to the model's side (the published behaviour).

On a video the crops are smoothed over time (``FaceTracker``): faces are searched for every
``detect_every``-th frame; a face's crop follows its detections through an alpha-beta
filter (position and velocity), keeps moving at that velocity in between, and is carried
through short gaps in detection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from core.face_detection import DetectorSettings, detect_masked_faces
from core.faces import Face, crop_box, crop_square
from core.images import resize_image

FACE_MODES = ("auto", "all", "largest", "none")
# Where a face mask can be: below the line through the eyes (it never covers them) and
# inside the jaw line pushed out from the nose tip by ``MASK_ZONE_REACH``. With the landmarks
# fitted on the masked faces, this zone holds at least 98.5% of the mask for 9 faces in 10
# of the CelebA sample wearing MaskTheFace's masks or ours and of the Dataset1 video frames
# (MaskTheFace masks reaching well under the chin); the rest lose ear loops, or the top of
# masks drawn up to the eyes.
MASK_ZONE_REACH = 1.6
MAX_MISSED = 2  # searches in a row a tracked face may go unfound before it is dropped
SAME_FACE = 0.75  # a detection continues a track when their centres are closer than this x side
CROP_ASPECT = 1.25  # faces=auto treats an image without a face as a face crop up to this aspect


@dataclass(frozen=True)
class Region:
    """The part of an input image one model pass sees, resized to the model's side.

    ``x0, y0, width, height``: pixels of the input; a face crop is square and may reach past
    the image's edges (mirrored there, as in training), the whole image is its own region.
    ``box``: the face's detection box (left, top, right, bottom), for drawing; ``zone``:
    ``(N,2)`` polygon in input pixels outside which a face mask cannot be (``mask_zone``).
    """

    x0: int
    y0: int
    width: int
    height: int
    box: tuple[int, int, int, int] | None = None
    zone: np.ndarray | None = None

    @property
    def is_face(self) -> bool:
        return self.box is not None

    @classmethod
    def whole(cls, image: np.ndarray) -> Region:
        return cls(0, 0, image.shape[1], image.shape[0])

    @classmethod
    def around(cls, face: Face) -> Region:
        """The square crop ``crop_box`` gives for ``face``'s landmarks."""
        return cls.square(*crop_box(face.landmarks), face.box, mask_zone(face.landmarks))

    @classmethod
    def square(cls, cx: float, cy: float, side: float, box=None, zone=None) -> Region:
        n = max(1, int(round(side)))  # the same rounding as core.faces.crop_square
        return cls(int(round(cx - n / 2)), int(round(cy - n / 2)), n, n, box, zone)

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.x0 + self.width / 2, self.y0 + self.height / 2])

    def cut(self, image: np.ndarray, size: int) -> np.ndarray:
        """This region of ``image`` as ``(size,size,3)`` uint8, resized as the training data was."""
        if not self.is_face:
            return resize_image(image, size)
        crop, _ = crop_square(image, *self.centre, self.width)
        return resize_image(crop, size)

    def visible(self, shape: tuple[int, ...]):
        """The part of this region inside an image of ``shape``: ``((top, bottom, left, right)
        in the image, (rows, cols) slices of the region)``, or None when nothing of it is inside."""
        height, width = shape[:2]
        left, top = max(self.x0, 0), max(self.y0, 0)
        right, bottom = min(self.x0 + self.width, width), min(self.y0 + self.height, height)
        if left >= right or top >= bottom:
            return None
        return (top, bottom, left, right), (slice(top - self.y0, bottom - self.y0),
                                            slice(left - self.x0, right - self.x0))

    def cut_mask(self, mask: np.ndarray) -> np.ndarray:
        """This region of an ``(H,W)`` bool mask, at the input's resolution."""
        return mask if not self.is_face else crop_square(mask, *self.centre, self.width)[0]

    def lower_face(self, size: int) -> torch.Tensor | None:
        """``(size,size)`` bool: the model pixels inside the mask zone (None: no limit)."""
        if self.zone is None:
            return None
        points = (self.zone - [self.x0, self.y0]) * (size / self.width)
        canvas = np.zeros((size, size), np.uint8)
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
        return torch.from_numpy(canvas.astype(bool))


def mask_zone(lm: np.ndarray) -> np.ndarray:
    """``(N,2)``: the polygon of a face's 68 landmarks where a face mask can be."""
    jaw = lm[30] + (lm[0:17] - lm[30]) * MASK_ZONE_REACH
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)  # the eyes
    along = right - left
    down = np.array([-along[1], along[0]]) / max(float(np.linalg.norm(along)), 1e-9)
    # Jaw points above the eye line (the jaw starts at ear height) are moved down onto it.
    above = np.minimum((jaw - left) @ down, 0.0)
    return jaw - above[:, None] * down


class Track:
    """One face followed through a video: its crop's centre and side, and the centre's
    velocity per frame, from the detections of it by an alpha-beta filter: between
    detections the crop keeps moving at that velocity, and steady motion is followed
    without lag. The side is smoothed only (faces rarely change size fast)."""

    ALPHA, BETA = 0.5, 0.3

    def __init__(self, region: Region) -> None:
        self.region = region
        self.centre, self.side = region.centre.astype(float), float(region.width)
        self.velocity = np.zeros(2)
        self.since = 0  # frames since the last detection
        self.missed = 0  # searches in a row that did not find it
        self.detections = 1

    def predicted(self) -> np.ndarray:
        return self.centre + self.velocity * self.since

    def predict(self) -> None:
        """One frame later."""
        self.since += 1
        self.region = self._moved(self.region, self.predicted(), self.side)

    def correct(self, detected: Region) -> None:
        """A detection of this face in the current frame."""
        frames = max(self.since, 1)
        if self.detections == 1:  # the second sighting: the motion between the two
            self.velocity = (detected.centre - self.centre) / frames
            self.centre = detected.centre.astype(float)
        else:
            predicted = self.predicted()
            residual = detected.centre - predicted
            self.centre = predicted + self.ALPHA * residual
            self.velocity = self.velocity + self.BETA * residual / frames
        self.side += self.ALPHA * (detected.width - self.side)
        self.detections += 1
        self.since, self.missed = 0, 0
        self.region = self._moved(detected, self.centre, self.side)

    @staticmethod
    def _moved(region: Region, centre: np.ndarray, side: float) -> Region:
        """``region`` (with its box and eye line) moved to ``centre`` and scaled to ``side``."""
        moved = Region.square(*centre, side)
        scale = moved.width / region.width

        def carry(points: np.ndarray) -> np.ndarray:
            return (points - region.centre) * scale + moved.centre

        box = None if region.box is None else tuple(
            int(round(v)) for v in carry(np.array(region.box, float).reshape(2, 2)).ravel())
        zone = None if region.zone is None else carry(region.zone)
        return replace(moved, box=box, zone=zone)


class FaceTracker:
    """Face crops of consecutive video frames, smoothed and carried through short gaps."""

    def __init__(self, detect_every: int = 1) -> None:
        self.detect_every = max(1, detect_every)
        self.tracks: list[Track] = []
        self.frame = 0

    def wants_detection(self) -> bool:
        """Search this frame? Every ``detect_every``-th, and while a face has been seen only
        once (its motion is not known yet), and while no face is followed."""
        return (self.frame % self.detect_every == 0 or not self.tracks
                or any(t.detections < 2 for t in self.tracks))

    def update(self, faces: list[Face] | None) -> list[Region]:
        """The smoothed regions of this frame, given its detections (None: not searched)."""
        self.frame += 1
        for track in self.tracks:
            track.predict()
        if faces is not None:
            detected = [Region.around(f) for f in faces]
            unmatched = list(range(len(detected)))
            for track in self.tracks:
                centre, side = track.region.centre, track.region.width
                near = [(float(np.linalg.norm(detected[k].centre - centre)) / side, k) for k in unmatched]
                distance, k = min(near, default=(np.inf, -1))
                if distance < SAME_FACE:
                    unmatched.remove(k)
                    track.correct(detected[k])
                else:
                    track.missed += 1
            self.tracks = [t for t in self.tracks if t.missed <= MAX_MISSED]
            self.tracks += [Track(detected[k]) for k in unmatched]
        return [t.region for t in self.tracks]


class FaceFinder:
    """The regions of each input image the models should see, for a ``faces`` mode."""

    def __init__(self, mode: str = "auto", settings: DetectorSettings | None = None,
                 detect_every: int = 1) -> None:
        if mode not in FACE_MODES:
            raise ValueError(f"faces must be one of {', '.join(FACE_MODES)}, got {mode!r}")
        self.mode, self.settings, self.detect_every = mode, settings or DetectorSettings(), detect_every
        self.tracker: FaceTracker | None = None

    def follow_video(self) -> None:
        """From now on the inputs are consecutive frames of one video."""
        self.tracker = FaceTracker(self.detect_every)

    def stop_following(self) -> None:
        """The inputs are separate photos again."""
        self.tracker = None

    def regions(self, image: np.ndarray) -> tuple[list[Region], int | None]:
        """The regions to reconstruct and the number of faces found (None with ``none``)."""
        if self.mode == "none":
            return [Region.whole(image)], None
        if self.tracker is None:
            faces = [Region.around(f) for f in detect_masked_faces(image, self.settings)]
        else:
            found = detect_masked_faces(image, self.settings) if self.tracker.wants_detection() else None
            faces = self.tracker.update(found)
        faces.sort(key=lambda r: r.width, reverse=True)
        found = len(faces)
        if self.mode == "largest":
            faces = faces[:1]
        if not faces and self.mode == "auto" and _could_be_a_crop(image):
            return [Region.whole(image)], 0
        return faces, found


def _could_be_a_crop(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    return max(h, w) <= CROP_ASPECT * min(h, w)
