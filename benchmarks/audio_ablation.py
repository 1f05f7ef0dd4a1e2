"""Does the audio help? Train the reconstructor with ``audio: none``, ``film`` and ``map`` for
the same steps from the same seed on one video dataset and compare them on its held-out
frames (run by hand).

    python3 benchmarks/audio_ablation.py                          # the synthetic talking clip
    python3 benchmarks/audio_ablation.py --video talk.mp4 --fps 1   # your own video (prepared first)
    python3 benchmarks/audio_ablation.py --root data/talk/train     # a prepared video dataset root

The synthetic talking clip (``prepare.talking_clip``) is made as an mp4 and prepared by
``prepare.run.prepare_video`` like any user video: faces found, masks drawn, frames
and soundtrack aligned. Training uses the root's ``annotations/train.csv``; the metrics
are over ``annotations/val.csv`` (frames never trained on), with the ground-truth masks:
in-mask PSNR and SSIM and the L1 error in the mouth box (the box
of dlib landmarks 48-67 found on each ground-truth frame) of the composite.
"""

from __future__ import annotations

import argparse
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

from configs import Config
from configs.loader import parse_overrides
from core.images import load_image
from datasets.base import collate_skip_broken
from datasets.layout import read_frames_csv
from faces.detect import PREPARE, find_faces
from metrics import masked_l1, psnr, ssim
from prepare.options import PrepareOptions
from prepare.run import prepare_video
from prepare.talking_clip import write_talking_video
from trainers import ReconstructionTrainer

MOUTH = slice(48, 68)  # dlib's 68-point scheme: outer and inner lips


def mouth_boxes(dataset, img_size: int) -> dict[str, torch.Tensor]:
    """``(1,S,S)`` {0,1} masks of the lip-landmark box, by frame name (frames where dlib
    finds a face in the ground truth)."""
    boxes = {}
    for sample in dataset.samples:
        image = load_image(sample.image)
        faces = find_faces(image, PREPARE)
        if not faces:
            continue
        lips = faces[0].landmarks[MOUTH] * (img_size / image.shape[1])
        (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
        box = torch.zeros(1, img_size, img_size)
        box[:, max(0, int(y0)): int(y1) + 1, max(0, int(x0)): int(x1) + 1] = 1
        boxes[sample.name] = box
    return boxes


@torch.inference_mode()
def evaluate(trainer: ReconstructionTrainer, dataset, boxes: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean in-mask PSNR / SSIM over frames with a mask, mouth-box L1 over frames with a box."""
    trainer.models["G"].eval()
    scores: dict[str, list[float]] = {"psnr_mask": [], "ssim_mask": [], "mouth_l1": []}
    for start in range(0, len(dataset), 16):
        batch = collate_skip_broken([dataset[i] for i in range(start, min(start + 16, len(dataset)))])
        if batch is None:
            continue
        batch = trainer.to_device(batch)
        _, comp = trainer.reconstruct(batch)
        gt, m = batch["image"], batch["mask"]
        has_mask = m.flatten(1).sum(1) > 0
        scores["psnr_mask"] += psnr(comp, gt, m)[has_mask].tolist()
        scores["ssim_mask"] += ssim(comp, gt, m)[has_mask].tolist()
        named = [k for k, n in enumerate(batch["name"]) if n in boxes]
        if named:
            box = torch.stack([boxes[batch["name"][k]] for k in named]).to(comp.device)
            scores["mouth_l1"] += masked_l1(comp[named], gt[named], box).tolist()
    trainer.models["G"].train()
    return {k: statistics.fmean(v) if v else float("nan") for k, v in scores.items()}


def frame_spacing(root: Path) -> float:
    """Median seconds between consecutive frames of a prepared video dataset."""
    times = sorted(t for _, t in read_frames_csv(root / "frames.csv"))
    return statistics.median(b - a for a, b in zip(times, times[1:])) if len(times) > 1 else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--root", type=Path, help="a prepared video dataset root (audio/, frames.csv, "
                        "annotations/)")
    source.add_argument("--video", type=Path, help="a video file with speech: prepared into --work first")
    parser.add_argument("--work", type=Path, help="folder for the prepared data, weights and samples "
                        "(default: a temporary folder)")
    parser.add_argument("--fps", type=float, default=4.0, help="frames per second to prepare (--video, "
                        "and the synthetic clip)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic clip")
    parser.add_argument("--prepare-size", type=int, default=128, help="side of the prepared frames")
    parser.add_argument("--modes", default="none,film,map")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--audio-window", type=float, default=None,
                        help="seconds of audio per frame (default: the frame spacing, at most 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("settings", nargs="*", metavar="key=value",
                        help="more config keys for all runs (defaults here: img_size=64 base_channels=16 "
                             "depth=3 d_num_layers=2 batch_size=8 lr=0.002 perceptual=none)")
    args = parser.parse_args()
    modes = args.modes.split(",")

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        root = args.root
        if root is None:
            options = PrepareOptions(size=args.prepare_size, progress=False, seed=args.seed)
            video = args.video
            if video is None:
                work.mkdir(parents=True, exist_ok=True)
                video = write_talking_video(work / "talking_clip.mp4", args.seconds, fps=round(args.fps),
                                            seed=args.seed)
            root = work / "data"
            summary = prepare_video(video, root, fps=args.fps, options=options)
            print(summary.line())
        window = args.audio_window or min(1.0, frame_spacing(root))
        settings = {"img_size": 64, "base_channels": 16, "depth": 3, "d_num_layers": 2, "batch_size": 8,
                    "lr": 2e-3, "perceptual": "none", "num_workers": 0, "device": args.device}
        settings.update(parse_overrides(args.settings))
        base = Config.from_dict(settings).to_dict()  # checks and types the overrides
        base.update(task="facemask", root_dir=str(root), train_anns=str(root / "annotations/train.csv"),
                    val_anns=None, val_dir=None, max_iters=args.steps, num_epochs=100000,
                    step_iters=[10 * args.steps], seed=args.seed, audio_window=window,
                    save_per_iter=args.steps, visualize_per_iter=args.steps, print_per_iter=args.steps)
        val_anns = str(root / "annotations/val.csv")

        rows = []
        boxes = None
        for mode in modes:
            cfg = Config.from_dict({**base, "audio": mode, "checkpoint_path": str(work / mode / "weights"),
                                    "sample_folder": str(work / mode / "samples")})
            trainer = ReconstructionTrainer(cfg)
            val_set = trainer.make_dataset(str(root), val_anns)
            if boxes is None:
                boxes = mouth_boxes(val_set, cfg.img_size)
            start = time.perf_counter()
            trainer.fit()
            seconds = time.perf_counter() - start
            rows.append((mode, evaluate(trainer, val_set, boxes), seconds))
            print(f"{mode}: {rows[-1][1]}", flush=True)

        print(f"\ndataset {root}: {len(trainer.train_set)} training frames, {len(val_set)} held-out "
              f"frames ({len(boxes)} with a mouth box); {args.steps} steps each, seed {args.seed}, "
              f"img_size {cfg.img_size}, audio_window {window:g} s\n")
        print("| audio | PSNR in mask (dB) | SSIM in mask | mouth-box L1 | training time (s) |")
        print("|---|---|---|---|---|")
        for mode, m, seconds in rows:
            print(f"| {mode} | {m['psnr_mask']:.2f} | {m['ssim_mask']:.3f} | {m['mouth_l1']:.4f} | "
                  f"{seconds:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
