"""The classical baseline: OpenCV's Telea inpainting, given the same masks as our model.

Scored with the project's own metrics (``metrics.psnr`` / ``metrics.ssim`` inside the
ground-truth mask, at the image's resolution), exactly as ``infer.py`` scores our model.
Telea's radius is picked per run as the one with the best mean in-mask PSNR, so the
baseline is compared at its best, not at an arbitrary setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from configs import Config
from core.images import load_mask
from inference.inputs import Item, open_input
from metrics import psnr, ssim

RADII = (3, 5, 9)  # pixels; OpenCV's example uses 3


@dataclass(frozen=True)
class BaselineScores:
    """Mean in-mask PSNR (dB) and SSIM at Telea radius ``radius``, and per image
    (``per_image[name] = (psnr, ssim)``)."""

    psnr_mask: float
    ssim_mask: float
    radius: int
    per_image: dict[str, tuple[float, float]]

    @property
    def count(self) -> int:
        return len(self.per_image)


def telea(masked: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """Inpaint ``mask`` (``(H,W)`` bool) in ``masked`` (``(H,W,3)`` uint8) with Telea's method."""
    return cv2.inpaint(masked, mask.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].double().div(255)


def in_mask_scores(result: np.ndarray, truth: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of ``result`` against ``truth`` inside ``region`` (``(H,W)`` bool)."""
    m = torch.from_numpy(region)[None, None].double()
    x, y = _tensor(result), _tensor(truth)
    return float(psnr(x, y, m)[0]), float(ssim(x.float(), y.float(), m.float())[0])


def _items(root: Path) -> list[Item]:
    """The dataset's examples that have both a clean face and a mask."""
    source = open_input(root, Config.from_dict({"task": "predict"}))
    try:
        return [item for item in source if isinstance(item, Item)
                and item.truth is not None and item.truth_mask is not None and item.truth_mask.any()]
    finally:
        source.close()


def score_telea(root: Path, masks_dir: Path | None = None) -> BaselineScores:
    """Telea on every example of the dataset ``root``, scored inside the ground-truth mask.

    Args:
        root: a dataset root (``image/``, ``image_masked/``, ``image_binary/``).
        masks_dir: where ``infer.py --save-masks`` wrote the predicted masks
            (``{name}_mask.png``); Telea then fills those instead of the ground-truth masks,
            the same masks our model used end to end. None: the ground-truth masks.
    """
    items = _items(root)
    if not items:
        raise ValueError(f"{root}: no example with a clean face and a mask to score")
    holes = {item.name: item.truth_mask if masks_dir is None
             else load_mask(masks_dir / f"{item.name}_mask.png") for item in items}
    best: BaselineScores | None = None
    for radius in tqdm(RADII, desc=f"OpenCV Telea on {root.name}", unit="radius", dynamic_ncols=True):
        scores = {item.name: in_mask_scores(telea(item.image, holes[item.name], radius), item.truth,
                                            item.truth_mask) for item in items}
        mean_psnr, mean_ssim = (float(v) for v in np.mean(list(scores.values()), axis=0))
        if best is None or mean_psnr > best.psnr_mask:
            best = BaselineScores(mean_psnr, mean_ssim, radius, scores)
    return best
