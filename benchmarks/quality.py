"""What each change to the recipe buys inside the mask, at the published budget (run by hand).

    python3 benchmarks/quality.py [--steps 125] [--size 256] [--folds 4] [--work DIR]
                                  [--only reconstruction,segmentation] [--recipes NAME;NAME]

Two tables, each from models trained here with the same seed and budget:

1. **Reconstruction** on ``dataset1_train`` (20 real webcam frames of one person, MaskTheFace
   masks): the frames split into ``--folds`` groups, each scored by models trained on the
   others for ``--steps`` steps of 4 (the published budget: 25 epochs of 20 frames), so
   every frame is scored once by models that never saw it. The segmenter (the same for
   every row of a data mode) is trained on the CelebA sample's MaskTheFace masks, its
   training split, as the published one was. Each row adds changes to the one above;
   columns: in-mask PSNR / SSIM end to end (the predicted mask) and with the true
   mask (the generator alone), OpenCV Telea filling the same masks, identity distance, and
   seconds per training step.
2. **Segmentation across mask makers**: segmenters trained only on our masks, drawn on the
   CelebA sample's clean training faces, scored on the sample's MaskTheFace-masked
   validation faces (Dice).

Writes Markdown tables and ``results/quality.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import torch

from configs import Config
from core.files import write_csv
from core.images import load_image, load_mask
from datasets.layout import read_annotations
from demos.baseline import telea
from inference.faces import FaceFinder
from inference.pipeline import MaskReconstructor
from metrics import dice_per_image, identity_distances, psnr, ssim
from prepare.crops import crop_dataset
from prepare.options import PrepareOptions
from prepare.run import prepare_images
from trainers import ReconstructionTrainer, SegmentationTrainer

FIXTURES = REPO.parent / "shared" / "fixtures"
FRAMES = FIXTURES / "dataset1_train"
CELEBA = FIXTURES / "celeba30"


@dataclass(frozen=True)
class Recipe:
    """One row of the reconstruction table."""

    name: str
    crops: bool  # train on face crops and reconstruct faces=auto; else whole frames, faces=none
    settings: dict = field(default_factory=dict)


# Each row adds changes to the row above it.
RECIPES = (
    Recipe("earlier defaults: whole frames (faces=none), lr 2e-4", False, {"lr": 2e-4}),
    Recipe("+ face crops (faces=auto), hole_weight 6, lr 1e-3", True, {"lr": 1e-3, "hole_weight": 6.0}),
    Recipe("+ augment shape", True, {"lr": 1e-3, "hole_weight": 6.0, "augment": "shape"}),
)
SEGMENTERS = {  # our masks only; scored on MaskTheFace's
    "our default (surgical) masks": dict(mask_type="surgical", texture=None, variants=1, augment="none"),
    "all five types and textures, 4 masks per face": dict(mask_type="random", texture="random", variants=4,
                                                          augment="none"),
    "+ augment full": dict(mask_type="random", texture="random", variants=4, augment="full"),
}


def common(work: Path, size: int) -> dict:
    return {"img_size": size, "device": "cpu", "num_workers": 0, "cache_images": True, "seed": 0,
            "checkpoint_path": str(work / "weights"), "sample_folder": str(work / "samples"),
            "print_per_iter": 100_000, "visualize_per_iter": 100_000, "save_per_iter": 100_000,
            "num_epochs": 100_000, "val_anns": "none"}


def subset(src: Path, names: list[str], out: Path) -> Path:
    """A training root of ``src``'s examples ``names``: its folders linked, a CSV of those names."""
    for folder in ("image", "image_masked", "image_binary"):
        link = out / folder
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to((src / folder).resolve())
    rows = []
    for name in names:
        masked = next((out / "image_masked").glob(f"{name}_masked.*")).name
        binary = next((out / "image_binary").glob(f"{name}_binary.*")).name
        rows.append([len(rows), f"image_masked/{masked}", f"image_binary/{binary}"])
    write_csv(out / "annotations" / "train.csv", None, rows)
    return out


def train_segmenter(root: Path, annotations: Path | None, work: Path, size: int, steps: int,
                    **settings) -> torch.nn.Module:
    cfg = Config.from_dict({**common(work, size), "task": "segm", "root_dir": str(root), "base_channels": 16,
                            "batch_size": 8, "lr": 1e-3, "max_iters": steps,
                            "train_anns": str(annotations) if annotations else "none", **settings})
    trainer = SegmentationTrainer(cfg)
    trainer.fit()
    return trainer.models["model"].eval()


