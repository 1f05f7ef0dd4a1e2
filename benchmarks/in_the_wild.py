"""Masked faces anywhere in a wide frame: faces=auto against faces=none and the tight crop.

    python3 benchmarks/in_the_wild.py [--work DIR] [--steps 400] [--size 128]

1. Models, trained here with a small budget on face crops of the fixtures with their
   MaskTheFace masks (``python3 -m prepare crop``): the CelebA sample's training split and
   frames 0-14 of ``dataset1_train`` (real webcam frames of a person at a desk).
2. Test faces, never trained on: the CelebA sample's validation split (14 faces) and
   frames 15-19 of ``dataset1_train``, each as its tight face crop, and that crop pasted
   (masked image, ground truth and mask alike) into 1280x720 and 1920x1080 photos without
   people at several scales of the frame height and random positions.
3. Per frame size and scale: how often a mask is found, segmentation Dice, in-mask PSNR
   and SSIM, for faces=none (the whole frame squashed to the model's side) and faces=auto
   (faces found, cut, reconstructed, pasted back); the first row is the tight crops
   themselves.
4. False masks: the mean predicted mask area on photos without masks (the CelebA sample's
   clean validation faces, the astronaut, and six photos without people at 1280x720), for
   faces=none and faces=auto.
5. A 24-frame video of a test face drifting across a 1280x720 frame: flicker (mean
   absolute change between consecutive frames inside the mask, ours and the ground
   truth's), and the time spent finding faces against the models' time.

Writes Markdown tables and ``results/in_the_wild.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cli

cli.use_project_venv()

import numpy as np
import torch

from configs import Config
from core.images import load_image, load_mask
from datasets.layout import write_annotations
from demos.scenes import NO_PEOPLE, background, random_placement, scene
from faces.track import FaceFinder
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from inference.timing import StageTimer
from metrics import dice_per_image, psnr, ssim
from modelfiles.checkpoint import find_latest
from modelfiles.load import load_model
from prepare.crops import crop_dataset
from stages import RECONSTRUCTION, SEGMENTATION
from trainers import ReconstructionTrainer, SegmentationTrainer

FIXTURES = REPO.parent / "shared" / "fixtures"
FRAMES = ((1280, 720), (1920, 1080))
SCALES = (0.25, 0.35, 0.5, 0.7)
HELD_OUT_FRAMES = range(15, 20)  # of dataset1_train


def training_root(work: Path, size: int) -> tuple[Path, list[dict], list[str]]:
    """Face crops of both fixtures; the training root and the test faces (as crops)."""
    celeba = crop_dataset(FIXTURES / "celeba30", work / "celeba", size, progress=False).root
    frames = crop_dataset(FIXTURES / "dataset1_train", work / "frames", size, progress=False).root
    root = work / "train"
    rows, tests = [], []
    for source, split_of in ((celeba, None), (frames, "frame")):
        with open(source / "annotations" / "train.csv") as f:
            train = {line.split(",")[1].split("/")[-1].removesuffix("_masked.png")
                     for line in f if line.strip()}
        names = sorted(p.name.removesuffix("_masked.png") for p in (source / "image_masked").glob("*.png"))
        for name in names:
            held = (name not in train) if split_of is None else int(name[-4:]) in HELD_OUT_FRAMES
            files = {"masked": source / "image_masked" / f"{name}_masked.png",
                     "truth": source / "image" / f"{name}.png",
                     "mask": source / "image_binary" / f"{name}_binary.png"}
            if held:
                tests.append({"name": name, **{k: (load_mask(p) if k == "mask" else load_image(p))
                                                for k, p in files.items()}})
                continue
            for folder, path in zip(("image_masked", "image", "image_binary"), files.values()):
                (root / folder).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, root / folder / path.name)
            rows.append(("train", root / "image_masked" / files["masked"].name,
                         root / "image_binary" / files["mask"].name))
    write_annotations(root, rows)
    return root, tests, [t["name"] for t in tests]


def train(root: Path, work: Path, size: int, steps: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Both models, trained here, or loaded from ``work`` when an earlier run trained them."""
    if find_latest(work / "weights", SEGMENTATION) and find_latest(work / "weights", RECONSTRUCTION):
        cfg = Config.from_dict({"checkpoint_path": str(work / "weights")})
        print(f"using the models trained earlier in {work / 'weights'}")
        return load_model(cfg, SEGMENTATION).model, load_model(cfg, RECONSTRUCTION).model
    common = {"root_dir": str(root), "img_size": size, "device": "cpu", "num_workers": 0,
              "cache_images": True, "checkpoint_path": str(work / "weights"),
              "sample_folder": str(work / "samples"), "seed": 0,
              "print_per_iter": 10_000, "visualize_per_iter": 10_000, "save_per_iter": 10_000,
              "num_epochs": 10_000, "max_iters": steps}
    segm = SegmentationTrainer(Config.from_dict({**common, "task": "segm", "base_channels": 16,
                                                 "batch_size": 8, "lr": 0.003}))
    segm.fit()
    recon = ReconstructionTrainer(Config.from_dict({**common, "task": "facemask", "base_channels": 16,
                                                    "d_base_channels": 32, "batch_size": 4, "lr": 0.001,
                                                    "perceptual": "none"}))
    recon.fit()
    return segm.models["model"].eval(), recon.models["G"].eval()


