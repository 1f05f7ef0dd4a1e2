"""The demo's pieces: unseen held-out views, the talking video, the Telea baseline, the step
runner (skips what is done) and the table. The whole ``make demo`` takes minutes; it is run
by hand and its numbers are in the README."""

from __future__ import annotations

import json
import shlex
import sys

import numpy as np
import pytest

import demo
from core.media import count_frames, encode_video, probe
from core.wav import write_wav
from demos import astronaut
from demos.baseline import BaselineScores, in_mask_scores, telea
from demos.report import compare, headline, markdown_table, pick_examples
from demos.steps import Step, StepFailed, StepRunner, argv_for
from demos.talking_video import open_mouth, speech_like
from demos.training import DemoRuns
from helpers_infer import one_torch_thread  # noqa: F401 (autouse fixture)
from inference.command import build_parser as infer_parser
from prepare.command import build_parser as prepare_parser

# --- the photos ---------------------------------------------------------------------------


def test_held_out_angles_are_never_used_in_training():
    train = astronaut.views(96, held_out=False, seed=0)
    test = astronaut.views(24, held_out=True, seed=0)
    low, high = astronaut.HELD_OUT_ANGLES
    assert all(low <= abs(v.angle) <= high for v in test)
    assert not any(low <= abs(v.angle) <= high for v in train)
    assert len({v.mirror for v in train}) == 2 and np.ptp([v.zoom for v in train]) > 0.3


def test_held_out_photos_differ_from_every_training_photo(tmp_path):
    image = astronaut.source_image()
    train = [astronaut.render(image, v, 64).astype(float) for v in astronaut.views(96, False, 0)]
    test = [astronaut.render(image, v, 64).astype(float) for v in astronaut.views(24, True, 0)]
    nearest = min(np.abs(a - b).mean() for a in test for b in train)
    assert nearest > 10.0, f"a held-out photo is nearly a training photo (mean abs diff {nearest:.1f})"
    paths = astronaut.write_photos(tmp_path, 3, held_out=True)
    assert [p.name for p in paths] == [f"astro_test_{k:03d}.png" for k in range(3)]


# --- the video ------------------------------------------------------------------------------


def test_mouth_follows_the_sound_and_only_the_mouth_moves():
    speech = speech_like(3.0, fps=10, seed=1)
    assert len(speech.opening) == 30 and speech.opening.max() == pytest.approx(1.0)
    assert speech.opening[:2].max() < 0.05  # it starts with silence, mouth closed
    loud = np.abs(speech.samples).reshape(30, -1).mean(1)
    assert np.corrcoef(loud, speech.opening)[0, 1] > 0.8
    image, lm = astronaut.source_image(), astronaut.face_landmarks()
    opened = open_mouth(image, lm, 1.0)
    changed = np.argwhere(np.abs(opened.astype(int) - image).sum(2) > 0)
    mouth = lm[48:68]
    assert changed[:, 0].min() >= mouth[:, 1].min() - 2  # nothing above the lips
    assert changed[:, 0].max() <= lm[8, 1] + np.ptp(mouth[:, 0])  # nothing far below the chin
    assert open_mouth(image, lm, 0.0) is image


def test_encoded_video_has_every_frame_and_the_sound(tmp_path):
    speech = speech_like(1.0, fps=10)
    wav = write_wav(tmp_path / "a.wav", speech.samples, speech.rate)
    frames = [np.full((64, 64, 3), 20 * k, np.uint8) for k in range(10)]
    video = encode_video(tmp_path / "v.mp4", frames, 10, wav)
    assert count_frames(video) == 10
    assert probe(video).audio_codec == "aac"


# --- the baseline ---------------------------------------------------------------------------


def test_telea_fills_only_the_hole_and_scores_like_infer():
    truth = np.zeros((48, 48, 3), np.uint8)
    truth[:, :24] = 200
    hole = np.zeros((48, 48), bool)
    hole[30:40, 5:15] = True  # inside the flat bright half: easy to fill
    masked = truth.copy()
    masked[hole] = (0, 0, 255)
    filled = telea(masked, hole, 3)
    assert np.array_equal(filled[~hole], masked[~hole])
    p, s = in_mask_scores(filled, truth, hole)
    p_masked, s_masked = in_mask_scores(masked, truth, hole)
    assert p > p_masked + 10 and s > s_masked


# --- the table ----------------------------------------------------------------------------------


