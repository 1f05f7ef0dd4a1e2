"""The inference pipeline taken a step at a time, for a person correcting the mask by hand
(the web app, ``app.py``): each change re-runs only what it must.

``PhotoSession(reconstructor, image)`` finds the faces and runs the segmenter once; then
``mask(threshold, dilation)`` cleans its probabilities again (cheap), ``paint`` adds to or
erases from a mask with a round brush (no model), and ``reconstruct(mask, threshold,
dilation)`` runs the generator on the mask as it stands. A mask the person gave
(``PhotoSession(reconstructor, image, given)``) takes the segmenter's place, as ``infer.py
--masks`` does: the segmenter is not run. The steps are the pipeline's own
(``MaskReconstructor``): the generator sees the model-side mask ``infer.py`` would, changed only
where the brush changed the photo's mask, and the seam is feathered as ``infer.py`` feathers
it, so an unedited mask gives ``infer.py``'s pixels.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from core.images import resize_mask
from faces.crop import Region
from inference.paste import Reconstruction, full_resolution
from inference.pipeline import MaskReconstructor


class PhotoSession:
    """One photo being worked on: its faces, their cuts and the segmenter's probabilities, kept."""

    def __init__(self, reconstructor: MaskReconstructor, image: np.ndarray,
                 given: np.ndarray | None = None) -> None:
        self.rec, self.image, self.given = reconstructor, image, given  # given: (H,W) bool or None
        with torch.inference_mode():
            self.regions, self.faces_found = reconstructor.faces.regions(image)
            self.views = [(0, r) for r in self.regions]
            self.cuts = self.probabilities = None
            if self.regions and given is None:
                self.cuts = reconstructor.prepare_views([image], self.views)
                self.probabilities = reconstructor.view_probabilities([image], self.views, self.cuts)

    @property
    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [r.box for r in self.regions if r.box is not None]

    def _view_masks(self, threshold: float, dilate_kernel: int) -> torch.Tensor:
        return self.rec.view_masks(self.probabilities, self.regions, threshold, dilate_kernel)

    def _full(self, view_masks: torch.Tensor) -> np.ndarray:
        out = np.zeros(self.image.shape[:2], bool)
        for region, mask in zip(self.regions, view_masks):
            shown = region.visible(self.image.shape)
            if shown is not None:
                (top, bottom, left, right), _ = shown
                out[top:bottom, left:right] |= full_resolution(region, mask, self.image.shape)
        return out

    def mask(self, threshold: float, dilate_kernel: int) -> np.ndarray:
        """``(H,W)`` bool: the predicted mask cleaned with these settings (the configured
        erosion), kept inside each face's zone, at the photo's resolution; the given mask as
        it is, whatever the settings."""
        if self.given is not None:
            return self.given.copy()
        if self.probabilities is None:
            return np.zeros(self.image.shape[:2], bool)
        return self._full(self._view_masks(threshold, dilate_kernel))

    def reconstruct(self, mask: np.ndarray, threshold: float, dilate_kernel: int) -> Reconstruction:
        """The generator on ``mask`` (``(H,W)`` bool), the mask ``mask(threshold, dilate_kernel)``
        gave, perhaps brushed; outside it the photo's own pixels. The seam is feathered for
        that dilation. With no face found the whole photo is one region. A given mask is
        painted as ``infer.py --masks`` paints it (the configured feather)."""
        if self.given is not None:
            regions = self.regions or [Region.whole(self.image)]
            (result,) = self.rec([self.image], masks=[mask], regions=[regions])
            result.faces_found = self.faces_found
            return result
        feather = self.rec.settings.feather_for(dilate_kernel)
        if self.probabilities is None:
            (result,) = self.rec([self.image], masks=[mask], regions=[[Region.whole(self.image)]],
                                 feather=feather)
            return result
        predicted = self._view_masks(threshold, dilate_kernel)
        small = brushed(predicted, mask, mask != self._full(predicted), self.regions)
        result = Reconstruction(self.image.copy(), np.zeros(self.image.shape[:2], bool),
                                list(self.regions), self.faces_found)
        self.rec.paint([result], self.views, self.cuts, small, masks=[mask], feather=feather)
        return result


def brushed(predicted: torch.Tensor, mask: np.ndarray, changed: np.ndarray,
            regions: list[Region]) -> torch.Tensor:
    """The model-side masks ``(B,1,S,S)`` {0,1} of ``regions``: ``predicted``, except the model
    pixels whose footprint holds a ``changed`` photo pixel, which follow ``mask`` (``(H,W)`` bool)
    resized down."""
    if not changed.any():
        return predicted
    size = predicted.shape[-1]
    out = predicted.clone()
    for k, region in enumerate(regions):
        cut = region.pixels(changed).astype(np.float32)
        touched = cv2.resize(cut, (size, size), interpolation=cv2.INTER_AREA) > 0
        if touched.any():
            wanted = torch.from_numpy(resize_mask(region.pixels(mask), size)).to(out.device, out.dtype)
            where = torch.from_numpy(touched).to(out.device)
            out[k, 0] = torch.where(where, wanted, out[k, 0])
    return out


def paint(mask: np.ndarray, x: float, y: float, radius: float, add: bool) -> np.ndarray:
    """A copy of ``mask`` with a disc of ``radius`` pixels at (x, y) set (``add``) or cleared."""
    out = mask.astype(np.uint8)
    cv2.circle(out, (int(round(x)), int(round(y))), max(1, int(round(radius))), 1 if add else 0, -1)
    return out.astype(bool)