def scores(result, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    m = torch.from_numpy(mask)[None, None].float()
    predicted = torch.from_numpy(result.mask)[None, None].float()
    return {"found": float(result.mask_found), "dice": float(dice_per_image(predicted, m)[0]),
            "psnr_mask": float(psnr(t(result.image), t(truth), m)[0]),
            "ssim_mask": float(ssim(t(result.image), t(truth), m)[0])}


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}


def run_pipeline(segm, gen, size: int, mode: str, images: list[np.ndarray], timer=None):
    rec = MaskReconstructor(segm, gen, ReconstructorSettings(size, dilate_kernel=3), timer=timer,
                            faces=FaceFinder(mode))
    return [rec([image])[0] for image in images], rec


def wild_table(segm, gen, size: int, tests: list[dict]) -> tuple[str, dict]:
    rng = np.random.default_rng(0)
    results = {"tight crop": {}}
    for mode in ("none", "auto"):
        out, _ = run_pipeline(segm, gen, size, mode, [t["masked"] for t in tests])
        results["tight crop"][mode] = mean_scores([scores(r, t["truth"], t["mask"])
                                                   for r, t in zip(out, tests)])
    for frame in FRAMES:
        for scale in SCALES:
            scenes = []
            for k, t in enumerate(tests):
                where = random_placement(rng, frame, scale)
                scenes.append(scene({"masked": t["masked"], "truth": t["truth"], "mask": t["mask"]}, where,
                                    background(k, frame)))
            key = f"{frame[0]}x{frame[1]} at {scale:g}"
            results[key] = {}
            for mode in ("none", "auto"):
                out, _ = run_pipeline(segm, gen, size, mode, [s["masked"] for s in scenes])
                results[key][mode] = mean_scores([scores(r, s["truth"], s["mask"])
                                                  for r, s in zip(out, scenes)])
            print(key, results[key], flush=True)
    n = len(tests)
    lines = ["| input (face crop height / frame height) | faces | mask found | segmentation Dice | "
             "PSNR in mask (dB) | SSIM in mask |", "|---|---|---:|---:|---:|---:|"]
    for key, by_mode in results.items():
        for mode, s in by_mode.items():
            lines.append(f"| {key} | {mode} | {round(s['found'] * n)}/{n} | {s['dice']:.3f} | "
                         f"{s['psnr_mask']:.2f} | {s['ssim_mask']:.3f} |")
    return "\n".join(lines), results


