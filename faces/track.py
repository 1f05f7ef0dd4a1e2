"""Which parts of a photo the models see: its faces, found anywhere in the frame, and
followed through a video.

The models were trained on square face crops (``python3 -m prepare --crop face``), so at
inference each face is cut out the same way (``faces.crop.Region.around``: one crop for
both). ``FaceFinder``'s mode chooses:

- ``auto`` (default): every face found; when none is, the whole image if it could be a
  face crop (about square: an input that is already a tight crop, whose face the detectors
  may not recognise), else nothing (a wide frame without a face has nothing to unmask);
- ``all``: every face found, and nothing when none is;
- ``largest``: the largest face found only;
- ``none``: the whole image, resized to the model's side.

On a video the crops are smoothed over time (``FaceTracker``): faces are searched for every
``detect_every``-th frame; a face's crop follows its detections through an alpha-beta
filter (position and velocity), keeps moving at that velocity in between, and is carried
through short gaps in detection.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from faces.crop import Pose, Region, crop_box
from faces.detect import INFERENCE, DetectorSettings, Face, find_faces

FACE_MODES = ("auto", "all", "largest", "none")
MAX_MISSED = 2  # searches in a row a tracked face may go unfound before it is dropped
SAME_FACE = 0.75  # a detection continues a track when their centres are closer than this x side
CROP_ASPECT = 1.25  # faces=auto treats an image without a face as a face crop up to this aspect
_KEYS = itertools.count()  # track numbers, never reused: a new track starts with no history


Measurement = tuple[Region, np.ndarray, float]  # a detection's crop, and its centre (2,) and side


def measure(face: Face, subpixel: bool) -> Measurement:
    """The crop of a detected ``face``, with the centre and side the filter takes in: the crop's
    own whole-pixel ones, or with ``subpixel`` those ``crop_box`` gives before rounding."""
    region = Region.around(face)
    if not subpixel:
        return region, region.centre, float(region.width)
    cx, cy, side = crop_box(face.landmarks)
    return region, np.array([cx, cy]), side


class Track:
    """One face followed through a video: its crop's centre and side, and the centre's
    velocity per frame, from the detections of it by an alpha-beta filter: between
    detections the crop keeps moving at that velocity, and steady motion is followed
    without lag. The side is smoothed only (faces rarely change size fast).

    With ``subpixel`` the region carries the filter's centre and side unrounded
    (``Region.pose``, numbered ``key``), so its cut moves smoothly from frame to frame.
    """

    ALPHA, BETA = 0.5, 0.3

    def __init__(self, detected: Measurement, subpixel: bool = False) -> None:
        region, centre, side = detected
        self.key, self.subpixel = next(_KEYS), subpixel
        self.centre, self.side = np.asarray(centre, float), float(side)
        self.placed = (self.centre, self.side)  # the centre and side the region was put at
        self.region = self._moved(region, self.placed, self.centre, self.side) if subpixel else region
        self.velocity = np.zeros(2)
        self.since = 0  # frames since the last detection
        self.missed = 0  # searches in a row that did not find it
        self.detections = 1

    def predicted(self) -> np.ndarray:
        return self.centre + self.velocity * self.since

    def predict(self) -> None:
        """One frame later."""
        self.since += 1
        self.region = self._moved(self.region, self.placed, self.predicted(), self.side)

    def correct(self, detected: Measurement) -> None:
        """A detection of this face in the current frame."""
        region, centre, side = detected
        frames = max(self.since, 1)
        if self.detections == 1:  # the second sighting: the motion between the two
            self.velocity = (centre - self.centre) / frames
            self.centre = np.asarray(centre, float)
        else:
            predicted = self.predicted()
            residual = centre - predicted
            self.centre = predicted + self.ALPHA * residual
            self.velocity = self.velocity + self.BETA * residual / frames
        self.side += self.ALPHA * (side - self.side)
        self.detections += 1
        self.since, self.missed = 0, 0
        self.region = self._moved(region, (centre, side), self.centre, self.side)

    def _moved(self, region: Region, start: tuple[np.ndarray, float], centre: np.ndarray,
               side: float) -> Region:
        """``region`` (with its box and eye line), placed at ``start`` (centre, side), moved
        to ``centre`` and scaled to ``side``."""
        moved = Region.square(*centre, side)
        if self.subpixel:
            (c0, s0), (c1, s1) = start, (centre, side)
            moved = replace(moved, pose=Pose(self.key, float(centre[0]), float(centre[1]), float(side)))
            self.placed = (np.asarray(centre, float), float(side))
        else:
            (c0, s0), (c1, s1) = (region.centre, region.width), (moved.centre, moved.width)
        scale = s1 / s0

        def carry(points: np.ndarray) -> np.ndarray:
            return (points - c0) * scale + c1

        box = None if region.box is None else tuple(
            int(round(v)) for v in carry(np.array(region.box, float).reshape(2, 2)).ravel())
        zone = None if region.zone is None else carry(region.zone)
        return replace(moved, box=box, zone=zone)


class FaceTracker:
    """Face crops of consecutive video frames, smoothed and carried through short gaps;
    ``subpixel``: unrounded (``Track``)."""

    def __init__(self, detect_every: int = 1, subpixel: bool = False) -> None:
        self.detect_every = max(1, detect_every)
        self.subpixel = subpixel
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
            detected = [measure(f, self.subpixel) for f in faces]
            unmatched = list(range(len(detected)))
            for track in self.tracks:
                centre, side = track.region.centre, track.region.width
                near = [(float(np.linalg.norm(detected[k][0].centre - centre)) / side, k) for k in unmatched]
                distance, k = min(near, default=(np.inf, -1))
                if distance < SAME_FACE:
                    unmatched.remove(k)
                    track.correct(detected[k])
                else:
                    track.missed += 1
            self.tracks = [t for t in self.tracks if t.missed <= MAX_MISSED]
            self.tracks += [Track(detected[k], self.subpixel) for k in unmatched]
        return [t.region for t in self.tracks]


class FaceFinder:
    """The regions of each input image the models should see, for a ``faces`` mode."""

    def __init__(self, mode: str = "auto", settings: DetectorSettings | None = None,
                 detect_every: int = 1) -> None:
        if mode not in FACE_MODES:
            raise ValueError(f"faces must be one of {', '.join(FACE_MODES)}, got {mode!r}")
        self.mode, self.settings, self.detect_every = mode, settings or INFERENCE, detect_every
        self.tracker: FaceTracker | None = None

    def follow_video(self, subpixel: bool = False) -> None:
        """From now on the inputs are consecutive frames of one video (a fresh start: no face
        followed yet); ``subpixel``: the crops are unrounded (``Region.pose``)."""
        self.tracker = FaceTracker(self.detect_every, subpixel)

    def stop_following(self) -> None:
        """The inputs are separate photos again."""
        self.tracker = None

    def regions(self, image: np.ndarray) -> tuple[list[Region], int | None]:
        """The regions to reconstruct and the number of faces found (None with ``none``)."""
        if self.mode == "none":
            return [Region.whole(image)], None
        if self.tracker is None:
            faces = [Region.around(f) for f in find_faces(image, self.settings)]
        else:
            found = find_faces(image, self.settings) if self.tracker.wants_detection() else None
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
