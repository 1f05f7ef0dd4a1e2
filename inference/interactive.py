"""The inference pipeline taken a step at a time, for a person correcting the mask by hand
(the web app, ``app.py``): each change re-runs only what it must.

``PhotoSession(reconstructor, image)`` finds the faces and runs the segmenter once; then
``mask(threshold, dilation)`` cleans its probabilities again (cheap), ``paint`` adds to or
erases from a mask with a round brush (no model), and ``reconstruct(mask)`` runs the
generator on the mask as it stands. The steps are the pipeline's own (``MaskReconstructor``),
so what the page shows is what ``infer.py`` would make of the same mask.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from faces.crop import Region
from inference.morphology import clean_mask
from inference.pipeline import MaskReconstructor, Reconstruction, full_resolution


class PhotoSession:
    """One photo being worked on: its faces and the segmenter's probabilities, kept."""

    def __init__(self, reconstructor: MaskReconstructor, image: np.ndarray) -> None:
        self.rec, self.image = reconstructor, image
        with torch.inference_mode():
            self.regions, self.faces_found = reconstructor.faces.regions(image)
            self.probabilities = None
            if self.regions:
                x = reconstructor.prepare([r.cut(image, reconstructor.img_size) for r in self.regions])
                views = [(0, r) for r in self.regions]
                self.probabilities = reconstructor.view_probabilities(x, [image], views).cpu()

    @property
    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [r.box for r in self.regions if r.box is not None]

    def mask(self, threshold: float, dilate_kernel: int) -> np.ndarray:
        """``(H,W)`` bool: the predicted mask cleaned with these settings (the configured
        erosion), kept inside each face's zone, at the photo's resolution."""
        out = np.zeros(self.image.shape[:2], bool)
        if self.probabilities is None:
            return out
        morphology = {**self.rec.morphology, "threshold": threshold, "dilate_kernel": dilate_kernel}
        masks = self.rec.limit_to_faces(clean_mask(self.probabilities, **morphology), self.regions)
        for region, mask in zip(self.regions, masks):
            shown = region.visible(self.image.shape)
            if shown is not None:
                (top, bottom, left, right), _ = shown
                out[top:bottom, left:right] |= full_resolution(region, mask, self.image.shape)
        return out

    def reconstruct(self, mask: np.ndarray) -> Reconstruction:
        """The generator on ``mask`` (``(H,W)`` bool) as it stands; outside it the photo's own
        pixels. With no face found the whole photo is one region."""
        regions: list[Region] = self.regions or [Region.whole(self.image)]
        (result,) = self.rec([self.image], masks=[mask], regions=[regions])
        return result


def paint(mask: np.ndarray, x: float, y: float, radius: float, add: bool) -> np.ndarray:
    """A copy of ``mask`` with a disc of ``radius`` pixels at (x, y) set (``add``) or cleared."""
    out = mask.astype(np.uint8)
    cv2.circle(out, (int(round(x)), int(round(y))), max(1, int(round(radius))), 1 if add else 0, -1)
    return out.astype(bool)
