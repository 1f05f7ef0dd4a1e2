"""Tiny models for the web app's tests, trained here on the astronaut wearing our masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from configs import Config
from core.files import write_csv
from core.images import write_image
from demos.scenes import masked_astronaut

SIDE = 64  # the tiny models' side


def astronaut_root(root: Path, side: int = 96, val: int = 0) -> Path:
    """A triplet root of the astronaut's face wearing each mask type, a few draws of each;
    the last ``val`` of them in a validation split."""
    rows = []
    for kind in ("surgical", "cloth", "N95", "KN95"):
        for seed in range(3):
            face = masked_astronaut(side, kind, seed)
            name = f"{kind}{seed}"
            write_image(root / "image" / f"{name}.png", face["truth"])
            write_image(root / "image_masked" / f"{name}_masked.png", face["masked"])
            write_image(root / "image_binary" / f"{name}_binary.png", face["mask"].astype(np.uint8) * 255)
            rows.append([len(rows), f"image_masked/{name}_masked.png", f"image_binary/{name}_binary.png"])
    write_csv(root / "annotations" / "train.csv", None, rows[:len(rows) - val])
    if val:
        write_csv(root / "annotations" / "val.csv", None, rows[len(rows) - val:])
    return root


def train_tiny_models(work: Path, segm_steps: int = 120, recon_steps: int = 20,
                      val: int = 0) -> tuple[Path, Path]:
    """Checkpoints of a segmenter that has learnt the masks and a generator that has begun to
    (``val`` examples held out and scored every epoch)."""
    from trainers import ReconstructionTrainer, SegmentationTrainer

    root = astronaut_root(work / "data", val=val)
    settings = dict(root_dir=str(root), device="cpu", img_size=SIDE, base_channels=8, depth=3, batch_size=4,
                    num_workers=0, num_epochs=1000, print_per_iter=10_000, visualize_per_iter=10_000,
                    save_per_iter=10_000, perceptual="none",
                    val_anns="annotations/val.csv" if val else "none", d_base_channels=8, seed=0,
                    lr=2e-3,
                    checkpoint_path=str(work / "weights"), sample_folder=str(work / "samples"),
                    augment="shape")
    segm = SegmentationTrainer(Config.from_dict({**settings, "task": "segm", "max_iters": segm_steps}))
    segm.fit()
    recon = ReconstructionTrainer(Config.from_dict({**settings, "task": "facemask",
                                                    "max_iters": recon_steps}))
    recon.fit()
    return segm.save(), recon.save()
