"""A video held steady: what one frame of a followed face hands on to the next.

With temporal stabilisation each followed face is cut at sub-pixel precision
(``faces.crop.Pose``): its crop moves and scales with the face's track, without rounding to
whole pixels, so a pixel of the crop shows about the same part of the face from frame to
frame. What is carried over is kept in those crop coordinates, per track, and so is carried
into the next frame by the track's change of position and scale with no warp of its own:

- the mask: a running mean of the segmenter's probabilities, taken before the threshold, so
  the mask's edge does not crawl with the segmenter's frame-to-frame noise;
- the painted pixels: the generator's new face blended with the previous frame's painted
  one, where both frames' masks are;
- the seam: drawn in the crop and warped back with it (``inference.paste``).

A face found anew (for the first time, after it was lost, or after a cut: a new track)
starts from nothing. A cut is a large change of the whole frame from the one before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import torch

from faces.crop import Region
from faces.track import FaceFinder
from inference.settings import TemporalSettings

CUT_WIDTH = 64  # frames are compared for cuts shrunk to this width (the motion of a face hardly shows)
View = tuple[int, Region]  # (index of the image in the batch, one region of it)


def _track(region: Region) -> int | None:
    return None if region.pose is None else region.pose.track


def _frames(views: Sequence[View]) -> list[list[int]]:
    """The indexes of ``views`` grouped by image, in order."""
    groups: dict[int, list[int]] = {}
    for j, (i, _) in enumerate(views):
        groups.setdefault(i, []).append(j)
    return list(groups.values())


class VideoState:
    """What the frames of one video so far hand on to the next (``MaskReconstructor.follow_video``)."""

    def __init__(self, settings: TemporalSettings) -> None:
        self.settings = settings
        self.last: np.ndarray | None = None  # the previous frame, gray, shrunk, float32
        self.masks: dict[int, torch.Tensor] = {}  # per track: mean probabilities (1,S,S) in [0,1]
        # per track: the painted face (3,S,S) in [0,1] and the mask it was painted in (1,S,S) {0,1}
        self.painted: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def is_cut(self, image: np.ndarray) -> bool:
        """Whether the ``(H,W,3)`` uint8 frame starts a new shot (the first frame does not)."""
        h, w = image.shape[:2]
        size = (CUT_WIDTH, max(1, round(CUT_WIDTH * h / w)))
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), size,
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self.last is not None and float(np.abs(small - self.last).mean()) > self.settings.cut
        self.last = small
        return cut

    def regions(self, finder: FaceFinder, images: Sequence[np.ndarray]) -> tuple[list[list[Region]], list]:
        """Each frame's regions and faces found (``FaceFinder.regions``), frame by frame; at a
        cut the finder starts following afresh, so every face there is a new track."""
        regions, found = [], []
        for image in images:
            if self.is_cut(image):
                finder.follow_video(subpixel=True)
            these, count = finder.regions(image)
            regions.append(these)
            found.append(count)
        return regions, found

    def _carry(self, store: dict, views: Sequence[View], new: torch.Tensor,
               blend: Callable[[int, Any], torch.Tensor],
               kept: Callable[[int, torch.Tensor], Any]) -> torch.Tensor:
        """``new`` (one entry per view) with each followed face's entry blended with what its
        track left (``blend(j, before)``), frame by frame; ``store`` keeps ``kept(j, out[j])``
        for the tracks of the latest frame only (a track absent from a frame is lost)."""
        out = new.clone()
        for frame in _frames(views):
            live = {_track(views[j][1]) for j in frame}
            for key in [k for k in store if k not in live]:
                del store[key]
            for j in frame:
                key = _track(views[j][1])
                if key is None:
                    continue
                if key in store:
                    out[j] = blend(j, store[key])
                store[key] = kept(j, out[j])
        return out

    def probabilities(self, views: Sequence[View], prob: torch.Tensor) -> torch.Tensor:
        """The segmenter's ``(B,1,S,S)`` probabilities of ``views`` -> each face's running mean:
        ``p + decay * (mean - p)`` (this frame's alone for a new track)."""
        decay = self.settings.mask_decay
        return self._carry(self.masks, views, prob, lambda j, before: prob[j] + decay * (before - prob[j]),
                           lambda j, mean: mean)

    def paint(self, views: Sequence[View], generated: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """The generator's ``(B,3,S,S)`` faces of ``views``, painted in ``masks`` ``(B,1,S,S)``
        {0,1} -> blended with the previous frame's painted face of the same track where both
        masks are: ``g + weight * (previous - g)``."""
        weight = self.settings.paint_weight

        def blend(j: int, before: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            face, mask = before
            return generated[j] + (weight * mask * masks[j]) * (face - generated[j])

        return self._carry(self.painted, views, generated, blend, lambda j, face: (face, masks[j]))