def false_masks(segm, gen, size: int, tests: list[dict]) -> tuple[str, dict]:
    from skimage import data

    groups = {"CelebA sample faces, no mask": [t["truth"] for t in tests
                                               if not t["name"].startswith("frame")],
              "astronaut": [data.astronaut()],
              f"{len(NO_PEOPLE)} photos without people, 1280x720": [background(k, (1280, 720))
                                                                   for k in range(len(NO_PEOPLE))]}
    out = {}
    lines = ["| photos (no face mask in any) | mean mask area, faces=none | faces=auto |", "|---|---:|---:|"]
    for name, images in groups.items():
        areas = {}
        for mode in ("none", "auto"):
            results, _ = run_pipeline(segm, gen, size, mode, images)
            areas[mode] = statistics.fmean(float(r.mask.mean()) for r in results)
        out[name] = areas
        lines.append(f"| {name} | {100 * areas['none']:.2f}% | {100 * areas['auto']:.2f}% |")
    return "\n".join(lines), out


def video_check(segm, gen, size: int, test: dict) -> tuple[str, dict]:
    """A test face drifting across a 1280x720 frame: flicker and the time finding faces takes."""
    frame_size, count, side = (1280, 720), 24, 360
    xs = np.linspace(20, frame_size[0] - side - 20, count).round().astype(int)
    from demos.scenes import Placement

    scenes = [scene({"masked": test["masked"], "truth": test["truth"], "mask": test["mask"]},
                    Placement(int(x), 180, side), background(0, frame_size)) for x in xs]
    timer = StageTimer()
    rec = MaskReconstructor(segm, gen, ReconstructorSettings(size, dilate_kernel=3), timer=timer,
                            faces=FaceFinder("auto", detect_every=3))
    rec.faces.follow_video()
    outputs = [rec([s["masked"]])[0] for s in scenes]

    def change(frames, masks) -> float:
        return statistics.fmean(float(np.abs(a.astype(float) - b.astype(float))[m0 | m1].mean())
                                for a, b, m0, m1 in zip(frames, frames[1:], masks, masks[1:]))

    masks = [s["mask"] for s in scenes]
    found = sum(o.mask_found for o in outputs)
    ours, truth = change([o.image for o in outputs], masks), change([s["truth"] for s in scenes], masks)
    faces = timer.seconds.get("faces", 0.0)
    models = timer.seconds.get("segmentation", 0.0) + timer.seconds.get("generator", 0.0)
    info = {"frames": count, "mask_found": found, "flicker_ours": ours, "flicker_truth": truth,
            "faces_seconds_per_frame": faces / count, "models_seconds_per_frame": models / count}
    text = (f"Video ({count} frames, a test face drifting across 1280x720, faces searched every 3rd "
            f"frame): mask found in {found}/{count}; mean change between consecutive frames inside "
            f"the mask: ours {ours:.1f}, ground truth {truth:.1f} (of 255); finding faces "
            f"{1000 * faces / count:.0f} ms per frame against {1000 * models / count:.0f} ms for the "
            f"two models at {size} px.")
    return text, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="keep the data and weights here (default: temporary); "
                        "a folder where an earlier run trained the models reuses them")
    parser.add_argument("--steps", type=int, default=400, help="training steps of each model")
    parser.add_argument("--size", type=int, default=128, help="the models' side")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "in_the_wild.json")
    args = parser.parse_args()
    if not (FIXTURES / "celeba30").is_dir() or not (FIXTURES / "dataset1_train").is_dir():
        print(f"error: the fixtures are not in {FIXTURES}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        root, tests, names = training_root(work, 256)
        segm, gen = train(root, work, args.size, args.steps)
        with torch.inference_mode():
            table, wild = wild_table(segm, gen, args.size, tests)
            false_table, false = false_masks(segm, gen, args.size, tests)
            video_text, video = video_check(segm, gen, args.size, tests[-1])
    print("\n" + table + "\n\n" + false_table + "\n\n" + video_text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"test_faces": names, "wild": wild, "false_masks": false, "video": video,
                                    "tables": [table, false_table, video_text],
                                    "seconds": time.perf_counter() - start}, indent=1) + "\n")
    print(f"\nwrote {args.out} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