def train_generator(root: Path, work: Path, size: int, steps: int,
                    settings: dict) -> tuple[torch.nn.Module, float]:
    cfg = Config.from_dict({**common(work, size), "task": "facemask", "root_dir": str(root), "batch_size": 4,
                            "base_channels": 16, "d_base_channels": 32, "perceptual": "auto",
                            "max_iters": steps, **settings})
    trainer = ReconstructionTrainer(cfg)
    start = time.perf_counter()
    trainer.fit()
    return trainer.models["G"].eval(), (time.perf_counter() - start) / steps


def score_frames(rec: MaskReconstructor, frames: list[dict]) -> list[dict]:
    """Per test frame: end to end and generator-alone in-mask PSNR / SSIM, Telea on the same
    masks, identity distance."""
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255  # noqa: E731
    rows = []
    for frame in frames:
        (end,) = rec([frame["masked"]])
        (alone,) = rec([frame["masked"]], masks=[frame["mask"]], regions=[end.regions])
        m = torch.from_numpy(frame["mask"])[None, None].double()
        row = {}
        for key, image in (("e2e", end.image), ("alone", alone.image),
                           ("telea_e2e", telea(frame["masked"], end.mask, 5)),
                           ("telea_alone", telea(frame["masked"], frame["mask"], 5))):
            row[f"{key}_psnr"] = float(psnr(t(image), t(frame["truth"]), m)[0])
            row[f"{key}_ssim"] = float(ssim(t(image).float(), t(frame["truth"]).float(), m.float())[0])
        row["dice"] = float(dice_per_image(torch.from_numpy(end.mask)[None, None], m.bool())[0])
        row["identity"] = identity_distances(frame["truth"], [end.image])[0]
        rows.append(row)
    return rows


def reconstruction_table(work: Path, size: int, steps: int, segm_steps: int, folds: int,
                         recipes: list[Recipe], scored_folds: int | None = None) -> tuple[str, dict]:
    names = sorted(p.stem for p in (FRAMES / "image").glob("*.jpg"))
    frames = [{"name": n, "masked": load_image(FRAMES / "image_masked" / f"{n}_masked.jpg"),
               "truth": load_image(FRAMES / "image" / f"{n}.jpg"),
               "mask": load_mask(FRAMES / "image_binary" / f"{n}_binary.jpg")} for n in names]
    crops = crop_dataset(FRAMES, work / "frame_crops", size, progress=False).root
    celeba_train = CELEBA / "annotations" / "train.csv"
    celeba_crops = crop_dataset(CELEBA, work / "celeba_crops", size, progress=False).root
    segmenters = {False: train_segmenter(CELEBA, celeba_train, work / "segm_whole", size, segm_steps),
                  True: train_segmenter(celeba_crops, celeba_crops / "annotations" / "train.csv",
                                        work / "segm_crops", size, segm_steps)}
    groups = [names[k::folds] for k in range(folds)][:scored_folds]
    results = {}
    for recipe in recipes:
        rows, step_seconds = [], []
        for k, held_out in enumerate(groups):
            train_names = [n for n in names if n not in held_out]
            source = crops if recipe.crops else FRAMES
            root = subset(source, train_names, work / "roots" / f"{'crops' if recipe.crops else 'whole'}{k}")
            gen, seconds = train_generator(root, work / "runs", size, steps, recipe.settings)
            step_seconds.append(seconds)
            rec = MaskReconstructor(segmenters[recipe.crops], gen, size, device="cpu",
                                    faces=FaceFinder("auto" if recipe.crops else "none"))
            with torch.inference_mode():
                rows += score_frames(rec, [f for f in frames if f["name"] in held_out])
        mean = {key: statistics.fmean(r[key] for r in rows if r[key] == r[key]) for key in rows[0]}
        results[recipe.name] = {**mean, "seconds_per_step": statistics.fmean(step_seconds),
                                "settings": recipe.settings, "crops": recipe.crops}
        print(recipe.name, {k: round(v, 3) for k, v in mean.items()}, flush=True)
    lines = ["| recipe | end to end: PSNR / SSIM in mask | Telea, same masks | generator alone (true mask) "
             "| Telea, true mask | segmentation Dice | identity distance | s per step |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['e2e_psnr']:.2f} / {r['e2e_ssim']:.3f} | {r['telea_e2e_psnr']:.2f} / "
                     f"{r['telea_e2e_ssim']:.3f} | {r['alone_psnr']:.2f} / {r['alone_ssim']:.3f} | "
                     f"{r['telea_alone_psnr']:.2f} / {r['telea_alone_ssim']:.3f} | {r['dice']:.3f} | "
                     f"{r['identity']:.3f} | {r['seconds_per_step']:.1f} |")
    return "\n".join(lines), results


