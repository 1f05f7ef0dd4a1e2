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
it from drifting; there a search looks at the whole frame (for faces coming into view) only
once ``whole_every`` frames have passed since the last whole one, the others only around the
faces followed (``faces.detect.find_faces_near``: about a tenth of the time).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from faces.crop import Region
from faces.detect import INFERENCE, DetectorSettings, Face, find_faces, find_faces_near, haar_cascade
from faces.follow import SteadyTrack, Track, measure
from faces.landmarks import Box, hog_detector, landmark_predictor
from faces.motion import gray

FACE_MODES = ("auto", "all", "largest", "none")
MAX_MISSED = 2  # searches in a row a tracked face may go unfound before it is dropped
SAME_FACE = 0.75  # a detection continues a track when their centres are closer than this x side
CROP_ASPECT = 1.25  # faces=auto treats an image without a face as a face crop up to this aspect


class FaceTracker:
    """Face crops of consecutive video frames, smoothed and carried through short gaps;
    ``steady``: locked to each face's measured motion and unrounded (``SteadyTrack``)."""

    def __init__(self, detect_every: int = 1, steady: bool = False, whole_every: int | None = None) -> None:
        """``whole_every``: with ``find_near`` given to ``update``, a search looks at the whole
        frame once ``whole_every`` frames have passed since the last whole one (for faces coming
        into view; and whenever no face is followed or one was lost); the others look near the
        followed faces only."""
        self.detect_every = max(1, detect_every)
        self.whole_every = whole_every
        self.last_whole: int | None = None  # the frame of the last search of the whole frame
        self.track_class = SteadyTrack if steady else Track
        self.tracks: list[Track] = []
        self.frame = 0

    def wants_detection(self) -> bool:
        """Search this frame? Every ``detect_every``-th, and while no face is followed, and
        (without motion) while a face has been seen only once (its motion is not known yet)."""
        return (self.frame % self.detect_every == 0 or not self.tracks
                or (self.track_class is Track and any(t.detections < 2 for t in self.tracks)))

    def update(self, image: np.ndarray, find: Callable[[np.ndarray], list[Face]],
               find_near: Callable[[np.ndarray, list[Box]], list[Face]] | None = None) -> list[Region]:
        """The smoothed regions of the frame ``image``; ``find`` searches it for faces, called
        when a search is due (``wants_detection``) or a followed face was lost (dropped at once).
        ``find_near(image, boxes)`` searches only around the followed faces' crops (``whole_every``);
        what it finds only corrects the faces followed."""
        due, now = self.wants_detection(), self.frame
        whole = (self.whole_every is None or find_near is None or self.last_whole is None
                 or now - self.last_whole >= self.whole_every)
        self.frame += 1
        steady = self.track_class is SteadyTrack
        frame = gray(image) if steady else None
        for track in self.tracks:
            track.move(frame)
        lost = any(t.lost for t in self.tracks)
        self.tracks = [t for t in self.tracks if not t.lost]
        faces, only_near = None, False
        if due or lost or not self.tracks:
            only_near = not (whole or lost or not self.tracks)
            if not only_near:
                self.last_whole = now
            faces = find_near(image, [_box(t.region) for t in self.tracks]) if only_near else find(image)
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
            if not only_near:  # a face in a cut around another is left to the next whole search
                self.tracks += [self.track_class(detected[k], frame) for k in unmatched]
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

    def follow_video(self, steady: bool = False, detect_every: int | None = None,
                     whole_every: int | None = None) -> None:
        """From now on the inputs are consecutive frames of one video (a fresh start: no face
        followed yet); ``steady``: each crop is locked to its face's measured motion, unrounded
        (``SteadyTrack``); ``detect_every``: other than the finder's; ``whole_every``: search
        the whole frame only once N frames have passed since the last whole search, near the
        followed faces otherwise (None: always the whole frame)."""
        self.tracker = FaceTracker(detect_every or self.detect_every, steady, whole_every)

    def stop_following(self) -> None:
        """The inputs are separate photos again."""
        self.tracker = None

    def load(self) -> None:
        """Load the detectors this finder runs first (about a second), so the first frame does not
        wait for them; dlib's CNN, a fallback, loads when first needed."""
        if self.mode == "none":
            return
        if self.settings.hog:
            hog_detector()
        if self.settings.haar:
            haar_cascade()
        landmark_predictor()

    def regions(self, image: np.ndarray) -> tuple[list[Region], int | None]:
        """The regions to reconstruct and the number of faces found (None with ``none``)."""
        if self.mode == "none":
            return [Region.whole(image)], None
        if self.tracker is None:
            faces = [Region.around(f) for f in find_faces(image, self.settings)]
        else:
            faces = self.tracker.update(image, lambda frame: find_faces(frame, self.settings),
                                        lambda frame, boxes: find_faces_near(frame, boxes, self.settings))
        faces.sort(key=lambda r: r.width, reverse=True)
        found = len(faces)
        if self.mode == "largest":
            faces = faces[:1]
        if not faces and self.mode == "auto" and _could_be_a_crop(image):
            return [Region.whole(image)], 0
        return faces, found


def _box(region: Region) -> Box:
    return region.x0, region.y0, region.x0 + region.width, region.y0 + region.height


def _could_be_a_crop(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    return max(h, w) <= CROP_ASPECT * min(h, w)