def test_table_margin_and_wins(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"metrics": {
        "seg_dice": {"mean": 0.9}, "gt_mask_psnr_mask": {"mean": 21.0}, "gt_mask_ssim_mask": {"mean": 0.8},
        "psnr_mask": {"mean": 19.0}, "ssim_mask": {"mean": 0.7}}}))
    (tmp_path / "metrics.csv").write_text("name,gt_mask_psnr_mask\na,22\nb,20\nc,14\n")
    truth = BaselineScores(15.0, 0.3, 5, {"a": (15.0, 0.3), "b": (14.0, 0.3), "c": (16.0, 0.3)})
    predicted = BaselineScores(13.5, 0.2, 3, {"a": (13.5, 0.2)})
    comparison = compare(tmp_path, truth, predicted)
    assert comparison.margin_db == pytest.approx(6.0) and comparison.margin_e2e_db == pytest.approx(5.5)
    assert (comparison.wins, comparison.images) == (2, 3)
    table = markdown_table(comparison)
    assert "| ours: generator | ground truth | - | 21.00 | 0.800 |" in table
    assert "| OpenCV Telea (radius 3) | predicted by ours | 0.900 | 13.50 | 0.200 |" in table
    assert "+6.00 dB" in headline(comparison) and "2 of 3" in headline(comparison)


def test_picture_examples_cycle_through_mask_types(tmp_path):
    rows = ["source,name,status,reason,detail,faces,mask_type"] + [
        f"s,n{k},done,,,1,{t}" for k, t in enumerate(["gas", "gas", "N95", "cloth", "N95"])]
    (tmp_path / "prepare_report.csv").write_text("\n".join(rows) + "\n")
    assert pick_examples(tmp_path, 4) == ["n0", "n2", "n3", "n1"]


# --- the steps ----------------------------------------------------------------------------------


def test_steps_skip_what_is_done_and_redo_what_is_missing(tmp_path):
    calls = []

    def writer(name: str):
        def make() -> None:
            calls.append(name)
            (tmp_path / name).write_text("x")
        return make

    steps = [Step(name, [tmp_path / name], action=writer(name)) for name in ("a", "b", "c")]
    StepRunner(tmp_path / "stamps").run(steps)
    log = StepRunner(tmp_path / "stamps").run(steps)
    assert calls == ["a", "b", "c"] and log.seconds == {"a": None, "b": None, "c": None}
    (tmp_path / "b").unlink()
    StepRunner(tmp_path / "stamps").run(steps)
    assert calls == ["a", "b", "c", "b", "c"]  # b is redone, and c, which may use b's output


def test_a_failing_or_silent_command_stops_the_demo(tmp_path):
    with pytest.raises(StepFailed, match="exit 3"):
        StepRunner(tmp_path).run([Step("fail", [], command="python3 -c 'raise SystemExit(3)'")])
    with pytest.raises(StepFailed, match="did not write"):
        StepRunner(tmp_path).run([Step("quiet", [tmp_path / "never"], command="python3 -c 'pass'")])
    assert not list(tmp_path.glob("*.done"))
    assert argv_for("python3 train.py segm")[:2] == [sys.executable, "train.py"]


def test_demo_commands_parse_with_the_real_parsers():
    """Every option the demo passes to prepare / infer exists there (train.py's are checked
    by the README test and the shipped-config test)."""
    commands = [s.command for s in demo.build_steps() if s.command]
    assert len(commands) == 10
    for command in commands:
        args = shlex.split(command)[1:]
        if args[:2] == ["-m", "prepare"]:
            prepare_parser().parse_args(args[2:])
        elif args[0] in ("infer.py", "infer_jpgs.py"):
            infer_parser("", "png").parse_intermixed_args(args[1:])
        else:
            assert args[:2] in (["train.py", "segm"], ["train.py", "facemask"]), command


def test_ctrl_c_during_a_command_stops_the_demo_after_it(tmp_path):
    """The command gets Ctrl-C (here: it sends SIGINT to the demo) and finishes on its own
    terms; the demo then stops instead of marking the step done."""
    command = ("python3 -c 'import os, signal, time; os.kill(os.getppid(), signal.SIGINT); "
               "time.sleep(0.3)'")
    with pytest.raises(StepFailed, match="interrupted"):
        StepRunner(tmp_path).run([Step("train", [], command=command)])
    assert not list(tmp_path.glob("*.done"))


def test_interrupted_training_is_resumed_and_abandoned_runs_are_cleared(tmp_path):
    runs = DemoRuns(tmp_path, tmp_path / "samples", tmp_path / "train")
    segm, facemask = tmp_path / "segm", tmp_path / "facemask"
    segm.mkdir()
    facemask.mkdir()
    for name in ("model_segm_0_10.pth", "model_segm_1_20_interrupted.pth", "segm_log.csv"):
        (segm / name).write_text("x")
    (facemask / "model_5_50.pth").write_text("x")
    assert runs.resume_option("segm") == f" --resume {segm / 'model_segm_1_20_interrupted.pth'}"
    runs.clear("segm")  # resuming: keep everything
    assert (segm / "segm_log.csv").exists()
    (segm / "model_segm_1_20_interrupted.pth").unlink()
    assert runs.resume_option("segm") == ""
    runs.clear("segm")  # from scratch: the old segmenter run goes, the other stage stays
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["model_5_50.pth"]
