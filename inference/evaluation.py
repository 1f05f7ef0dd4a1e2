"""Per-image metrics for ``infer.py``, their running means, and the printed summary.

Every number comes from ``metrics`` (one definition each), computed
at the input's resolution:

* segmentation: Dice and pixel accuracy of the predicted, cleaned mask against the
  ground-truth mask;
* reconstruction, end to end (the predicted mask) and with the ground-truth mask (the
  generator alone, ``gt_mask_*``): SSIM and PSNR on the whole image and inside the mask
  (the ground-truth mask; the predicted one when the dataset has no masks), and the dlib
  identity distance to the ground truth;
* the published image "DICE" lines, as ``legacy_*``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from inference.inputs import Item
from inference.paste import Reconstruction
from metrics import (
    PSNR_CAP_DB,
    PixelAccuracy,
    dice_per_image,
    identity_distances,
    psnr,
    published_image_dice,
    ssim,
)

RECONSTRUCTION = ("ssim", "psnr", "ssim_mask", "psnr_mask", "identity_distance")
COLUMNS = ("name", "width", "height", "faces_found", "mask_found", "mask_fraction",
           "seg_dice", "seg_pixel_accuracy",
           *RECONSTRUCTION,
           *(f"gt_mask_{k}" for k in RECONSTRUCTION),
           "legacy_image_dice", "legacy_image_dice_mask")
NUMERIC = COLUMNS[3:]


def _image(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(H,W,3)`` uint8 -> ``(1,3,H,W)`` float in [0,1]."""
    return torch.from_numpy(array).to(device).permute(2, 0, 1)[None].float().div_(255)


