"""Nothing lost on a crash: SIGKILL while saving, SIGTERM + exact resume, NaN losses,
checkpoint retention."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ROOT, tiny_settings
from synthetic import face_triplets

from configs import Config, load_config
from datasets.base import collate_skip_broken
from modelfiles.checkpoint import find_latest, list_checkpoints, load_checkpoint
from stages import RECONSTRUCTION
from trainers import ReconstructionTrainer, TrainingStopped


def write_config(path: Path, **settings) -> Path:
    path.write_text(yaml.safe_dump({"settings": settings}))
    return path


def start_train(config: Path, *extra: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), str(config), *extra], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


def log_rows(path: Path) -> int:
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def test_sigkill_at_random_moments_while_saving(tmp_path):
    """Checkpoints are written every step and the process is SIGKILLed at random moments;
    each time the newest checkpoint on disk loads and training resumes from it."""
    root = face_triplets(tmp_path / "faces", 4, size=32)
    weights = tmp_path / "w"
    # base_channels 16: a ~45 MB checkpoint, so saving takes a good share of each step.
    config = write_config(tmp_path / "kill.yaml", **tiny_settings(
        tmp_path, task="facemask", root_dir=str(root), img_size=32, base_channels=16, depth=3,
        batch_size=2, num_epochs=100000, save_per_iter=1, checkpoint_path=str(weights)))
    rng = random.Random(1234)
    reached = 0
    for trial in range(5):
        latest = find_latest(weights, RECONSTRUCTION)
        extra = ["--resume", str(latest)] if latest else []
        proc = start_train(config, *extra, cwd=tmp_path)
        wait_for(lambda old=latest: (p := find_latest(weights, RECONSTRUCTION)) is not None and p != old)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        newest = find_latest(weights, RECONSTRUCTION)
        data = load_checkpoint(newest)  # must never be a half-written file
        assert data["iteration"] > reached, (trial, newest)
        reached = data["iteration"]
    # ... and a final resume runs to completion from the newest.
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), str(config), "--resume",
                             str(find_latest(weights, RECONSTRUCTION)), f"max_iters={reached + 1}"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert load_checkpoint(find_latest(weights, RECONSTRUCTION))["iteration"] == reached + 1
    assert not list(weights.rglob(".*.tmp.pth")), "stale temporary files are cleaned up"


def test_sigterm_saves_interrupted_and_resume_matches_straight_run(tmp_path):
    root = face_triplets(tmp_path / "faces", 5, size=32)
    total = 30
    settings = tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=32, depth=2,
                             batch_size=2, num_epochs=1000, max_iters=total, perceptual="auto",
                             run_name="run")
    straight = ReconstructionTrainer(load_config(str(write_config(tmp_path / "a.yaml", **{
        **settings, "checkpoint_path": str(tmp_path / "a")}))))
    straight.fit()

    config = write_config(tmp_path / "b.yaml", **{**settings, "checkpoint_path": str(tmp_path / "b")})
    proc = start_train(config, cwd=tmp_path)
    log = tmp_path / "b" / "run" / "facemask_log.csv"
    wait_for(lambda: log_rows(log) >= 3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    interrupted = find_latest(tmp_path / "b", RECONSTRUCTION)
    assert interrupted.name.endswith("_interrupted.pth"), out
    stopped_at = load_checkpoint(interrupted)["iteration"]
    assert 3 <= stopped_at < total

    result = subprocess.run([sys.executable, str(ROOT / "train.py"), str(config), "--resume",
                             str(interrupted)], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
    assert result.returncode == 0, result.stderr
    final = load_checkpoint(find_latest(tmp_path / "b", RECONSTRUCTION))
    assert final["iteration"] == total
    for name in ("G", "D", "D2"):
        ours = straight.models[name].state_dict()
        for key, value in final[name].items():
            if value.is_floating_point():
                assert torch.allclose(value, ours[key], atol=1e-6, rtol=0), (name, key)


def test_nonfinite_losses_skip_then_stop(tmp_path, caplog):
    root = face_triplets(tmp_path / "faces", 2, size=32)
    cfg = Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=32,
                                         depth=2, max_nonfinite=3, flip=False, batch_size=1,
                                         num_epochs=10))
    trainer = ReconstructionTrainer(cfg)
    good = trainer.save()
    batch = collate_skip_broken([trainer.train_set[i] for i in range(2)])
    bad = {**batch, "image": batch["image"] * float("nan")}
    before = {k: v.detach().clone() for k, v in trainer.models["G"].named_parameters()}
    assert trainer.train_step(bad) == {}
    after = dict(trainer.models["G"].named_parameters())
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert "not finite" in caplog.text
    real_step = trainer.train_step
    trainer.train_step = lambda b: real_step({**b, "image": b["image"] * float("nan")})
    with pytest.raises(TrainingStopped, match="3 times in a row.*learning rate"):
        trainer.fit()
    assert trainer.iteration == 2  # the third bad step raised before being counted
    assert [p.name for p in list_checkpoints(trainer.run_dir, RECONSTRUCTION)] == [good.name]
    assert load_checkpoint(good)["iteration"] == 0


def test_nan_batch_in_fit_keeps_batchnorm_statistics_clean(tmp_path):
    root = face_triplets(tmp_path / "faces", 2, size=32)
    cfg = Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=32,
                                         depth=2, num_epochs=2, batch_size=2))
    trainer = ReconstructionTrainer(cfg)
    real_step = trainer.train_step
    calls = []

    def poisoned(batch):
        calls.append(1)
        if len(calls) == 1:
            batch = {**batch, "masked": batch["masked"] * float("nan")}
        return real_step(batch)

    trainer.train_step = poisoned
    trainer.fit()
    assert len(calls) == 2
    assert all(torch.isfinite(b).all() for b in trainer.models["G"].buffers() if b.is_floating_point())
    # The skipped step left no trace in BatchNorm's step counters either.
    counts = {int(b) for k, b in trainer.models["G"].named_buffers() if k.endswith("num_batches_tracked")}
    assert counts == {1}


def test_keep_last_and_best(tmp_path):
    root = face_triplets(tmp_path / "faces", 4, size=32)
    cfg = Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=32,
                                         depth=2, batch_size=2, num_epochs=3, save_per_iter=1,
                                         keep_last=2, val_dir=str(root)))
    trainer = ReconstructionTrainer(cfg)
    trainer.fit()
    names = [p.name for p in list_checkpoints(trainer.run_dir, RECONSTRUCTION)]
    periodic = [n for n in names if not n.endswith("_best.pth")]
    assert periodic == ["model_2_5.pth", "model_2_6.pth"]
    best = [n for n in names if n.endswith("_best.pth")]
    assert len(best) == 1
    assert load_checkpoint(trainer.run_dir / best[0])["best_value"] == trainer.best_value


def test_inference_picks_the_newest_run_and_its_highest_iteration(tmp_path):
    """The stated rule: the run folder that wrote last, and in it the highest iteration, not the
    ``_best`` one (that is for choosing by hand); a stale ``_interrupted`` checkpoint of an older
    run is not picked over a newer finished run, whatever its iteration."""
    from stages import SEGMENTATION

    old, new = tmp_path / "segm-old", tmp_path / "segm-new"
    old.mkdir()
    new.mkdir()
    (old / "model_segm_9_900_interrupted.pth").write_bytes(b"x")
    for name in ("model_segm_1_30_best.pth", "model_segm_4_50.pth"):
        (new / name).write_bytes(b"x")
    os.utime(old / "model_segm_9_900_interrupted.pth", (1_000_000, 1_000_000))
    assert find_latest(tmp_path, SEGMENTATION) == new / "model_segm_4_50.pth"
