"""Reconstruction quality on data the models never saw anything close to (run by hand).

    python3 benchmarks/quality.py [--steps 125] [--minutes 30] [--splits block,people]
                                  [--recipes NAME,NAME] [--size 256] [--work DIR]

Frames of one recording a second apart are near copies of each other, so a model scored on
its own recording's neighbours measures memory. Every score here comes from a split the
model cannot pass by memory:

- **block**: ``dataset1_train``'s 20 frames (one person, one recording, MaskTheFace masks) cut
  in time: trained on frames 0-9, scored on 10-19, and the reverse.
- **people**: trained on the CelebA sample's training faces, scored on its validation faces
  (14 other people), with their MaskTheFace masks.
- **same** (only when asked for, a labelled memory check): the 20 frames in 4 rotated folds,
  each scored by models trained on the other 15: neighbours one second apart.

Each recipe's generator is trained per fold with the same seed, for ``--steps`` steps of 4
(the published budget: 25 epochs of 20 frames); with ``--minutes M`` the number of steps that
fit in M minutes of this machine instead (measured on the first fold). "default" is what
``configs/facemask.yaml`` and ``configs/segm.yaml`` train; "before" the earlier defaults (white hole,
segmenter without augmentation); "white hole" the same generator with today's segmenter. Each
recipe's segmenter is trained on the CelebA sample's training crops (``--segm-steps`` of 8), so
it never sees the block split's person or the validation people. Every image is scored at its
own resolution inside the true mask: end to end (the predicted mask), the generator alone (the
true mask), OpenCV Telea on the same masks, mask Dice and recall (the share of the true mask
covered), images with more than 100 true-mask pixels left uncovered, the mask predicted on
bare faces (the validation faces without masks), and the dlib identity
distance. Every run writes a picture grid per split and recipe (masked | ours end to end |
ours with the true mask | truth, cut around the mask) to ``results/quality/``, and the tables
and numbers to ``results/quality.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import cv2
import numpy as np
import torch

from configs import Config
from configs.loader import read_settings
from core.images import load_image, load_mask, write_image
from datasets.layout import read_annotations, write_annotations
from demos.baseline import in_mask_scores, telea
from faces.track import FaceFinder
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from metrics import identity_distances
from prepare.crops import crop_dataset
from stages import RECONSTRUCTION, SEGMENTATION, Stage
from trainers import ReconstructionTrainer, SegmentationTrainer

FIXTURES = REPO.parent / "shared" / "fixtures"
FRAMES = FIXTURES / "dataset1_train"
CELEBA = FIXTURES / "celeba30"
UNCOVERED = 100  # true-mask pixels left uncovered that make an image count as "mask left on"
TILE = 112  # side of one picture in the crop grids

# Each recipe is a set of config overrides on the schema's defaults; "default" is what
# `python3 train.py facemask` trains (configs/facemask.yaml), so the table follows the defaults.
DEFAULT = {k: v for k, v in read_settings(REPO / "configs" / "facemask.yaml").items() if k != "task"}
SEGMENTER = {k: v for k, v in read_settings(REPO / "configs" / "segm.yaml").items() if "per_iter" not in k}
BEFORE = {"hole_weight": 6.0, "lambda_G": 1.0, "fill": "white", "residual": False}
RECIPES = {
    "before": BEFORE,
    "default": DEFAULT,
    "lambda_G 10": {**BEFORE, "lambda_G": 10.0},
    "smooth fill": {**BEFORE, "fill": "smooth"},
    "smooth fill + residual": {**BEFORE, "fill": "smooth", "residual": True},
    "smooth fill + residual + lambda_G 10": {**BEFORE, "fill": "smooth", "residual": True, "lambda_G": 10.0},
    "mean-face fill + residual": {**BEFORE, "fill": "prior", "residual": True},
    "white hole": BEFORE,
    "light": {**DEFAULT, "arch": "light", "base_channels": 16},
}
DEFAULT_RECIPES = ("before", "white hole", "default")
# The segmenter each row uses: "before" keeps the earlier one (no augmentation, no thin-part
# weight), the rest the default
# ("white hole" is the "before" generator with today's segmenter).
BEFORE_SEGMENTER = {**{k: v for k, v in SEGMENTER.items() if k != "thin_weight"}, "augment": "none"}
# The light segmenter is configs/segm_light.yaml's: trained and run at its own side (128 px),
# its probabilities resized to the generator's crop as in inference (``segm_size``).
LIGHT_SEGMENTER = {k: v for k, v in read_settings(REPO / "configs" / "segm_light.yaml").items()
                   if "per_iter" not in k}
SEGMENTER_OF = {"before": BEFORE_SEGMENTER, "light": LIGHT_SEGMENTER}


@dataclass
class Frame:
    """One test image at its own resolution."""

    name: str
    masked: np.ndarray  # (H,W,3) uint8
    truth: np.ndarray  # (H,W,3) uint8
    mask: np.ndarray  # (H,W) bool, the true mask


@dataclass
class Fold:
    train_root: Path  # a triplet root of face crops with annotations/train.csv
    test: list[Frame]


def common(work: Path, size: int, base_channels: int) -> dict:
    return {"img_size": size, "device": "cpu", "num_workers": 0, "cache_images": True, "seed": 0,
            "checkpoint_path": str(work / "weights"), "sample_folder": str(work / "samples"),
            "print_per_iter": 100_000, "visualize_per_iter": 100_000, "save_per_iter": 100_000,
            "num_epochs": 100_000, "val_anns": "none", "base_channels": base_channels}


def subset(src: Path, names: list[str], out: Path) -> Path:
    """A training root of ``src``'s examples ``names``: its folders linked, a CSV of those names."""
    for folder in ("image", "image_masked", "image_binary"):
        link = out / folder
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((src / folder).resolve())
    examples = [("train", next((out / "image_masked").glob(f"{name}_masked.*")),
                 next((out / "image_binary").glob(f"{name}_binary.*"))) for name in names]
    write_annotations(out, examples)
    return out