def _mask(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(H,W)`` bool -> ``(1,1,H,W)`` float in {0,1}."""
    return torch.from_numpy(array).to(device)[None, None].float()


def _reconstruction_scores(result: torch.Tensor, truth: torch.Tensor, region: torch.Tensor,
                           identity: float) -> dict[str, float]:
    has_region = bool(region.any())
    return {
        "ssim": float(ssim(result, truth)[0]),
        "psnr": float(psnr(result, truth)[0]),
        "ssim_mask": float(ssim(result, truth, region)[0]) if has_region else math.nan,
        "psnr_mask": float(psnr(result, truth, region)[0]) if has_region else math.nan,
        "identity_distance": identity,
    }


@torch.inference_mode()
def evaluate(item: Item, result: Reconstruction, with_truth_mask: Reconstruction | None = None,
             identity: bool = True, device: torch.device | str = "cpu") -> dict[str, object]:
    """One row of ``metrics.csv``: every column of ``COLUMNS``, NaN where it does not apply.

    Args:
        item: the input (with ``truth`` / ``truth_mask`` where the dataset has them).
        result: the end-to-end reconstruction (predicted mask).
        with_truth_mask: the reconstruction made with ``item.truth_mask`` (generator alone).
        identity: compute the dlib identity distance (about a third of a second per 512 px image).
    """
    device = torch.device(device)
    h, w = item.image.shape[:2]
    row: dict[str, object] = dict.fromkeys(NUMERIC, math.nan)
    row.update(name=item.name, width=w, height=h, mask_found=int(result.mask_found),
               mask_fraction=float(result.mask.mean()),
               faces_found=math.nan if result.faces_found is None else result.faces_found)
    predicted = _mask(result.mask, device)
    if item.truth_mask is not None:
        target = _mask(item.truth_mask, device)
        row["seg_dice"] = float(dice_per_image(predicted, target)[0])
        row["seg_pixel_accuracy"] = float(PixelAccuracy().update(predicted, target)[0])
    if item.truth is None:
        return row
    truth = _image(item.truth, device)
    region = _mask(item.truth_mask, device) if item.truth_mask is not None else predicted
    candidates = [result.image] + ([with_truth_mask.image] if with_truth_mask else [])
    distances = (identity_distances(item.truth, candidates) if identity
                 else [math.nan] * len(candidates))
    end_to_end = _image(result.image, device)
    row.update(_reconstruction_scores(end_to_end, truth, region, distances[0]))
    if with_truth_mask is not None:
        scores = _reconstruction_scores(_image(with_truth_mask.image, device), truth, region,
                                        distances[1])
        row.update({f"gt_mask_{k}": v for k, v in scores.items()})
    row["legacy_image_dice"] = float(published_image_dice(end_to_end, truth)[0])
    # The published "DICE Mask": generator output and ground truth, both zeroed outside
    # the predicted mask (inside it the composite is the generator output).
    # With no mask found both images are all zeros and the formula gives 1.0: report nothing.
    row["legacy_image_dice_mask"] = float(
        published_image_dice(end_to_end * predicted, truth * predicted)[0]) if predicted.any() else math.nan
    return row


class RunningMeans:
    """Mean and count of each numeric column over the rows added (NaN entries skipped),
    kept as sums so memory stays flat however many images there are."""

    def __init__(self) -> None:
        self.sums = dict.fromkeys(NUMERIC, 0.0)
        self.counts = dict.fromkeys(NUMERIC, 0)

    def add(self, row: dict[str, object]) -> None:
        for key in NUMERIC:
            value = row.get(key)
            if isinstance(value, (int, float)) and not math.isnan(value):
                self.sums[key] += float(value)
                self.counts[key] += 1

    def mean(self, key: str) -> float:
        return self.sums[key] / self.counts[key] if self.counts[key] else math.nan

    def as_dict(self) -> dict[str, dict[str, float | int | None]]:
        """``{column: {"mean": ..., "count": ...}}`` for the columns with any value."""
        return {k: {"mean": self.mean(k), "count": self.counts[k]} for k in NUMERIC if self.counts[k]}


def _fmt(value: float, digits: int = 4) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _db(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f} dB" + (" (cap: identical)" if value >= PSNR_CAP_DB else "")


def summary_lines(means: RunningMeans, identity_on: bool = True) -> list[str]:
    """The published summary lines (the image "DICE" ones labelled legacy), then ours
    (the identity distance only when it was computed)."""
    m = means.mean
    lines: list[str] = []
    if means.counts["ssim"]:
        lines += [
            "published summary (DICE compares images, not masks: legacy, see README):",
            f"DICE (legacy image Dice):  {_fmt(m('legacy_image_dice'))}",
            f"SSIM:  {_fmt(m('ssim'))}",
            f"DICE Mask (legacy image Dice):  {_fmt(m('legacy_image_dice_mask'))}",
            f"SSIM Mask:  {_fmt(m('ssim_mask'))}  (ours: mean SSIM map inside the mask)",
        ]
    lines.append(f"masks found: {int(means.sums['mask_found'])} of {means.counts['mask_found']} "
                 f"images, mean mask area {_fmt(100 * m('mask_fraction'), 1)}%")
    if means.counts["seg_dice"]:
        n = means.counts["seg_dice"]
        lines.append(f"segmentation Dice: {_fmt(m('seg_dice'))} (n={n})")
        lines.append(f"segmentation pixel accuracy: {_fmt(m('seg_pixel_accuracy'))} (n={n})")
    for prefix, title in (("", "end to end (predicted mask)"),
                          ("gt_mask_", "generator alone (ground-truth mask)")):
        if not means.counts[f"{prefix}ssim"]:
            continue
        ident = f"{prefix}identity_distance"
        identity = (f" | identity distance {_fmt(m(ident))} (faces found: {means.counts[ident]})"
                    if identity_on else "")
        lines.append(
            f"{title}: SSIM {_fmt(m(prefix + 'ssim'))} | SSIM (mask) {_fmt(m(prefix + 'ssim_mask'))}"
            f" | PSNR {_db(m(prefix + 'psnr'))} | PSNR (mask) {_db(m(prefix + 'psnr_mask'))}"
            f"{identity} (n={means.counts[prefix + 'ssim']})")
    return lines


def csv_value(value: object) -> str:
    """A cell of ``metrics.csv``: empty for NaN, 6 significant digits for floats."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def nan_to_none(values: Iterable[tuple[str, object]]) -> dict[str, object]:
    """JSON has no NaN: write null instead."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values}
