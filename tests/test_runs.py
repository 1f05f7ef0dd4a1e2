"""Training runs as a user starts them: ``root_dir=X`` alone on the three dataset layouts,
one folder per run (never a mixed log), a sample grid at the end of every run, and a quiet
console."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, tiny_settings
from synthetic import celeba_layout, face_triplets

from configs import Config
from core.images import load_image
from modelfiles.checkpoint import find_latest, load_checkpoint
from prepare.run import write_split
from stages import RECONSTRUCTION, SEGMENTATION
from trainers import ReconstructionTrainer, SegmentationTrainer

TINY = ["device=cpu", "num_workers=0", "base_channels=4", "depth=2", "perceptual=none", "batch_size=4",
        "print_per_iter=1000"]


def train(stage: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), stage, *args, *TINY],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("layouts")
    prepared = face_triplets(base / "prepared", 8, size=48)
    write_split(prepared, 0.25, seed=0)  # what python3 -m prepare writes beside the images
    return {"prepared": prepared,
            "celeba": celeba_layout(base / "celeba", 8, size=48),
            "video": face_triplets(base / "video", 6, size=48, seed=1)}  # frames only, no split


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("layout", ["prepared", "celeba", "video"])
@pytest.mark.parametrize("stage", [SEGMENTATION, RECONSTRUCTION], ids=lambda s: s.name)
def test_root_dir_alone_trains_on_every_layout(roots, layout, stage, tmp_path):
    """``python3 train.py STAGE root_dir=X num_epochs=1 img_size=64``: no annotation keys."""
    root = roots[layout]
    done = train(stage.name, f"root_dir={root}", "num_epochs=1", "img_size=64", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    checkpoint = find_latest(tmp_path / "weights", stage)
    data = load_checkpoint(checkpoint)
    assert data["iteration"] >= 1 and data["config"]["img_size"] == 64
    run = checkpoint.parent
    assert run.parent == tmp_path / "weights" and run.name.startswith(f"{stage.name}-")
    # A split where the root has one (a validation row), every example where it has none.
    validated = (run / f"{stage.name}_val.csv").is_file()
    assert validated == (layout != "video"), layout
    # The run ends with a sample grid, although visualize_per_iter (500) was never reached.
    grids = list((tmp_path / "samples" / run.name).glob("*.png"))
    assert len(grids) == 1 and load_image(grids[0]).shape[0] > 64


def test_a_missing_annotation_file_names_its_key(roots, tmp_path):
    done = train("segm", f"root_dir={roots['video']}", "train_anns=splits/mine.csv", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert "train_anns=splits/mine.csv" in line and "train_anns=none" in line


def test_two_identical_runs_stay_apart(roots, tmp_path):
    settings = tiny_settings(tmp_path, task="segm", root_dir=str(roots["prepared"]), img_size=32,
                             depth=2, num_epochs=2)
    first, second = (SegmentationTrainer(Config.from_dict(settings)) for _ in range(2))
    first.fit()
    second.fit()
    assert first.run_dir != second.run_dir and first.run_dir.parent == second.run_dir.parent
    for trainer in (first, second):
        steps = [int(r["iteration"]) for r in rows(trainer.run_dir / "segm_log.csv")]
        assert steps == list(range(1, trainer.iteration + 1))  # one run's rows, once each
    # The newest run is the one inference picks.
    assert find_latest(tmp_path / "weights", SEGMENTATION).parent == second.run_dir


def test_a_named_run_is_not_mixed_with_a_new_one(roots, tmp_path):
    settings = tiny_settings(tmp_path, task="segm", root_dir=str(roots["prepared"]), img_size=32,
                             depth=2, run_name="mine")
    SegmentationTrainer(Config.from_dict(settings)).fit()
    done = train("segm", f"root_dir={roots['prepared']}", "img_size=32", "run_name=mine",
                 f"checkpoint_path={tmp_path / 'weights'}", cwd=tmp_path)
    assert done.returncode == 2
    assert "already holds a segmentation run" in done.stderr and "--resume" in done.stderr


def test_resuming_a_finished_run_says_so(roots, tmp_path):
    settings = tiny_settings(tmp_path, task="facemask", root_dir=str(roots["video"]), img_size=32, depth=2,
                             base_channels=4)
    last = ReconstructionTrainer(Config.from_dict(settings)).fit()
    done = train("facemask", f"root_dir={roots['video']}", "img_size=32", "num_epochs=1",
                 f"checkpoint_path={tmp_path / 'weights'}", "--resume", str(last), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "already finished" in done.stdout and "done:" not in done.stdout


def test_offline_perceptual_default_falls_back_with_how_to_get_vgg(roots, tmp_path, monkeypatch):
    from models import PerceptualNet, PerceptualUnavailable

    def offline(path=None):
        raise PerceptualUnavailable("no network", "https://example.invalid/vgg19.pth",
                                    Path("/cache/vgg19.pth"))

    monkeypatch.setattr(PerceptualNet, "pretrained", staticmethod(offline))
    settings = {**tiny_settings(tmp_path, task="facemask", root_dir=str(roots["video"]), img_size=32,
                                depth=2), "perceptual": "auto"}
    assert Config.from_dict({}).perceptual == "auto"
    messages = []
    trainer = ReconstructionTrainer.__new__(ReconstructionTrainer)
    trainer.info = messages.append
    trainer.cfg = Config.from_dict(settings)
    assert trainer.make_perceptual() is None
    (notice,) = messages
    assert "feature matching" in notice and "https://example.invalid/vgg19.pth" in notice
    assert "/cache/vgg19.pth" in notice


def test_checkpoints_kept_by_default_are_few():
    assert 1 <= Config.from_dict({}).keep_last <= 5


def test_skip_warnings_do_not_cut_through_the_progress_bar(tmp_path):
    root = face_triplets(tmp_path / "faces", 6, size=32)
    (root / "image_masked" / "face002_masked.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    done = train("segm", f"root_dir={root}", "img_size=32", "num_epochs=2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.replace("\r", "\n").splitlines()
    warnings = [line for line in lines if "skipping face002" in line]
    assert warnings and all(line.startswith("WARNING: skipping face002") for line in warnings), warnings
    assert "[ERROR" not in done.stderr and "[ WARN" not in done.stderr  # OpenCV's own lines


def test_an_empty_validation_split_means_no_validation(tmp_path):
    root = face_triplets(tmp_path / "faces", 4, size=32)
    write_split(root, 0.0, seed=0)  # as prepare --val-fraction 0 writes it: val.csv empty
    assert (root / "annotations" / "val.csv").read_text() == ""
    trainer = SegmentationTrainer(Config.from_dict(tiny_settings(tmp_path, task="segm", root_dir=str(root),
                                                                 img_size=32, depth=2)))
    assert trainer.val_set is None and len(trainer.train_set) == 4


def test_init_weights_starts_a_new_run_from_another_runs_networks(roots, tmp_path):
    """A prior trained on many faces, fine-tuned on a person: the new run starts at iteration 0
    with the prior's weights (not its optimizer), and refuses a checkpoint of the other stage."""
    settings = tiny_settings(tmp_path, task="facemask", root_dir=str(roots["video"]), img_size=32, depth=2,
                             base_channels=4)
    prior_path = ReconstructionTrainer(Config.from_dict(settings)).fit()
    prior = load_checkpoint(prior_path)
    tuned = ReconstructionTrainer(Config.from_dict({**settings, "init_weights": str(prior_path), "seed": 1}))
    assert tuned.iteration == 0
    for name in ("G", "D", "D2"):
        for key, value in tuned.models[name].state_dict().items():
            assert value.equal(prior[name][key]), (name, key)
    fresh = ReconstructionTrainer(Config.from_dict({**settings, "seed": 1}))
    assert not fresh.models["G"].state_dict()["head.weight"].equal(prior["G"]["head.weight"])
    segm = SegmentationTrainer(Config.from_dict({**settings, "task": "segm"})).fit()
    with pytest.raises(Exception, match="is a 'segm' checkpoint"):
        ReconstructionTrainer(Config.from_dict({**settings, "init_weights": str(segm)}))