def segmentation_table(work: Path, size: int, steps: int) -> tuple[str, dict]:
    val = read_annotations(CELEBA / "annotations" / "val.csv", CELEBA)
    train_names = {s.name for s in read_annotations(CELEBA / "annotations" / "train.csv", CELEBA)}
    photos = work / "celeba_train_photos"
    photos.mkdir(parents=True, exist_ok=True)
    for name in train_names:
        target = photos / f"{name}.jpg"
        if not target.exists():
            target.symlink_to((CELEBA / "celeba512_30k" / f"{name}.jpg").resolve())
    results = {}
    for label, recipe in SEGMENTERS.items():
        root = work / "ours" / label.split()[0].replace("+", "aug")
        options = PrepareOptions(crop="none", size=size, mask_type=recipe["mask_type"],
                                 texture=recipe["texture"], variants=recipe["variants"], val_fraction=0.0,
                                 progress=False)
        prepare_images(photos, root, options)
        model = train_segmenter(root, root / "annotations" / "train.csv", work / "segm_ours", size, steps,
                                augment=recipe["augment"])
        rec = MaskReconstructor(model, torch.nn.Identity(), size, device="cpu", faces=FaceFinder("none"))
        dice = []
        with torch.inference_mode():
            for sample in val:
                image = load_image(sample.masked)
                x = rec.prepare([image])
                predicted = rec.segment(x)
                truth = torch.from_numpy(load_mask(sample.mask)).float()[None, None]
                truth = torch.nn.functional.interpolate(truth, size=(size, size), mode="area") > 0.5
                dice.append(float(dice_per_image(predicted, truth)[0]))
        results[label] = {"dice": statistics.fmean(dice), "images": len(dice), **recipe}
        print(label, results[label], flush=True)
    lines = ["| segmenter trained on our masks only | Dice on MaskTheFace's masks (CelebA validation "
             "split) |", "|---|---:|"]
    lines += [f"| {label} | {r['dice']:.3f} |" for label, r in results.items()]
    return "\n".join(lines), results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=125, help="training steps of every model")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--folds", type=int, default=4, help="groups of dataset1_train frames, rotated")
    parser.add_argument("--scored-folds", type=int, help="score only the first N folds (a quick probe, "
                        "not the table)")
    parser.add_argument("--segm-steps", type=int, default=50, help="segmenter steps of 8 for the "
                        "reconstruction table (the published 25 epochs of the CelebA sample's split)")
    parser.add_argument("--recipes", default="", help="only these rows (names joined by ';')")
    parser.add_argument("--work", type=Path, help="keep data and runs here (default: temporary)")
    parser.add_argument("--only", default="", help="comma-separated: reconstruction, segmentation")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "quality.json")
    args = parser.parse_args()
    if not FRAMES.is_dir() or not CELEBA.is_dir():
        print(f"error: the fixtures are not in {FIXTURES}", file=sys.stderr)
        return 2
    parts = set(args.only.split(",")) if args.only else {"reconstruction", "segmentation"}
    start, tables, results = time.perf_counter(), [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        if "segmentation" in parts:
            table, results["segmentation"] = segmentation_table(work, args.size, 200)
            tables.append(table)
        if "reconstruction" in parts:
            recipes = [r for r in RECIPES if not args.recipes or r.name in args.recipes.split(";")]
            table, results["reconstruction"] = reconstruction_table(
                work, args.size, args.steps, args.segm_steps, args.folds, recipes, args.scored_folds)
            tables.append(table)
    print("\n" + "\n\n".join(tables))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"steps": args.steps, "size": args.size, "folds": args.folds,
                                    "results": results, "tables": tables,
                                    "seconds": time.perf_counter() - start}, indent=1) + "\n")
    print(f"\nwrote {args.out} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
