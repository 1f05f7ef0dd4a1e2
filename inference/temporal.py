"""A video held steady: what one frame of a followed face hands on to the next.

With temporal stabilisation each followed face's crop is locked to the face's own motion
(``faces.follow.SteadyTrack``: shift, scale and turn measured from frame to frame, cut at
sub-pixel precision by ``faces.crop.Pose``), so a pixel of the crop shows the same part of
the face from frame to frame. What is carried over is kept in those crop coordinates, per
track; where a detection pulls the crop back against drift, it is moved by the same small
correction (``Pose.carry``), so it stays on the face:

- the mask: a running mean of the segmenter's probabilities, taken before the threshold, so
  the mask's edge does not crawl with the segmenter's frame-to-frame noise;
- the painted pixels: the generator's new face blended with the previous frame's painted
  one, where both frames' masks are and the two nearly agree (flicker is averaged away, a
  mouth that really moves is not held back);
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
import torch.nn.functional as F

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
        self.last_time: float | None = None  # and its time in seconds, where known
        self.masks: dict[int, tuple[torch.Tensor]] = {}  # per track: mean probabilities (1,S,S) in [0,1]
        # per track: the painted face (3,S,S) in [0,1] and the mask it was painted in (1,S,S) {0,1}
        self.painted: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.seen: dict[int, int] = {}  # per track: frames it has been in so far

    def is_cut(self, image: np.ndarray, time: float | None = None) -> bool:
        """Whether the ``(H,W,3)`` uint8 frame, shown at ``time`` seconds (None: unknown), starts
        a new shot (the first frame does not): the whole frame changed, or it comes more than
        ``max_gap`` seconds after the one before (frames of a video sampled sparsely, or a
        selection of them, are not consecutive)."""
        h, w = image.shape[:2]
        size = (CUT_WIDTH, max(1, round(CUT_WIDTH * h / w)))
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), size,
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self.last is not None and (small.shape != self.last.shape
                                         or float(np.abs(small - self.last).mean()) > self.settings.cut)
        if time is not None and self.last_time is not None:
            cut |= abs(time - self.last_time) > self.settings.max_gap
        self.last, self.last_time = small, time
        return cut

    def regions(self, finder: FaceFinder, images: Sequence[np.ndarray],
                times: Sequence[float | None] | None = None) -> tuple[list[list[Region]], list]:
        """Each frame's regions and faces found (``FaceFinder.regions``), frame by frame; at a
        cut (``is_cut``; ``times``: each frame's, None where unknown) the finder starts following
        afresh, so every face there is a new track."""
        regions, found = [], []
        for image, time in zip(images, times or [None] * len(images)):
            if self.is_cut(image, time):
                finder.follow_video(steady=True, detect_every=self.settings.detect_every,
                                    whole_every=self.settings.whole_every)
            these, count = finder.regions(image)
            regions.append(these)
            found.append(count)
        return regions, found

    def carried_only(self, views: Sequence[View]) -> list[bool]:
        """Per view of this batch (in frame order): whether the models skip it, its mask and
        painted face carried over from the frame before by its motion instead. With
        ``model_every`` N, a followed face is run through the models on its first frame and every
        N-th after; a face not followed (no track) always is."""
        every, skip = self.settings.model_every, [False] * len(views)
        for frame in _frames(views):
            live = {_track(views[j][1]) for j in frame}
            self.seen = {k: n for k, n in self.seen.items() if k in live}
            for j in frame:
                key = _track(views[j][1])
                if key is not None:
                    count = self.seen.get(key, 0)
                    skip[j] = count % every != 0
                    self.seen[key] = count + 1
        return skip

    def _carry(self, store: dict, views: Sequence[View], new: torch.Tensor,
               blend: Callable[[int, Any], torch.Tensor],
               kept: Callable[[int, torch.Tensor], Any], skip: Sequence[bool] | None = None) -> torch.Tensor:
        """``new`` (one entry per view) with each followed face's entry blended with what its
        track left, moved to where the face now is in the crop (``carried``):
        ``blend(j, before)``, frame by frame (the carried entry alone where ``skip[j]``: the
        models did not run); ``store`` keeps ``kept(j, out[j])`` for the tracks of the latest
        frame only (a track absent from a frame is lost)."""
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
                    before = carried(store[key], views[j][1].pose.carry_matrix(new.shape[-1]))
                    out[j] = before[0][0] * before[1] if skip is not None and skip[j] else blend(j, before)
                store[key] = kept(j, out[j])
        return out

    def probabilities(self, views: Sequence[View], prob: torch.Tensor,
                      skip: Sequence[bool] | None = None) -> torch.Tensor:
        """The segmenter's ``(B,1,S,S)`` probabilities of ``views`` -> each face's running mean:
        ``p + decay * (mean - p)`` (this frame's alone for a new track, and where the face's
        motion brought in pixels the earlier crop did not hold); where ``skip`` (``carried_only``),
        the running mean alone, moved with the face (nothing where the crop is new)."""
        decay = self.settings.mask_decay

        def blend(j: int, before: tuple[torch.Tensor, ...]) -> torch.Tensor:
            (mean,), valid = before
            return prob[j] + (decay * valid) * (mean - prob[j])

        return self._carry(self.masks, views, prob, blend, lambda j, mean: (mean,), skip)

    def paint(self, views: Sequence[View], generated: torch.Tensor, masks: torch.Tensor,
              skip: Sequence[bool] | None = None) -> torch.Tensor:
        """The generator's ``(B,3,S,S)`` faces of ``views``, painted in ``masks`` ``(B,1,S,S)``
        {0,1} -> blended with the previous frame's painted face of the same track,
        ``g + w * (previous - g)``, where both masks are and the two agree: ``w`` is
        ``paint_weight`` times ``exp(-(d / paint_tolerance)^2)``, ``d`` their difference in gray
        levels (averaged over 5x5 pixels), so flicker of a few gray levels is smoothed away
        while a real change (a mouth opening) comes through at once. Where ``skip``
        (``carried_only``: the generator did not run), the previous painted face alone, moved
        with the face."""
        weight, tolerance = self.settings.paint_weight, self.settings.paint_tolerance / 255

        def blend(j: int, before: tuple[torch.Tensor, ...]) -> torch.Tensor:
            (face, mask), valid = before
            change = F.avg_pool2d((face - generated[j]).abs().mean(0, keepdim=True)[None], 5, 1, 2,
                                  count_include_pad=False)[0]
            w = weight * valid * mask * masks[j] * torch.exp(-(change / tolerance) ** 2)
            return generated[j] + w * (face - generated[j])

        return self._carry(self.painted, views, generated, blend, lambda j, face: (face, masks[j]), skip)


def carried(layers: tuple[torch.Tensor, ...], matrix: np.ndarray | None,
            still: float = 1e-3) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """What a track left, ``(C,S,S)`` layers of its previous crop, moved into this frame's crop
    by ``matrix`` (``(2,3)``, pixels of the previous crop -> pixels of this one; None: where they
    were), bilinear; and where they are known, ``(1,S,S)`` in [0,1] (0 where this crop reaches
    past the previous one). Moves under ``still`` pixels everywhere are not resampled, so a
    still face gives identical frames."""
    first = layers[0]
    size = first.shape[-1]
    known = torch.ones_like(first[:1])
    if matrix is None:
        return layers, known
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], float)
    if np.abs(corners @ matrix[:, :2].T + matrix[:, 2] - corners).max() < still:
        return layers, known
    # grid_sample wants, for each pixel of the output, where to read in the input, in units
    # of [-1, 1] across (pixel edges at +-1: align_corners=False).
    units = np.array([[2 / size, 0, 1 / size - 1], [0, 2 / size, 1 / size - 1], [0, 0, 1]])
    back = units @ np.linalg.inv(np.vstack([matrix, [0, 0, 1]])) @ np.linalg.inv(units)
    theta = torch.as_tensor(back[:2], dtype=first.dtype, device=first.device)[None]
    stacked = torch.cat([*layers, known])[None]
    grid = F.affine_grid(theta, list(stacked.shape), align_corners=False)
    moved = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    counts = [t.shape[0] for t in layers]
    *parts, valid = torch.split(moved, [*counts, 1])
    return tuple(parts), (valid > 0.999).to(first.dtype)
