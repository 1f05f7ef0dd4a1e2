"""The proposed model end to end: ``python3 train.py facemask audio=film`` on a video
dataset, then ``python3 infer.py`` on its test split and on a video, each frame conditioned
on the input's own soundtrack."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch

import infer
from configs import Config
from configs.loader import parse_overrides
from core.audio import AudioSettings
from core.media import count_frames
from datasets.reconstruction import ReconstructionDataset
from helpers_infer import ONE_THREAD_ENV, REPO, make_video, one_torch_thread  # noqa: F401 (autouse fixture)
from inference.audio import frame_features
from inference.inputs import open_input
from modelfiles.load import load_model
from prepare.talking_clip import write_talking_dataset, write_talking_video
from stages import RECONSTRUCTION
from trainers import SegmentationTrainer

TINY = ["device=cpu", "num_workers=0", "img_size=32", "base_channels=4", "depth=2", "perceptual=none",
        "print_per_iter=1000", "visualize_per_iter=1000", "max_iters=3"]


def run_script(script: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=ONE_THREAD_ENV)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Dataset1-style roots train/ and test/ of the talking clip, and both stages trained
    for a few steps with the real commands (the generator with audio: film)."""
    base = tmp_path_factory.mktemp("audio_e2e")
    train = write_talking_dataset(base / "talk" / "train", 16, size=32, seed=0)
    test = write_talking_dataset(base / "talk" / "test", 6, size=32, seed=1)
    weights = base / "weights"
    common = [f"root_dir={train}", f"train_anns={train / 'annotations/train.csv'}",
              f"checkpoint_path={weights}", *TINY]
    done = run_script("train.py", "facemask", *common, f"val_dir={test}", "val_anns=none", "audio=film",
                      "audio_window=0.2", "audio_dim=16", cwd=base)
    assert done.returncode == 0, done.stderr[-2000:]
    # The segmenter is not what this test is about: trained in-process (faster), same trainer.
    segm = Config.from_dict({"task": "segm", **parse_overrides(common), "val_anns": None})
    SegmentationTrainer(segm).fit()
    return {"base": base, "train": train, "test": test, "weights": weights}


def test_infer_py_on_the_test_split_uses_its_soundtrack(trained):
    out = trained["base"] / "results"
    done = run_script("infer.py", "--input", str(trained["test"]), "--out", str(out),
                      f"checkpoint_path={trained['weights']}", "img_size=32", "identity=false",
                      "device=cpu", cwd=trained["base"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "audio conditioning: film" in done.stdout
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and all(r["gt_mask_psnr_mask"] for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processed"] == 6 and "audio" in summary["timing_seconds"]


def test_infer_on_a_video_and_refusing_photos(trained, tmp_path, capsys):
    video = write_talking_video(tmp_path / "talk.mp4", 2.0, fps=4, size=64)
    args = [f"checkpoint_path={trained['weights']}", "img_size=32", "identity=false", "device=cpu"]
    assert infer.main(["--input", str(video), "--out", str(tmp_path / "video"), *args]) == 0
    assert count_frames(tmp_path / "video" / "talk_reconstructed.mp4") == 8
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes((trained["test"] / "image_masked" / "frame0000_masked.png").read_bytes())
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        infer.main(["--input", str(photos), "--out", str(tmp_path / "photos_out"), *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "audio-conditioned" in err[0], err
    mute = make_video(tmp_path / "mute.mp4", frames=3, audio=False)
    with pytest.raises(SystemExit) as stop:
        infer.main(["--input", str(mute), "--out", str(tmp_path / "mute_out"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "no audio track" in err[0], err


def test_inference_features_are_the_training_features(trained):
    """A dataset root gives infer.py exactly the windows the trainer saw for each frame
    (the settings come from the encoder's record in the checkpoint)."""
    cfg = Config.from_dict({"audio_window": 0.2})
    encoder = load_model(cfg.replace(checkpoint_path=str(trained["weights"])), RECONSTRUCTION).audio_encoder
    assert encoder.features == AudioSettings.from_config(cfg)
    training = ReconstructionDataset(trained["test"], 32, audio=AudioSettings.from_config(cfg))
    source = open_input(trained["test"], cfg)
    items = list(source)
    features = frame_features(source, encoder.features)(items)
    by_name = {training[i]["name"]: training[i]["audio"] for i in range(len(training))}
    assert len(items) == len(by_name) == 6
    assert torch.equal(features, torch.stack([by_name[item.name] for item in items]))
