"""How a face moved between two consecutive video frames.

A face detector places its box a pixel or two differently on every frame, so a crop that
follows the detections alone jitters, and anything carried from one frame to the next in
the crop's coordinates lands a little off the face. The face's own pixels say how it moved
far more precisely: corners inside the face's crop are followed from one frame to the next
by pyramidal Lucas-Kanade optical flow, checked by flowing them back, and a similarity
transform (shift, scale, turn) is fitted to those that agree (RANSAC), to a small fraction
of a pixel on a face 60 px wide.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_POINTS = 8  # corners that must follow the face for its motion to count as measured
MAX_CORNERS = 120
ROUND_TRIP = 0.5  # px: a corner flowed forward and back must come home this close
INLIER_PX = 1.0  # px: RANSAC's reprojection tolerance
MARGIN = 0.15  # of the box's side: room for the face to move into the next frame


def gray(image: np.ndarray) -> np.ndarray:
    """``(H,W,3)`` uint8 RGB -> ``(H,W)`` uint8, what the flow is measured on."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def face_motion(previous: np.ndarray, current: np.ndarray,
                box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The similarity transform that carries the face in ``box`` from ``previous`` to ``current``.

    Args:
        previous, current: consecutive ``(H,W)`` uint8 gray frames (``gray``).
        box: ``(x0, y0, x1, y1)`` pixels of ``previous`` where the face is (its crop).

    Returns:
        ``(2,3)`` float64, pixel (x, y) of ``previous`` -> pixel of ``current`` (pixel centres at
        whole numbers), or None when too few corners could be followed (a blank or blurred face,
        a face leaving the frame): the caller then predicts the motion another way.
    """
    h, w = previous.shape
    x0, y0, x1, y1 = box
    pad = MARGIN * max(x1 - x0, y1 - y0)
    left, top = max(int(np.floor(x0 - pad)), 0), max(int(np.floor(y0 - pad)), 0)
    right, bottom = min(int(np.ceil(x1 + pad)), w), min(int(np.ceil(y1 + pad)), h)
    if right - left < 16 or bottom - top < 16:
        return None
    a, b = previous[top:bottom, left:right], current[top:bottom, left:right]
    inside = np.zeros_like(a)  # corners from the box only; the margin is for the search
    inside[max(int(y0) - top, 0):max(int(y1) - top, 0), max(int(x0) - left, 0):max(int(x1) - left, 0)] = 255
    side = max(x1 - x0, y1 - y0)
    corners = cv2.goodFeaturesToTrack(a, MAX_CORNERS, 0.01, max(2.0, side / 40), mask=inside, blockSize=5)
    if corners is None or len(corners) < MIN_POINTS:
        return None
    window = (15, 15)
    ahead, found, _ = cv2.calcOpticalFlowPyrLK(a, b, corners, None, winSize=window, maxLevel=3)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(b, a, ahead, None, winSize=window, maxLevel=3)
    home = np.linalg.norm((back - corners).reshape(-1, 2), axis=1) < ROUND_TRIP
    good = found.ravel().astype(bool) & found_back.ravel().astype(bool) & home
    if good.sum() < MIN_POINTS:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(corners[good], ahead[good], method=cv2.RANSAC,
                                                  ransacReprojThreshold=INLIER_PX, refineIters=20)
    if matrix is None or int(inliers.sum()) < MIN_POINTS:
        return None
    # From the window's pixels to the frame's: shift in, transform, shift back.
    offset = np.array([left, top], float)
    matrix[:, 2] += offset - matrix[:, :2] @ offset
    return matrix