def frame(name: str, masked: Path, truth: Path, mask: Path) -> Frame:
    return Frame(name, load_image(masked), load_image(truth), load_mask(mask))


def make_splits(work: Path, size: int, names: list[str]) -> dict[str, list[Fold]]:
    """The folds of each split, training on face crops made at ``size``."""
    crops = crop_dataset(FRAMES, work / "frame_crops", size, progress=False).root
    celeba_crops = crop_dataset(CELEBA, work / "celeba_crops", size, progress=False).root
    frames = {n: frame(n, FRAMES / "image_masked" / f"{n}_masked.jpg", FRAMES / "image" / f"{n}.jpg",
                       FRAMES / "image_binary" / f"{n}_binary.jpg")
              for n in sorted(p.stem for p in (FRAMES / "image").glob("*.jpg"))}
    order = list(frames)
    splits: dict[str, list[Fold]] = {}
    if "block" in names:
        half = len(order) // 2
        blocks = [(order[:half], order[half:]), (order[half:], order[:half])]
        splits["block"] = [Fold(subset(crops, train, work / "roots" / f"block{k}"), [frames[n] for n in test])
                           for k, (train, test) in enumerate(blocks)]
    if "people" in names:
        val = read_annotations(CELEBA / "annotations" / "val.csv", CELEBA)
        test = [frame(s.name, s.masked, CELEBA / "celeba512_30k" / f"{s.name}.jpg", s.mask) for s in val]
        splits["people"] = [Fold(celeba_crops, test)]
    if "same" in names:
        groups = [order[k::4] for k in range(4)]
        splits["same"] = [Fold(subset(crops, [n for n in order if n not in g], work / "roots" / f"same{k}"),
                               [frames[n] for n in g]) for k, g in enumerate(groups)]
    return splits


