"""What inference says and which size it runs at: each model at its trained size unless
``img_size`` is given, and no noise (OpenCV warnings, lines about metrics that were not
asked for) in the output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import infer
from core.images import write_image
from helpers_infer import (
    ONE_THREAD_ENV,
    REPO,
    face,
    make_dataset,
    mask_region,
    one_torch_thread,  # noqa: F401 (autouse fixture)
    put_mask,
    tiny_config,
)
from trainers import ReconstructionTrainer, SegmentationTrainer

SEGM_SIZE, RECON_SIZE = 48, 32


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A segmenter checkpoint saved at 48 px and a generator at 32 px (random weights)."""
    base = tmp_path_factory.mktemp("sizes")
    root = base / "dataset"
    make_dataset(root, count=2, size=(40, 56))
    folder = base / "weights"
    SegmentationTrainer(tiny_config(root, folder, SEGM_SIZE, task="segm")).save()
    ReconstructionTrainer(tiny_config(root, folder, RECON_SIZE, task="facemask")).save()
    return {"root": root, "folder": folder}


def run(argv, capsys):
    try:
        code = infer.main(argv)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_each_model_runs_at_its_trained_size(weights, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run(["--input", str(weights["root"]), "--out", str(out), "device=cpu",
                             f"checkpoint_path={weights['folder']}", "identity=false"], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["segm_img_size"], summary["img_size"]) == (SEGM_SIZE, RECON_SIZE)
    assert f"trained at {SEGM_SIZE} px" in stdout and f"trained at {RECON_SIZE} px" in stdout
    assert "note:" not in stdout
    # identity=false: no identity line of any kind
    assert "identity distance" not in stdout


def test_img_size_given_wins_with_a_note(weights, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run(["--input", str(weights["root"]), "--out", str(out), "device=cpu",
                             f"checkpoint_path={weights['folder']}", "identity=false", "img_size=40"],
                            capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["segm_img_size"], summary["img_size"]) == (40, 40)
    notes = [line for line in stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 2 and all("img_size=40" in n for n in notes)


def test_damaged_files_give_one_line_each_and_no_opencv_warning(weights, tmp_path):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", put_mask(face(40, 40), mask_region(40, 40)))
    good = (photos / "a.png").read_bytes()
    (photos / "cut.png").write_bytes(good[: len(good) // 2])  # a PNG cut short
    (photos / "half.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    done = subprocess.run([sys.executable, str(REPO / "infer.py"), "--input", str(photos), "--out",
                           str(tmp_path / "out"), f"checkpoint_path={weights['folder']}", "device=cpu"],
                          capture_output=True, text=True, timeout=300, env=ONE_THREAD_ENV)
    assert done.returncode == 0, done.stderr
    assert "[ WARN" not in done.stderr and "WARN:" not in done.stderr, done.stderr
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped ")]
    assert sorted(line.split(":")[0] for line in skipped) == ["skipped cut", "skipped half"]
