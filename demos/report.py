"""The demo's closing table (ours vs OpenCV Telea on the held-out images) and its picture.

Our numbers are read from what ``infer.py`` wrote (``summary.json``, ``metrics.csv``),
so the table shows exactly what the published command measured; Telea's come from
``demos.baseline`` with the same masks and the same metric code.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from core.images import grid, load_image, write_image
from demos.baseline import BaselineScores


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    method: str
    masks: str
    dice: float  # segmentation Dice of the masks used (NaN: the ground-truth masks)
    psnr_mask: float
    ssim_mask: float


@dataclass(frozen=True)
class Comparison:
    """The table's rows and the headline numbers."""

    rows: list[Row]
    images: int
    margin_db: float  # ours minus Telea, in-mask PSNR, ground-truth masks
    margin_e2e_db: float  # the same with the predicted masks
    wins: int  # images where our in-mask PSNR beats Telea's (ground-truth masks)


def read_summary(results: Path) -> dict:
    return json.loads((results / "summary.json").read_text())


def mean_of(summary: dict, key: str) -> float:
    """The mean of a metric in an ``infer.py`` summary (NaN where it has none)."""
    entry = summary["metrics"].get(key)
    return float(entry["mean"]) if entry and entry["mean"] is not None else math.nan


def per_image_psnr(results: Path, column: str) -> dict[str, float]:
    """``name -> value`` of one ``metrics.csv`` column (empty cells skipped)."""
    with open(results / "metrics.csv", newline="") as f:
        return {row["name"]: float(row[column]) for row in csv.DictReader(f) if row[column]}


def compare(results: Path, telea_truth: BaselineScores, telea_predicted: BaselineScores) -> Comparison:
    """Ours (from ``infer.py``'s outputs in ``results``) against Telea with the same masks."""
    summary = read_summary(results)
    dice = mean_of(summary, "seg_dice")
    rows = [
        Row("ours: generator", "ground truth", math.nan, mean_of(summary, "gt_mask_psnr_mask"),
            mean_of(summary, "gt_mask_ssim_mask")),
        Row(f"OpenCV Telea (radius {telea_truth.radius})", "ground truth", math.nan,
            telea_truth.psnr_mask, telea_truth.ssim_mask),
        Row("ours: end to end", "predicted by ours", dice, mean_of(summary, "psnr_mask"),
            mean_of(summary, "ssim_mask")),
        Row(f"OpenCV Telea (radius {telea_predicted.radius})", "predicted by ours", dice,
            telea_predicted.psnr_mask, telea_predicted.ssim_mask),
    ]
    ours = per_image_psnr(results, "gt_mask_psnr_mask")
    wins = sum(ours[name] > telea_truth.per_image[name][0] for name in telea_truth.per_image if name in ours)
    return Comparison(rows, telea_truth.count, rows[0].psnr_mask - rows[1].psnr_mask,
                      rows[2].psnr_mask - rows[3].psnr_mask, wins)


def _cell(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def markdown_table(comparison: Comparison) -> str:
    lines = ["| method | masks | segmentation Dice | PSNR in mask (dB) | SSIM in mask |",
             "|---|---|---:|---:|---:|"]
    for row in comparison.rows:
        lines.append(f"| {row.method} | {row.masks} | {_cell(row.dice, 3)} | "
                     f"{_cell(row.psnr_mask, 2)} | {_cell(row.ssim_mask, 3)} |")
    return "\n".join(lines)


def headline(comparison: Comparison) -> str:
    return (f"In-mask PSNR, ours minus Telea: {comparison.margin_db:+.2f} dB with the ground-truth "
            f"masks (ours ahead on {comparison.wins} of {comparison.images} images), "
            f"{comparison.margin_e2e_db:+.2f} dB with our predicted masks.")


def video_line(results: Path, telea_truth: BaselineScores) -> str:
    """One line for the video frames: Dice, ours vs Telea inside the ground-truth mask."""
    summary = read_summary(results)
    return (f"Video frames ({summary['processed']} frames of the talking video, masked by prepare; "
            f"{results}): segmentation Dice {mean_of(summary, 'seg_dice'):.3f}; in-mask PSNR / SSIM "
            f"with the ground-truth masks: ours {mean_of(summary, 'gt_mask_psnr_mask'):.2f} dB / "
            f"{mean_of(summary, 'gt_mask_ssim_mask'):.3f}, Telea (radius {telea_truth.radius}) "
            f"{telea_truth.psnr_mask:.2f} dB / {telea_truth.ssim_mask:.3f}; end to end ours "
            f"{mean_of(summary, 'psnr_mask'):.2f} dB / {mean_of(summary, 'ssim_mask'):.3f}.")


def pick_examples(dataset: Path, count: int) -> list[str]:
    """Names of ``count`` examples of the prepared dataset, one mask type after another
    (its ``prepare_report.csv`` says which type each got), so the picture shows variety."""
    with open(dataset / "prepare_report.csv", newline="") as f:
        done = [r for r in csv.DictReader(f) if r["status"] in ("done", "exists")]
    by_type: dict[str, list[str]] = {}
    for row in done:
        by_type.setdefault(row["mask_type"], []).append(row["name"])
    picked: list[str] = []
    while len(picked) < count and any(by_type.values()):
        for names in by_type.values():
            if names and len(picked) < count:
                picked.append(names.pop(0))
    return picked


def demo_picture(results: Path, names: list[str], out: Path) -> Path:
    """Stack ``infer.py``'s panels (masked | found mask | reconstructed | truth) of ``names``
    into one PNG, compressed hard (lossless) so a copy can live in the repository."""
    panels = [load_image(results / f"results_{name}.png") for name in names]
    width = min(p.shape[1] for p in panels)
    write_image(out, grid([[p[:, :width]] for p in panels]), png_compression=9)
    return out

