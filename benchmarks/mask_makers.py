"""Segmentation across mask makers: segmenters trained on our masks only, scored on MaskTheFace's.

    python3 benchmarks/mask_makers.py [--steps 200] [--size 256] [--work DIR]

Segmenters are trained (``--steps`` of 8, seed 0) only on masks ``python3 -m prepare`` draws on
the CelebA sample's clean training faces, one row per way of drawing them, and scored (Dice)
on the sample's MaskTheFace-masked validation faces, a mask maker they never saw. Writes a
Markdown table and ``results/mask_makers.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import torch
import torch.nn.functional as F

from configs import Config
from core.images import load_image, load_mask
from datasets.layout import read_annotations
from faces.track import FaceFinder
from inference.morphology import clean_mask
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from metrics import dice_per_image
from prepare.options import PrepareOptions
from prepare.run import prepare_images
from trainers import SegmentationTrainer

CELEBA = REPO.parent / "shared" / "fixtures" / "celeba30"
SEGMENTERS = {  # how the training masks are drawn
    "our default (surgical) masks": dict(mask_type="surgical", texture=None, variants=1, augment="none"),
    "all five types and textures, 4 masks per face": dict(mask_type="random", texture="random", variants=4,
                                                          augment="none"),
    "+ augment full": dict(mask_type="random", texture="random", variants=4, augment="full"),
}


def train_segmenter(root: Path, work: Path, size: int, steps: int, augment: str) -> torch.nn.Module:
    cfg = Config.from_dict({"task": "segm", "root_dir": str(root), "img_size": size, "device": "cpu",
                            "num_workers": 0, "cache_images": True, "seed": 0, "base_channels": 16,
                            "batch_size": 8, "lr": 1e-3, "max_iters": steps, "num_epochs": 100_000,
                            "train_anns": str(root / "annotations" / "train.csv"), "val_anns": "none",
                            "checkpoint_path": str(work / "weights"), "sample_folder": str(work / "samples"),
                            "print_per_iter": 100_000, "visualize_per_iter": 100_000,
                            "save_per_iter": 100_000, "augment": augment})
    trainer = SegmentationTrainer(cfg)
    trainer.fit()
    return trainer.models["model"].eval()


def dice_on_maskthefaces(model: torch.nn.Module, size: int) -> list[float]:
    rec = MaskReconstructor(model, torch.nn.Identity(), ReconstructorSettings(size), faces=FaceFinder("none"))
    dice = []
    with torch.inference_mode():
        for sample in read_annotations(CELEBA / "annotations" / "val.csv", CELEBA):
            predicted = clean_mask(rec.probabilities(rec.prepare([load_image(sample.masked)])),
                                   **rec.settings.morphology())
            truth = torch.from_numpy(load_mask(sample.mask)).float()[None, None]
            truth = F.interpolate(truth, size=(size, size), mode="area") > 0.5
            dice.append(float(dice_per_image(predicted, truth)[0]))
    return dice


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--work", type=Path, help="keep data and runs here (default: temporary)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "mask_makers.json")
    args = parser.parse_args()
    if not CELEBA.is_dir():
        print(f"error: the CelebA fixture is not at {CELEBA}", file=sys.stderr)
        return 2
    start, results = time.perf_counter(), {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        photos = work / "celeba_train_photos"
        photos.mkdir(parents=True, exist_ok=True)
        for sample in read_annotations(CELEBA / "annotations" / "train.csv", CELEBA):
            target = photos / f"{sample.name}.jpg"
            if not target.exists():
                target.symlink_to((CELEBA / "celeba512_30k" / f"{sample.name}.jpg").resolve())
        for label, recipe in SEGMENTERS.items():
            root = work / "ours" / label.split()[0].replace("+", "aug")
            prepare_images(photos, root, PrepareOptions(
                crop="none", size=args.size, mask_type=recipe["mask_type"], texture=recipe["texture"],
                variants=recipe["variants"], val_fraction=0.0, progress=False))
            model = train_segmenter(root, work / "runs", args.size, args.steps, recipe["augment"])
            dice = dice_on_maskthefaces(model, args.size)
            results[label] = {"dice": statistics.fmean(dice), "images": len(dice), **recipe}
            print(label, results[label], flush=True)
    lines = ["| segmenter trained on our masks only | Dice on MaskTheFace's masks (CelebA validation "
             "split) |", "|---|---:|"] + [f"| {label} | {r['dice']:.3f} |" for label, r in results.items()]
    print("\n" + "\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"steps": args.steps, "size": args.size, "results": results,
                                    "table": "\n".join(lines), "seconds": time.perf_counter() - start},
                                   indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
