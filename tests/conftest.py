"""Shared test fixtures: paths, the real CelebA fixture (skipped when absent), tiny configs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CELEBA30 = ROOT.parent / "shared" / "fixtures" / "celeba30"

# Test models are tiny: one thread is as fast as two on a quiet machine and far faster on
# a busy one (thread barriers stall when another process holds the other core).
# Subprocesses (train.py, infer.py) inherit it through the environment.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


@pytest.fixture
def celeba30() -> Path:
    """The 30-face CelebA fixture (not in the repo); tests using it skip without it."""
    if not (CELEBA30 / "celeba512_30k").is_dir():
        pytest.skip(f"fixture not found: {CELEBA30}")
    return CELEBA30


def tiny_settings(tmp_path: Path, **extra) -> dict:
    """Settings for a few-second training run on CPU, writing under ``tmp_path``."""
    base = dict(device="cpu", img_size=64, base_channels=8, depth=3, batch_size=4, num_workers=0,
                num_epochs=1, print_per_iter=1000, visualize_per_iter=1000, save_per_iter=1000,
                checkpoint_path=str(tmp_path / "weights"), sample_folder=str(tmp_path / "samples"),
                perceptual="none", seed=0, lr=1e-3)
    base.update(extra)
    return base