def finished(run: Path) -> Path | None:
    """The final checkpoint of a finished run in ``run``; a run cut short is removed."""
    done = run / "finished.json"
    if done.exists():
        return run / json.loads(done.read_text())["checkpoint"]
    shutil.rmtree(run, ignore_errors=True)
    return None


def train(trainer_class: type, values: dict, work: Path, stage: Stage) -> tuple[torch.nn.Module, float]:
    """A trained network (``G`` or the segmenter) and its seconds per step. A finished run of the
    same settings in ``work`` is reused with its recorded time, so an interrupted benchmark goes
    on where it stopped and a new segmenter is scored without training the generators again."""
    key = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]
    run = work / "weights" / f"{stage.name}-{key}"
    last = finished(run)
    trainer = trainer_class(Config.from_dict({**values, "run_name": run.name}), resume=last)
    if last is None:
        start = time.perf_counter()
        last = trainer.fit()
        if last.stem.endswith("_interrupted"):  # Ctrl-C or SIGTERM: a run cut short is not a result
            raise SystemExit(f"stopped: {run.name} was interrupted before its last step")
        per_step = (time.perf_counter() - start) / values["max_iters"]
        record = {"checkpoint": last.name, "seconds_per_step": per_step}
        (run / "finished.json").write_text(json.dumps(record))
    network = trainer.models[stage.weights_key].eval()
    return network, json.loads((run / "finished.json").read_text())["seconds_per_step"]


def segmenter_side(settings: dict, size: int) -> int:
    """The side a segmenter of ``settings`` works at: its config's ``img_size`` where it names one
    (the light segmenter's 128), else the generator's ``size``."""
    return int(settings.get("img_size", size))


def train_segmenter(work: Path, size: int, steps: int, settings: dict) -> torch.nn.Module:
    """A segmenter trained on the CelebA sample's training crops (made at ``size``) at its side."""
    root = work / "celeba_crops"
    values = {**common(work, segmenter_side(settings, size), 16), **settings, "lr": 1e-3, "max_iters": steps,
              "root_dir": str(root), "train_anns": str(root / "annotations" / "train.csv")}
    return train(SegmentationTrainer, values, work, SEGMENTATION)[0]


class KeepInput(torch.nn.Module):
    """A generator that paints nothing (only the masks are scored)."""

    def forward(self, masked: torch.Tensor, mask: torch.Tensor, audio=None) -> torch.Tensor:
        return masked


def false_masks(segmenter: torch.nn.Module, size: int, segm_size: int) -> float:
    """Mean share of the image the predicted mask covers on bare faces (the CelebA sample's
    clean validation faces): paint where there is nothing to paint."""
    rec = MaskReconstructor(segmenter, KeepInput(), ReconstructorSettings(size, segm_size),
                            faces=FaceFinder("auto"))
    names = [s.name for s in read_annotations(CELEBA / "annotations" / "val.csv", CELEBA)]
    with torch.inference_mode():
        areas = [float(rec([load_image(CELEBA / "celeba512_30k" / f"{n}.jpg")])[0].mask.mean())
                 for n in names]
    return statistics.fmean(areas)


def train_generator(root: Path, work: Path, size: int, steps: int, base_channels: int,
                    settings: dict) -> tuple[torch.nn.Module, float]:
    values = {**common(work, size, base_channels), "task": "facemask", "root_dir": str(root),
              "train_anns": str(root / "annotations" / "train.csv"), "batch_size": 4,
              "d_base_channels": 32, "perceptual": "auto", "max_iters": steps, **settings}
    return train(ReconstructionTrainer, values, work, RECONSTRUCTION)


def mask_box(mask: np.ndarray, pad: float = 0.15) -> tuple[slice, slice]:
    """A square around the true mask, ``pad`` of its side larger on each side."""
    ys, xs = np.nonzero(mask)
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    half = max(ys.max() - ys.min(), xs.max() - xs.min()) * (0.5 + pad)
    top, left = int(max(cy - half, 0)), int(max(cx - half, 0))
    return slice(top, int(cy + half) + 1), slice(left, int(cx + half) + 1)


