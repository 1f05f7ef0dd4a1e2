"""One face followed through a video: where its crop goes from frame to frame.

``Track`` follows a face by its detections alone (an alpha-beta filter on the crop's centre,
whole-pixel crops); ``SteadyTrack`` locks the crop to the face's own measured motion
(``faces.motion``), unrounded and turned with the face, with the detections only keeping it
from drifting, and notices when the face is no longer where the crop is. ``faces.track``
decides which detection continues which track.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import cv2
import numpy as np

from faces.crop import Pose, Region, crop_box
from faces.detect import Face
from faces.motion import face_motion

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

    def __init__(self, detected: Measurement, frame: np.ndarray | None = None) -> None:
        """A face first detected in ``frame`` (gray; only ``SteadyTrack`` looks at it)."""
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

    def __init__(self, detected: Measurement, frame: np.ndarray | None = None) -> None:
        super().__init__(detected, frame)
        self.key = next(_KEYS)
        self.angle = 0.0
        self.gray = frame  # the frame the pose was last placed on (gray)
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
