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
through short gaps in detection. A video held steady (``steady``) locks each crop to its
face's own motion instead (``SteadyTrack``, ``faces.motion``), and the detections only keep
it from drifting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from faces.crop import Pose, Region, crop_box
from faces.detect import INFERENCE, DetectorSettings, Face, find_faces
from faces.motion import face_motion, gray

FACE_MODES = ("auto", "all", "largest", "none")
MAX_MISSED = 2  # searches in a row a tracked face may go unfound before it is dropped
SAME_FACE = 0.75  # a detection continues a track when their centres are closer than this x side
CROP_ASPECT = 1.25  # faces=auto treats an image without a face as a face crop up to this aspect
LOST = 25.0  # gray levels: a followed face's crop changing more than this in a frame is lost
CHECK_SIDE = 32  # side of the crops compared for it (small: noise and expression average out)
GRID = 1024  # steady crops are placed on a grid this fine (per px, per radian)
_KEYS = itertools.count()  # track numbers, never reused: a new track starts with no history


Measurement = tuple[Region, np.ndarray, float]  # a detection's crop, and its centre (2,) and side


def measure(face: Face, steady: bool) -> Measurement:
    """The crop of a detected ``face``, with the centre and side the filter takes in: the crop's
    own whole-pixel ones, or (``steady``) those ``crop_box`` gives before rounding."""
    region = Region.around(face)
    if not steady:
        return region, region.centre, float(region.width)
    cx, cy, side = crop_box(face.landmarks)
    return region, np.array([cx, cy]), side


class Track:
    """One face followed through a video: its crop's centre and side, and the centre's
    velocity per frame, from the detections of it by an alpha-beta filter: between
    detections the crop keeps moving at that velocity, and steady motion is followed
    without lag. The side is smoothed only (faces rarely change size fast)."""

    ALPHA, BETA = 0.5, 0.3

    def __init__(self, detected: Measurement) -> None:
        region, centre, side = detected
        self.centre, self.side = np.asarray(centre, float), float(side)
        self.region = region
        self.velocity = np.zeros(2)
        self.since = 0  # frames since the last detection
        self.missed = 0  # searches in a row that did not find it
        self.detections = 1
        self.lost = False  # the face is no longer where the track is (SteadyTrack)

    def predicted(self) -> np.ndarray:
        return self.centre + self.velocity * self.since

    def move(self, frame: np.ndarray | None) -> None:
        """One frame later (``frame``: the new frame in gray, which this filter does not look at)."""
        self.since += 1
        self.region = self._placed(self.region, self.predicted(), self.side)

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
        self.region = self._placed(region, self.centre, self.side)

    def done(self) -> None:
        """The frame's regions are final."""

    @staticmethod
    def _placed(region: Region, centre: np.ndarray, side: float) -> Region:
        """``region`` (with its box and eye line) moved to the whole-pixel square at ``centre``
        of ``side``."""
        moved = Region.square(*centre, side)
        scale = moved.width / region.width

        def carry(points: np.ndarray) -> np.ndarray:
            return (points - region.centre) * scale + moved.centre

        return replace(moved, box=_moved_box(region.box, carry),
                       zone=None if region.zone is None else carry(region.zone))