def score(rec: MaskReconstructor, test: list[Frame]) -> tuple[list[dict], list[np.ndarray]]:
    """Per frame: the scores, and a row of the crop grid."""
    rows, tiles = [], []
    for f in test:
        (end,) = rec([f.masked])
        (alone,) = rec([f.masked], masks=[f.mask], regions=[end.regions], feather=0)
        covered = int((end.mask & f.mask).sum())
        row = {"dice": 2 * covered / max(int(end.mask.sum() + f.mask.sum()), 1),
               "recall": covered / max(int(f.mask.sum()), 1),
               "uncovered": int(f.mask.sum()) - covered}
        for key, image, region in (("e2e", end.image, f.mask), ("alone", alone.image, f.mask),
                                   ("telea_e2e", telea(f.masked, end.mask, 5), f.mask),
                                   ("telea_alone", telea(f.masked, f.mask, 5), f.mask)):
            row[f"{key}_psnr"], row[f"{key}_ssim"] = in_mask_scores(image, f.truth, region)
        row["identity"] = identity_distances(f.truth, [end.image])[0]
        rows.append(row)
        box = mask_box(f.mask)
        tiles.append(np.concatenate([cv2.resize(a[box], (TILE, TILE), interpolation=cv2.INTER_AREA)
                                     for a in (f.masked, end.image, alone.image, f.truth)], axis=1))
    return rows, tiles


def grid(tiles: list[np.ndarray], per_row: int = 2) -> np.ndarray:
    """The tiles two frames a row, a white gap between frames."""
    gap = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
    blank = np.full_like(tiles[0], 255)
    tiles = tiles + [blank] * (-len(tiles) % per_row)
    rows = [np.concatenate(sum(([t, gap] for t in tiles[i:i + per_row]), [])[:-1], axis=1)
            for i in range(0, len(tiles), per_row)]
    return np.concatenate(rows, axis=0)


def mean(rows: list[dict]) -> dict:
    out = {k: statistics.fmean(r[k] for r in rows if r[k] == r[k]) for k in rows[0] if k != "uncovered"}
    out["left_on"] = sum(r["uncovered"] > UNCOVERED for r in rows)
    out["worst_recall"] = min(r["recall"] for r in rows)
    out["images"] = len(rows)
    return out


