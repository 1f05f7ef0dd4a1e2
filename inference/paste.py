"""Putting generated faces back into the photo, at the photo's own resolution.

Each region's ``(S,S)`` generated face and mask are resized to the region's size and pasted
into the original pixels, so everything outside the mask is byte-identical to the input,
whatever its size or aspect ratio. Inside the mask the seam may be feathered (blended with
the input over a margin inside the mask's edge, never reaching outside it). A region cut at
sub-pixel precision (``Region.pose``, on a video held steady) is warped back by the inverse
of its cut, its feather drawn in the crop, so the seam moves with the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from faces.crop import Pose, Region


@dataclass
class Reconstruction:
    """One image's result at the input's resolution."""

    image: np.ndarray  # (H,W,3) uint8: input outside the mask, generated face inside
    mask: np.ndarray  # (H,W) bool: the mask used (predicted and cleaned, or the given one)
    regions: list[Region] = field(default_factory=list)  # what the models saw (faces or the whole)
    faces_found: int | None = None  # faces detected (None: faces=none, not searched)
    implausible: bool = False  # a region's mask area is unlike a face mask's

    @property
    def mask_found(self) -> bool:
        return bool(self.mask.any())


def full_resolution(region: Region, mask: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """A region's ``(1,S,S)`` {0,1} model-side mask at the resolution of the input of ``shape``,
    the part of it inside the image (``Region.visible``; the region must reach into it):
    bilinear, then 0.5, so the outline stays smooth."""
    inside = region.visible(shape)[1]
    up = F.interpolate(mask[None].float(), size=(region.height, region.width), mode="bilinear",
                       align_corners=False)[0, 0] > 0.5
    return up[inside].cpu().numpy()


def paste(result: Reconstruction, region: Region, generated: torch.Tensor, mask: torch.Tensor,
          given_mask: np.ndarray | None = None, feather: float = 0.0) -> None:
    """Paste one region's generated face into ``result`` (in place), at full resolution.

    Args:
        result: the image being built (starts as a copy of the input).
        region: where the model's ``(S,S)`` view sits in the input.
        generated: ``(3,S,S)`` in [0,1], the generator's face.
        mask: ``(1,S,S)`` {0,1}, the cleaned mask it painted (resized up here: bilinear, then
            0.5, so the outline stays smooth).
        given_mask: ``(H,W)`` bool at the input's resolution (the true mask, the user's),
            pasted through instead of ``mask`` resized up.
        feather: model pixels inside the mask's edge over which the face is blended with the
            input (0: a hard edge). Outside the mask every pixel stays the input's.
    """
    if region.pose is not None:
        return _paste_warped(result, region.pose, generated, mask, given_mask, feather)
    shown = region.visible(result.image.shape)
    if shown is None:
        return
    (top, bottom, left, right), inside = shown
    size = (region.height, region.width)
    face = F.interpolate(generated[None], size=size, mode="bilinear", align_corners=False)[0]
    face = (face[(slice(None), *inside)].clamp(0, 1) * 255).round_().to(torch.uint8)
    face = face.permute(1, 2, 0).cpu().numpy()
    m = (given_mask[top:bottom, left:right] if given_mask is not None
         else full_resolution(region, mask, result.image.shape))
    target = result.image[top:bottom, left:right]
    pixels = feather * region.width / generated.shape[-1]
    if pixels >= 1 and m.any():
        alpha = np.clip(cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3) / pixels, 0, 1)[..., None]
        blended = (target * (1 - alpha) + face * alpha + 0.5).astype(np.uint8)
    else:
        blended = face
    target[m] = blended[m]
    result.mask[top:bottom, left:right] |= m


def _paste_warped(result: Reconstruction, pose: Pose, generated: torch.Tensor, mask: torch.Tensor,
                  given_mask: np.ndarray | None, feather: float) -> None:
    """``paste`` for a sub-pixel crop: the face, the mask and the feather's weights are warped
    from the crop back into the input (bilinear; the mask then taken above one half)."""
    height, width = result.image.shape[:2]
    size = generated.shape[-1]
    small = (mask[0] > 0.5).cpu().numpy().astype(np.uint8)
    x0, y0, x1, y1 = pose.bounds() if given_mask is not None else _mask_bounds(pose, small)
    left, top, right, bottom = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if left >= right or top >= bottom:
        return
    m = pose.matrix(size)
    m[:, 2] += m[:, :2] @ [left, top]  # pixels of the pasted box -> pixels of the crop

    def back(a: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(a, m, (right - left, bottom - top),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)

    face = (back(generated.permute(1, 2, 0).float().cpu().numpy()).clip(0, 1) * 255).round()
    if given_mask is not None:
        m_full = given_mask[top:bottom, left:right]
    else:
        m_full = back(small.astype(np.float32)) > 0.5
    target = result.image[top:bottom, left:right]
    if feather < 1 or not m_full.any():
        alpha = np.ones(m_full.shape + (1,), np.float32)
    elif given_mask is not None:
        distance = cv2.distanceTransform(m_full.astype(np.uint8), cv2.DIST_L2, 3)
        alpha = np.clip(distance / (feather * pose.side / size), 0, 1)[..., None]
    else:
        alpha = back(np.clip(cv2.distanceTransform(small, cv2.DIST_L2, 3) / feather, 0, 1))[..., None]
    blended = (target * (1 - alpha) + face * alpha + 0.5).astype(np.uint8)
    target[m_full] = blended[m_full]
    result.mask[top:bottom, left:right] |= m_full


def _mask_bounds(pose: Pose, small: np.ndarray) -> tuple[int, int, int, int]:
    """The whole-pixel box ``(x0, y0, x1, y1)`` of the input that the crop's ``(S,S)`` {0,1}
    mask ``small`` reaches once warped back (empty where it is empty): only there can a pixel
    change, and the mask is a fraction of the crop, so only that box is warped and blended."""
    rows, cols = np.flatnonzero(small.any(1)), np.flatnonzero(small.any(0))
    if not len(rows):
        return 0, 0, 0, 0
    margin = 1.5  # the bilinear warp reaches a pixel past the mask's outermost centres
    corners = np.array([[cols[0] - margin, rows[0] - margin], [cols[-1] + margin, rows[0] - margin],
                        [cols[0] - margin, rows[-1] + margin], [cols[-1] + margin, rows[-1] + margin]])
    back = cv2.invertAffineTransform(pose.matrix(small.shape[-1]))
    points = corners @ back[:, :2].T + back[:, 2]
    (x0, y0), (x1, y1) = np.floor(points.min(0)).astype(int), np.ceil(points.max(0)).astype(int) + 1
    return int(x0), int(y0), int(x1), int(y1)
