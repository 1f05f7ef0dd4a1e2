"""Temporal stability of a video: how much a region changes from frame to frame.

- ``luma``: the gray level every measure here works on, ``(H,W)`` float in [0, 255].
- ``flicker`` / ``temporal_std``: frames already aligned (a still face, or each frame warped
  back into one still frame's coordinates): the mean absolute change between consecutive
  frames, and the per-pixel standard deviation over time, inside a region, in gray levels.
- ``warp_error``: E_warp (Lai et al., ECCV 2018) for frames that are not aligned: frame t-1
  warped onto frame t by the optical flow between them (OpenCV's DIS), the mean absolute
  difference over pixels whose flow passes the forward-backward check, inside a region of
  frame t. Needs no known motion, so it can be had on any video.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

FLOW_MARGIN = 48  # pixels of context around the region the flow is computed on
# Forward-backward consistency as Sundaram et al. (ECCV 2010) and Lai et al. use it:
# |f + b|^2 < 0.01 (|f|^2 + |b|^2) + 0.5, in pixels.
CONSISTENCY_RELATIVE = 0.01
CONSISTENCY_ABSOLUTE = 0.5


def luma(image: np.ndarray) -> np.ndarray:
    """``(H,W,3)`` uint8 RGB -> ``(H,W)`` float32 gray levels in [0, 255] (BT.601 weights)."""
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def flicker_pairs(frames: Sequence[np.ndarray], region: np.ndarray) -> list[float]:
    """Mean absolute gray-level change inside ``region`` for each consecutive pair.

    ``frames``: aligned ``(H,W,3)`` uint8 RGB frames; ``region``: ``(H,W)`` bool. Returns
    ``len(frames) - 1`` values in [0, 255].
    """
    grays = [luma(f)[region] for f in frames]
    return [float(np.abs(b - a).mean()) for a, b in zip(grays, grays[1:])]


def flicker(frames: Sequence[np.ndarray], region: np.ndarray) -> float:
    """The mean of ``flicker_pairs`` (NaN for fewer than two frames)."""
    pairs = flicker_pairs(frames, region)
    return float(np.mean(pairs)) if pairs else float("nan")


def temporal_std(frames: Sequence[np.ndarray], region: np.ndarray) -> float:
    """Per-pixel standard deviation of the gray level over time, averaged inside ``region``."""
    stack = np.stack([luma(f)[region] for f in frames])
    return float(stack.std(axis=0).mean())


def _box(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    ys, xs = np.nonzero(region)
    h, w = region.shape
    return (slice(max(0, ys.min() - margin), min(h, ys.max() + margin + 1)),
            slice(max(0, xs.min() - margin), min(w, xs.max() + margin + 1)))


def warp_error(previous: np.ndarray, current: np.ndarray, region: np.ndarray,
               flow: cv2.DISOpticalFlow | None = None) -> float:
    """E_warp of one pair: ``previous`` warped onto ``current``, mean absolute gray-level error.

    ``previous``, ``current``: ``(H,W,3)`` uint8 RGB; ``region``: ``(H,W)`` bool in
    ``current``'s pixels. The flow is computed on the region's bounding box plus
    ``FLOW_MARGIN``. NaN when the region is empty or no pixel in it has a consistent flow.
    """
    if not region.any():
        return float("nan")
    rows, cols = _box(region, FLOW_MARGIN)
    g0 = np.ascontiguousarray(cv2.cvtColor(previous[rows, cols], cv2.COLOR_RGB2GRAY))
    g1 = np.ascontiguousarray(cv2.cvtColor(current[rows, cols], cv2.COLOR_RGB2GRAY))
    dis = flow or cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    backward = dis.calc(g1, g0, None)  # where each pixel of frame t was in frame t-1
    forward = dis.calc(g0, g1, None)
    h, w = g1.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xs + backward[..., 0], ys + backward[..., 1]
    warped = cv2.remap(luma(previous[rows, cols]), map_x, map_y, cv2.INTER_LINEAR)
    forward_there = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR)
    loop = ((backward + forward_there) ** 2).sum(-1)
    scale = (backward ** 2).sum(-1) + (forward_there ** 2).sum(-1)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    valid = region[rows, cols] & inside & (loop < CONSISTENCY_RELATIVE * scale + CONSISTENCY_ABSOLUTE)
    if not valid.any():
        return float("nan")
    return float(np.abs(luma(current[rows, cols]) - warped)[valid].mean())