def table(results: dict) -> str:
    lines = ["| split | recipe | steps | end to end: PSNR / SSIM | Telea, same masks | generator alone "
             "(true mask) | Telea, true mask | alone - Telea | end to end - Telea | Dice | recall (worst) "
             f"| images with > {UNCOVERED} px left on | false masks on bare faces | identity | s per step |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results.values():
        lines.append(
            f"| {r['split']} | {r['recipe']} | {r['steps']} | {r['e2e_psnr']:.2f} / {r['e2e_ssim']:.3f} | "
            f"{r['telea_e2e_psnr']:.2f} / {r['telea_e2e_ssim']:.3f} | {r['alone_psnr']:.2f} / "
            f"{r['alone_ssim']:.3f} | {r['telea_alone_psnr']:.2f} / {r['telea_alone_ssim']:.3f} | "
            f"{r['alone_psnr'] - r['telea_alone_psnr']:+.2f} | "
            f"{r['e2e_psnr'] - r['telea_alone_psnr']:+.2f} | {r['dice']:.3f} | "
            f"{r['recall']:.3f} ({r['worst_recall']:.2f}) | {r['left_on']} / {r['images']} | "
            f"{100 * r['false_masks']:.2f}% | {r['identity']:.3f} | {r['seconds_per_step']:.1f} |")
    return "\n".join(lines)


def run(args: argparse.Namespace, work: Path) -> dict:
    splits = make_splits(work, args.size, args.splits.split(","))
    segmenters, bare = {}, {}
    for recipe in args.recipes.split(","):
        settings = SEGMENTER_OF.get(recipe, SEGMENTER)
        segmenters[recipe] = train_segmenter(work, args.size, args.segm_steps, settings)
        bare[recipe] = false_masks(segmenters[recipe], args.size, segmenter_side(settings, args.size))
        print(f"{recipe}: false masks {100 * bare[recipe]:.2f}% of a bare face", flush=True)
    out_dir = args.out.parent / "quality"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for split, folds in splits.items():
        for recipe in args.recipes.split(","):
            steps, rows, tiles, seconds = args.steps, [], [], []
            for k, fold in enumerate(folds):
                if args.folds is not None and k not in args.folds:
                    continue
                if args.minutes and k == 0:  # the steps that fit, from a short timed run
                    _, per_step = train_generator(fold.train_root, work / "runs", args.size, 5,
                                                  args.base_channels, RECIPES[recipe])
                    steps = max(1, int(args.minutes * 60 / per_step))
                gen, per_step = train_generator(fold.train_root, work / "runs", args.size, steps,
                                                args.base_channels, RECIPES[recipe])
                seconds.append(per_step)
                side = segmenter_side(SEGMENTER_OF.get(recipe, SEGMENTER), args.size)
                rec = MaskReconstructor(segmenters[recipe], gen, ReconstructorSettings(args.size, side),
                                        faces=FaceFinder("auto"))
                with torch.inference_mode():
                    fold_rows, fold_tiles = score(rec, fold.test)
                rows += fold_rows
                tiles += fold_tiles
            key = f"{split}: {recipe}"
            if not rows:
                continue
            results[key] = {"split": split, "recipe": recipe, "steps": steps, **mean(rows),
                            "seconds_per_step": statistics.fmean(seconds), "settings": RECIPES[recipe],
                            "segmenter": SEGMENTER_OF.get(recipe, SEGMENTER), "false_masks": bare[recipe],
                            "per_image": rows}
            slug = f"{split}_{recipe}_{steps}".replace(" ", "_").replace("+", "plus")
            write_image(out_dir / f"{slug}.png", grid(tiles))
            print(key, {k: round(v, 3) for k, v in results[key].items() if isinstance(v, float)}, flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=125, help="generator steps of 4 (default: the published "
                        "budget, 25 epochs of 20 frames)")
    parser.add_argument("--minutes", type=float, help="instead of --steps: the steps that fit in this many "
                        "minutes per model on this machine")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--base-channels", type=int, default=16, help="generator width (the default config "
                        "has 32; 16 halves the time)")
    parser.add_argument("--segm-steps", type=int, default=100, help="segmenter steps of 8")
    parser.add_argument("--splits", default="block,people", help="comma-separated: block, people, same")
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES),
                        help=f"comma-separated rows, of: {', '.join(RECIPES)}")
    parser.add_argument("--folds", type=lambda v: {int(k) for k in v.split(",")}, help="only these "
                        "folds of each split, e.g. 1 (to train one split's folds in two processes; a "
                        "run without it then finds them trained and scores them all)")
    parser.add_argument("--work", type=Path, help="keep data and runs here (default: temporary)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "quality.json")
    args = parser.parse_args()
    if not FRAMES.is_dir() or not CELEBA.is_dir():
        print(f"error: the fixtures are not in {FIXTURES}", file=sys.stderr)
        return 2
    unknown = [r for r in args.recipes.split(",") if r not in RECIPES]
    if unknown:
        print(f"error: no recipe {', '.join(unknown)} (known: {', '.join(RECIPES)})", file=sys.stderr)
        return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = run(args, args.work or Path(tmp))
    text = table(results)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                    "table": text, "minutes": (time.perf_counter() - start) / 60},
                                   indent=1) + "\n")
    print(f"\nwrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out} "
          f"and the grids in results/quality/ ({(time.perf_counter() - start) / 60:.0f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
