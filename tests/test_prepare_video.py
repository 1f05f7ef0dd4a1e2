"""``prepare video`` on short mp4s made here with the ffmpeg shipped in imageio-ffmpeg."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers_prepare import make_video

from core.images import load_image, load_mask
from core.media import probe
from core.wav import AUDIO_RATE, read_wav
from datasets.reconstruction import ReconstructionDataset
from prepare.command import main
from prepare.example import output_paths
from prepare.options import PrepareError, PrepareOptions
from prepare.run import prepare_video

SECONDS, FPS = 3.0, 2.0
OPTIONS = PrepareOptions(size=192, progress=False)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {"tone": make_video(folder / "talk.mp4", SECONDS, audio="tone"),
            "none": make_video(folder / "mute.mp4", 2.0, audio=None),
            "silent": make_video(folder / "quiet.mp4", 2.0, audio="silent")}


@pytest.fixture(scope="module")
def prepared(videos, tmp_path_factory):
    root = tmp_path_factory.mktemp("Dataset1") / "train"
    return root, prepare_video(videos["tone"], root, fps=FPS, options=OPTIONS)


def read_frames_csv(root):
    with open(root / "frames.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["name", "timestamp_seconds"]
    return [(name, float(t)) for name, t in rows[1:]]


def test_frames_follow_duration_and_fps_with_increasing_timestamps(prepared, videos):
    root, summary = prepared
    frames = read_frames_csv(root)
    duration = probe(videos["tone"]).duration
    assert abs(len(frames) - duration * FPS) <= 1
    times = np.array([t for _, t in frames])
    assert times[0] == pytest.approx(0.0, abs=0.05) and np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 1 / FPS, atol=0.05)
    assert [n for n, _ in frames] == [f"frame{i:04d}" for i in range(len(frames))]
    assert all((root / "frames" / f"{n}.jpg").is_file() for n, _ in frames)
    assert (root / "raw" / "talk.mp4").is_file()
    assert summary.count("done") == len(frames), summary.line()


def test_soundtrack_is_16k_mono_wav_of_the_video_length(prepared):
    root, _ = prepared
    samples, rate = read_wav(root / "audio" / "talk.wav")
    assert rate == AUDIO_RATE
    assert len(samples) / rate == pytest.approx(SECONDS, abs=0.1)
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=5)


def test_masked_binary_and_clean_line_up_pixel_for_pixel(prepared):
    root, _ = prepared
    names = [n for n, _ in read_frames_csv(root)]
    for name in names:
        clean_path, masked_path, binary_path = output_paths(root, name)
        clean, masked, mask = load_image(clean_path), load_image(masked_path), load_mask(binary_path)
        assert clean.shape == masked.shape == (192, 192, 3) and mask.shape == (192, 192)
        assert 0.03 < mask.mean() < 0.6
        assert np.array_equal(clean[~mask], masked[~mask])
        assert np.any(clean != masked, axis=2)[mask].mean() > 0.95
    assert len(ReconstructionDataset(root, 64)) == len(names)


def test_dataset1_layout_from_two_calls(prepared, videos):
    train_root, _ = prepared
    test_root = train_root.parent / "test"
    prepare_video(videos["none"], test_root, fps=FPS, options=OPTIONS)
    for root in (train_root, test_root):
        assert (root / "frames.csv").is_file() and (root / "image").is_dir()
        assert len(ReconstructionDataset(root, 64)) >= 3
    assert not (test_root / "audio").exists(), "no audio track -> no WAV"
    with open(test_root / "prepare_report.csv", newline="") as f:
        first = next(csv.DictReader(f))
    assert first["source"].endswith("mute.mp4") and first["reason"] == "no_audio"
    with pytest.raises(PrepareError, match="already holds frames"):
        prepare_video(videos["tone"], test_root, fps=FPS, options=OPTIONS)


def test_silent_and_missing_videos_are_reported(videos, tmp_path, capsys):
    summary = prepare_video(videos["silent"], tmp_path / "quiet", fps=1.0, options=OPTIONS)
    assert any("silent" in n for n in summary.notices)
    assert (tmp_path / "quiet" / "audio" / "quiet.wav").is_file()
    missing = ["--video", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "gone"), "--quiet"]
    assert main(["video", *missing]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "video not found" in err
    with open(tmp_path / "gone" / "prepare_report.csv", newline="") as f:
        assert next(csv.DictReader(f))["reason"] == "missing_video"
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000))
    with pytest.raises(PrepareError, match="not a readable video"):
        prepare_video(tmp_path / "broken.mp4", tmp_path / "broken", options=OPTIONS)
    with open(tmp_path / "broken" / "prepare_report.csv", newline="") as f:
        assert next(csv.DictReader(f))["reason"] == "unreadable_video"
