"""``python3 train.py`` as a user runs it: one-line errors, real runs, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, tiny_settings
from synthetic import face_triplets

from configs import Config
from core.images import load_image
from modelfiles.checkpoint import find_latest, load_checkpoint
from stages import RECONSTRUCTION
from trainers import ReconstructionTrainer

TINY = ["device=cpu", "num_workers=0", "base_channels=4", "depth=2", "perceptual=none",
        "print_per_iter=1000", "visualize_per_iter=1000"]


def run_train(*args: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_dataset_folder(tmp_path):
    line = one_line_error(run_train("facemask", f"root_dir={tmp_path / 'nope'}", "train_anns=none",
                                    "val_anns=none", *TINY, cwd=tmp_path))
    assert str(tmp_path / "nope") in line and "python3 -m prepare" in line


def test_unknown_key_and_wrong_type(tmp_path):
    line = one_line_error(run_train("segm", "batchsize=3", cwd=tmp_path))
    assert "'batchsize'" in line and "batch_size" in line
    line = one_line_error(run_train("segm", "num_epochs=many", cwd=tmp_path))
    assert "'num_epochs'" in line and "integer" in line


def test_bad_checkpoints(tmp_path):
    root = face_triplets(tmp_path / "faces", 2, size=32)
    args = ["facemask", f"root_dir={root}", "train_anns=none", "val_anns=none", "img_size=32", *TINY,
            f"checkpoint_path={tmp_path / 'w'}"]
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    assert "cannot be read" in one_line_error(run_train(*args, "--resume", str(garbage), cwd=tmp_path))
    # A real checkpoint of a different architecture (base_channels 8 vs 4).
    cfg = Config.from_dict(tiny_settings(tmp_path / "other", task="facemask", root_dir=str(root),
                                         img_size=32, depth=2, base_channels=8))
    other = ReconstructionTrainer(cfg).save()
    line = one_line_error(run_train(*args, "--resume", str(other), cwd=tmp_path))
    assert "does not fit" in line and "base_channels=4" in line


def test_ctrl_c_saves_interrupted_checkpoint_and_exits_0(tmp_path):
    root = face_triplets(tmp_path / "faces", 4, size=32)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "facemask", f"root_dir={root}", "train_anns=none",
         "val_anns=none", "img_size=32", "batch_size=2", "num_epochs=100000", *TINY,
         f"checkpoint_path={tmp_path / 'w'}", f"sample_folder={tmp_path / 's'}", "run_name=run"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "w" / "run" / "facemask_log.csv"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    ckpt = find_latest(tmp_path / "w", RECONSTRUCTION)
    assert ckpt.name.endswith("_interrupted.pth")
    data = load_checkpoint(ckpt)
    assert data["iteration"] >= 2 and {"G", "D", "D2"} <= set(data)
    assert f"--resume {ckpt}" in out


def test_segm_on_real_fixture(celeba30, tmp_path):
    result = run_train("segm", f"root_dir={celeba30}", f"train_anns={celeba30}/annotations/train.csv",
                       f"val_anns={celeba30}/annotations/val.csv", "masked_dir=celeba512_30k_masked",
                       "binary_dir=celeba512_30k_binary", "img_size=64", "num_epochs=2", "batch_size=8",
                       *TINY, "run_name=run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("validation: dice=") == 2
    ckpts = sorted((tmp_path / "weights" / "run").glob("model_segm_*.pth"))
    assert [p.name for p in ckpts][-1] == "model_segm_2_4.pth"
    assert len([p for p in ckpts if p.name.endswith("_best.pth")]) == 1
    assert set(load_checkpoint(ckpts[0])["model"]) == set(torch.load(ckpts[0], weights_only=True)["model"])


def test_facemask_on_real_fixture_writes_five_column_samples(celeba30, tmp_path):
    result = run_train("facemask", f"root_dir={celeba30}", "train_anns=none", "val_anns=none",
                       "image_dir=celeba512_30k", "masked_dir=celeba512_30k_masked",
                       "binary_dir=celeba512_30k_binary", "img_size=64", "batch_size=8", "num_epochs=1",
                       "max_iters=2", *TINY[:-1], "visualize_per_iter=1", "run_name=run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    samples = sorted((tmp_path / "samples" / "run").glob("*.png"))
    assert [p.name for p in samples] == ["0_1.png", "0_2.png"]
    img = load_image(samples[0])
    gap = 2
    assert img.shape[1] == 5 * 64 + 4 * gap and img.shape[0] == 4 * 64 + 3 * gap
    assert (tmp_path / "weights" / "run" / "model_0_2.pth").is_file()


@pytest.mark.parametrize("script", ["train.py"])
def test_help(script, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--resume" in result.stdout


def test_resume_alone_continues_the_run_with_its_own_config(tmp_path):
    """``--resume CKPT`` with nothing else goes on with the config the run was trained with
    (its size, epochs, data and folder, not the YAML's defaults); a finished run trains nothing."""
    root = face_triplets(tmp_path / "faces", 4, size=32)
    work = tmp_path / "elsewhere"  # not where the run was started: the default root_dir is not there
    work.mkdir()
    args = ["segm", f"root_dir={root}", "train_anns=none", "val_anns=none", "img_size=32", "batch_size=2",
            "num_epochs=2", "keep_last=0", "save_per_iter=2", *TINY, f"checkpoint_path={tmp_path / 'w'}",
            f"sample_folder={tmp_path / 's'}", "run_name=run"]
    done = run_train(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "w" / "run"
    first, last = run / "model_segm_0_2.pth", run / "model_segm_1_4.pth"
    assert first.is_file() and last.is_file()
    last.unlink()

    done = run_train("segm", "--resume", str(first), cwd=work)
    assert done.returncode == 0, done.stderr
    assert last.is_file(), sorted(p.name for p in run.iterdir())
    config = load_checkpoint(last)["config"]
    assert (config["img_size"], config["num_epochs"], config["root_dir"]) == (32, 2, str(root))

    before = {p.name: p.stat().st_mtime_ns for p in run.glob("*.pth")}
    done = run_train("segm", "--resume", str(last), cwd=work)
    assert done.returncode == 0, done.stderr
    assert {p.name: p.stat().st_mtime_ns for p in run.glob("*.pth")} == before
