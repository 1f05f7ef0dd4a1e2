"""What the benchmarks compare against: the published pipeline's pieces and classical inpainting."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

INPAINT_RADIUS = 3  # pixels around each filled point that OpenCV's methods look at


def published_threshold_loop(prob: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The published thresholding: ``(B,1,H,W)`` probabilities -> {0,1}, element by element
    in Python (one tensor read, compare and write per pixel)."""
    out = prob.clone()
    for b, image in enumerate(out):
        for c, channel in enumerate(image):
            for y, row in enumerate(channel):
                for x, value in enumerate(row):
                    out[b, c, y, x] = 1.0 if value >= threshold else 0.0
    return out


def classical_inpainters() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Name -> ``f(image (H,W,3) uint8, mask (H,W) bool) -> (H,W,3)``: OpenCV's Telea and
    Navier-Stokes methods and scikit-image's biharmonic inpainting."""
    from skimage.restoration import inpaint_biharmonic

    def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.inpaint(image, mask.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)

    def navier_stokes(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.inpaint(image, mask.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)

    def biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return inpaint_biharmonic(image, mask, channel_axis=-1)

    return {"OpenCV Telea": telea, "OpenCV Navier-Stokes": navier_stokes,
            "scikit-image biharmonic": biharmonic}