class SteadyTrack(Track):
    """A followed face whose crop is locked to the face's own measured motion
    (``faces.motion``: shift, scale and turn between consecutive frames, to a fraction of a
    pixel), with the detections only pulling it back, ``GAIN`` of the way, against slow drift;
    where the motion cannot be measured it is predicted from the velocity, as ``Track`` does.
    Its regions carry the crop unrounded (``Region.pose``, numbered ``key``) and, in
    ``Pose.carry``, where the previous frame's crop is in this one's."""

    GAIN = 0.15

    def __init__(self, detected: Measurement) -> None:
        super().__init__(detected)
        self.key = next(_KEYS)
        self.angle = 0.0
        self.gray: np.ndarray | None = None  # the frame the pose was last placed on (gray)
        self.measured = False  # whether this frame's motion was measured
        self.before: Pose | None = None  # this frame's pose after the motion, before any detection
        self.region = self._posed(detected[0], self._pose(), None)

    def _pose(self, carry: np.ndarray | None = None) -> Pose:
        """The crop, placed on a grid of ``1 / GRID`` px (its angle, ``1 / (16 GRID)`` rad): finer
        than the motion can be measured, but coarse enough that the fit's round-off (1e-5 px)
        does not move it, so a face moved by whole pixels is cut exactly alike."""
        def snap(v: float, grid: int = GRID) -> float:
            return round(float(v) * grid) / grid

        return Pose(self.key, snap(self.centre[0]), snap(self.centre[1]), snap(self.side),
                    snap(self.angle, 16 * GRID), carry)

    def move(self, frame: np.ndarray | None) -> None:
        """Carry the pose into the new ``frame`` (gray, ``faces.motion.gray``) by the face's
        motion since the last one."""
        motion = None
        if self.gray is not None and self.gray.shape == frame.shape:
            motion = face_motion(self.gray, frame, self.region.pose.bounds())
        previous, self.gray, self.since = self.gray, frame, self.since + 1
        self.measured = motion is not None
        if motion is None:
            moved = self.centre + self.velocity
        else:
            # Continuous coordinates: the matrix maps pixel centres, which sit half a pixel in.
            moved = motion[:, :2] @ (self.centre - 0.5) + motion[:, 2] + 0.5
            self.side *= float(np.sqrt(abs(np.linalg.det(motion[:, :2]))))
            self.angle += float(np.arctan2(motion[1, 0], motion[0, 0]))
        self.velocity, self.centre = moved - self.centre, moved
        earlier, self.before = self.region.pose, self._pose()
        if previous is not None and previous.shape == frame.shape:
            # The face's crop in both frames, its motion undone: a face followed changes little
            # (noise, expression), a crop left on the background after a cut changes a lot.
            change = cv2.absdiff(earlier.cut(previous, CHECK_SIDE), self.before.cut(frame, CHECK_SIDE))
            self.lost = float(change.mean()) > LOST
        self.region = self._posed(self.region, self.before, None)

    def correct(self, detected: Measurement) -> None:
        """A detection of this face in the current frame: the pose moves ``GAIN`` of the way to
        it, upright (``ALPHA`` of the way where this frame's motion was not measured)."""
        _, centre, side = detected
        gain = self.GAIN if self.measured else self.ALPHA
        self.centre = self.centre + gain * (np.asarray(centre, float) - self.centre)
        self.side += gain * (side - self.side)
        self.angle -= gain * self.angle
        self.detections += 1
        self.since, self.missed = 0, 0
        self.region = replace(detected[0], pose=Pose(self.key, float(centre[0]), float(centre[1]), side))

    def done(self) -> None:
        """The pose is final for this frame: the region is placed there, with the carry from the
        pose after the motion (where the previous crop's content now is) to the final one."""
        final = self._pose()
        carry = None
        if self.before is not None and final != self.before:
            carry = (final.to_unit() @ np.linalg.inv(self.before.to_unit()))[:2]
        self.region = self._posed(self.region, final, carry)

    @staticmethod
    def _posed(region: Region, pose: Pose, carry: np.ndarray | None) -> Region:
        """``region``, whose box and eye line belong to ``region.pose``, placed at ``pose``: its
        whole-pixel square the nearest, its box and eye line moved along."""
        old = region.pose or pose
        moving = np.linalg.inv(pose.to_unit()) @ old.to_unit()

        def carry_points(points: np.ndarray) -> np.ndarray:
            return points @ moving[:2, :2].T + moving[:2, 2]

        square = Region.square(pose.cx, pose.cy, pose.side)
        return replace(square, box=_moved_box(region.box, carry_points),
                       zone=None if region.zone is None else carry_points(region.zone),
                       pose=replace(pose, carry=carry))


def _moved_box(box, carry) -> tuple[int, int, int, int] | None:
    """A detection box ``(x0, y0, x1, y1)`` through ``carry``, as the whole-pixel box around it."""
    if box is None:
        return None
    corners = carry(np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]], float))
    (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
    return int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1))


class FaceTracker:
    """Face crops of consecutive video frames, smoothed and carried through short gaps;
    ``steady``: locked to each face's measured motion and unrounded (``SteadyTrack``)."""

    def __init__(self, detect_every: int = 1, steady: bool = False) -> None:
        self.detect_every = max(1, detect_every)
        self.track_class = SteadyTrack if steady else Track
        self.tracks: list[Track] = []
        self.frame = 0

    def wants_detection(self) -> bool:
        """Search this frame? Every ``detect_every``-th, and while no face is followed, and
        (without motion) while a face has been seen only once (its motion is not known yet)."""
        return (self.frame % self.detect_every == 0 or not self.tracks
                or (self.track_class is Track and any(t.detections < 2 for t in self.tracks)))

    def update(self, image: np.ndarray, find: Callable[[np.ndarray], list[Face]]) -> list[Region]:
        """The smoothed regions of the frame ``image``; ``find`` searches it for faces, called
        when a search is due (``wants_detection``) or a followed face was lost (dropped at once)."""
        due = self.wants_detection()
        self.frame += 1
        steady = self.track_class is SteadyTrack
        frame = gray(image) if steady else None
        for track in self.tracks:
            track.move(frame)
        lost = any(t.lost for t in self.tracks)
        self.tracks = [t for t in self.tracks if not t.lost]
        faces = find(image) if due or lost or not self.tracks else None
        if faces is not None:
            detected = [measure(f, steady) for f in faces]
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
            for k in unmatched:
                track = self.track_class(detected[k])
                track.gray = frame
                self.tracks.append(track)
        for track in self.tracks:
            track.done()
        return [t.region for t in self.tracks]


class FaceFinder:
    """The regions of each input image the models should see, for a ``faces`` mode."""

    def __init__(self, mode: str = "auto", settings: DetectorSettings | None = None,
                 detect_every: int = 1) -> None:
        if mode not in FACE_MODES:
            raise ValueError(f"faces must be one of {', '.join(FACE_MODES)}, got {mode!r}")
        self.mode, self.settings, self.detect_every = mode, settings or INFERENCE, detect_every
        self.tracker: FaceTracker | None = None

    def follow_video(self, steady: bool = False, detect_every: int | None = None) -> None:
        """From now on the inputs are consecutive frames of one video (a fresh start: no face
        followed yet); ``steady``: each crop is locked to its face's measured motion, unrounded
        (``SteadyTrack``); ``detect_every``: other than the finder's."""
        self.tracker = FaceTracker(detect_every or self.detect_every, steady)

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
            faces = self.tracker.update(image, lambda frame: find_faces(frame, self.settings))
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
