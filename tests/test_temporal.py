"""A video held steady (``temporal=on``): a still face gives still frames, a moving one moves
its output with it, a cut starts afresh, and ``temporal=off`` leaves every frame on its own.

The masked astronaut (public domain) in a 16:9 frame; the stand-in segmenter finds the
surgical mask's blue by colour and the stand-in generator paints the crop's colours
inverted, so what is painted depends on what the crop shows (a ghost of another shot would
show)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from test_faces_anywhere import SIDE, BlueSegmenter, masked_face
from torch import nn

import faces.follow
import faces.track
import infer
import infer_jpgs
from configs import Config
from core.media import count_frames, encode_video, probe
from datasets.layout import write_frames_csv
from demos.scenes import Placement, background, scene
from faces.crop import Pose, Region
from faces.detect import INFERENCE, find_faces
from faces.track import FaceFinder
from helpers_infer import make_checkpoints, make_dataset, one_torch_thread, write_tone  # noqa: F401
from inference.inputs import open_input
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings, TemporalSettings
from inference.temporal import VideoState

FRAME = (320, 200)  # (width, height) of the test frames
FACE = 120  # the face crop's side in them
ON = TemporalSettings()  # every stabiliser, at its default weights


class InvertGenerator(nn.Module):
    """Paints the crop it is given, inverted: ``(B,3,S,S)`` [0,1] -> ``1 - x``."""

    audio = "none"

    def forward(self, masked, mask, audio=None) -> torch.Tensor:
        return 1 - masked


def reconstructor(temporal: TemporalSettings | None = ON) -> MaskReconstructor:
    settings = ReconstructorSettings(SIDE, fuse=False, channels_last=False, dilate_kernel=3,
                                     temporal=temporal)
    return MaskReconstructor(BlueSegmenter(), InvertGenerator(), settings,
                             faces=FaceFinder("auto", detect_every=3))


def shot(k: int = 2, x: int = 100, y: int = 40, shade: float = 1.0, size=FRAME) -> np.ndarray:
    """The masked face at (x, y) on background photo ``k``; ``shade`` darkens the face."""
    _, masked, _ = masked_face()
    face = (masked * shade).astype(np.uint8)
    return scene({"m": face}, Placement(x, y, FACE), background(k, size))["m"]


def run_video(rec: MaskReconstructor, frames: list[np.ndarray], batch: int = 4) -> list:
    """The frames through the pipeline as ``inference.runner`` sends them: one video, in batches."""
    rec.follow_video()
    out = []
    for k in range(0, len(frames), batch):
        out += rec(frames[k:k + batch])
    rec.stop_following()
    return out


def test_a_still_face_gives_identical_frames():
    frame = shot()
    results = run_video(reconstructor(), [frame.copy() for _ in range(7)])
    assert all(r.regions[0].pose is not None for r in results), "tracked faces are cut at sub-pixel precision"
    assert results[0].mask.mean() > 0.02 and not np.array_equal(results[0].image, frame)
    for r in results[1:]:
        assert np.array_equal(r.image, results[0].image) and np.array_equal(r.mask, results[0].mask)


def test_a_whole_pixel_translation_moves_the_output_with_it(monkeypatch):
    """The camera pans 3 px right and 1 px down a frame: the face and everything around it
    move by whole pixels, and so must the output. The detections are the first frame's moved
    exactly as the frame is (the detectors' own jitter is the tracker's concern, not this one)."""
    step, count = np.array([3, 1]), 6
    canvas = shot(x=130, y=60, size=(FRAME[0] + 40, FRAME[1] + 40))
    frames = [canvas[40 - k * step[1]:, 40 - k * step[0]:][:FRAME[1], :FRAME[0]].copy() for k in range(count)]
    (first,) = find_faces(frames[0], INFERENCE)

    def found(image, settings):
        k = next(i for i, f in enumerate(frames) if f is image)
        return [replace(first, landmarks=first.landmarks + k * step,
                        box=tuple(int(v) for v in np.add(first.box, np.tile(k * step, 2))))]

    monkeypatch.setattr(faces.track, "find_faces", found)
    results = run_video(reconstructor(), frames)
    assert results[0].mask.mean() > 0.02
    h, w = results[0].image.shape[:2]
    for k, r in enumerate(results[1:], 1):
        dx, dy = k * step
        moved = r.image[dy:, dx:].astype(int)
        before = results[0].image[:h - dy, :w - dx].astype(int)
        assert np.abs(moved - before).max() <= 1, k
        assert np.array_equal(r.mask[dy:, dx:], results[0].mask[:h - dy, :w - dx])


def test_a_cut_starts_afresh(monkeypatch):
    """Three frames of one shot, then three of another (other background, darker face at about
    the same place): the first frame after the cut is what a video starting there gives, seen
    either way: as a cut of the whole frame, or as the followed face's crop changing beyond
    recognition (a track lost: the face is searched for again). With both unseen, the first
    shot's painting would show through."""
    frames = [shot(2, 100, 40)] * 3 + [shot(3, 104, 42, shade=0.75)] * 3
    frames = [f.copy() for f in frames]
    fresh = run_video(reconstructor(), frames[3:])[0]
    cut = run_video(reconstructor(), frames)[3]
    assert np.array_equal(cut.image, fresh.image) and np.array_equal(cut.mask, fresh.mask)
    track_lost = run_video(reconstructor(TemporalSettings(cut=1000.0)), frames)[3]
    assert np.array_equal(track_lost.image, fresh.image) and np.array_equal(track_lost.mask, fresh.mask)
    monkeypatch.setattr(faces.follow, "LOST", np.inf)
    unseen = run_video(reconstructor(TemporalSettings(cut=1000.0)), frames)[3]
    assert not np.array_equal(unseen.image, fresh.image), "without the reset a ghost shows"


class CountingGenerator(InvertGenerator):
    """``InvertGenerator`` that counts the faces it paints."""

    def __init__(self) -> None:
        super().__init__()
        self.faces = 0

    def forward(self, masked, mask, audio=None) -> torch.Tensor:
        self.faces += masked.shape[0]
        return super().forward(masked, mask, audio)


@pytest.mark.parametrize("every", [1, 2, 3])
def test_the_models_run_on_every_nth_frame_of_a_followed_face(every):
    """``model_every`` N: a followed face goes through the models on its first frame and every
    N-th after, its mask and paint carried in between; on a still face the frames are the same
    whichever N. (The whole-pixel translation above runs with the default, 2: the carried
    frames move with the face.)"""
    frame = shot()
    rec = reconstructor(TemporalSettings(model_every=every))
    rec.generator = counting = CountingGenerator()
    results = run_video(rec, [frame.copy() for _ in range(7)])
    assert counting.faces == len(range(0, 7, every))
    reference = run_video(reconstructor(TemporalSettings(model_every=1)), [frame.copy() for _ in range(7)])
    for r, ref in zip(results, reference):
        assert np.array_equal(r.image, ref.image) and np.array_equal(r.mask, ref.mask)


class Counting(nn.Module):
    """A network wrapped to count the faces it sees."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network, self.faces = network, 0

    def forward(self, *args):
        self.faces += args[0].shape[0]
        return self.network(*args)


def test_an_audio_generator_paints_every_frame_and_only_the_segmenter_skips():
    """An audio model's mouth follows the sound even on a still face, so with ``model_every`` 2
    the generator still sees every frame (with its own audio) and only the segmenter's work is
    carried over."""
    class Listening(InvertGenerator):
        audio = "film"

        def __init__(self) -> None:
            super().__init__()
            self.heard = []

        def forward(self, masked, mask, audio=None):
            self.heard += audio[:, 0].tolist()
            return super().forward(masked, mask, audio)

    rec = reconstructor(TemporalSettings(model_every=2))
    rec.segmenter, rec.generator = Counting(rec.segmenter), Listening()
    frames = [shot() for _ in range(6)]
    rec.follow_video()
    for k in range(0, 6, 3):
        rec(frames[k:k + 3], audio=torch.arange(k, k + 3, dtype=torch.float32)[:, None].repeat(1, 4))
    rec.stop_following()
    assert rec.generator.heard == [0, 1, 2, 3, 4, 5], "every frame painted, each with its own sound"
    assert rec.segmenter.faces == 3


def test_temporal_off_leaves_each_frame_on_its_own():
    """``temporal=off``: whole-pixel crops, nothing carried; on a still face every frame is
    exactly what the photo path gives for it."""
    frame = shot()
    photo = reconstructor(None)([frame])[0]
    assert photo.regions[0].pose is None
    for r in run_video(reconstructor(None), [frame.copy() for _ in range(5)]):
        assert r.regions[0].pose is None
        assert np.array_equal(r.image, photo.image) and np.array_equal(r.mask, photo.mask)


def views(*tracks: int) -> list[tuple[int, Region]]:
    """One view per frame, of the followed face ``track`` (None: a region without a track)."""
    return [(0, Region(0, 0, 4, 4, pose=None if t is None else Pose(t, 2.0, 2.0, 4.0))) for t in tracks]


def test_the_mask_is_a_running_mean_per_track_reset_when_the_track_is_new():
    state = VideoState(TemporalSettings(mask_decay=0.75))
    ones, zeros = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    assert torch.equal(state.probabilities(views(1), ones), ones)  # a new track: its own
    assert torch.allclose(state.probabilities(views(1), zeros), torch.full_like(ones, 0.75))
    assert torch.allclose(state.probabilities(views(1), zeros), torch.full_like(ones, 0.5625))
    assert torch.equal(state.probabilities(views(2), zeros), zeros)  # another face: nothing carried
    assert list(state.masks) == [2], "a track gone from the frame is forgotten"
    assert torch.equal(state.probabilities(views(None), ones), ones)


def test_painted_pixels_are_blended_where_both_frames_masks_are():
    state = VideoState(TemporalSettings(paint_weight=0.5, paint_tolerance=1e9))
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:, :] = 1
    state.paint(views(1), torch.zeros(1, 3, 4, 4), mask)
    later = mask.clone()
    later[..., 3:, :] = 0  # this frame's mask has lost a row
    out = state.paint(views(1), torch.ones(1, 3, 4, 4), later)
    assert torch.allclose(out[0, :, 2], torch.full((3, 4), 0.5)), "in both masks: half the earlier"
    assert torch.equal(out[0, :, 3], torch.ones(3, 4)) and torch.equal(out[0, :, :2], torch.ones(3, 2, 4))


def test_paint_that_changes_a_lot_is_not_held_back():
    """Flicker (a few gray levels) is averaged with the previous frame; a real change (a mouth
    opening: tens of gray levels) comes through nearly as the generator painted it."""
    state = VideoState(TemporalSettings(paint_weight=0.8, paint_tolerance=20.0))
    mask = torch.ones(1, 1, 8, 8)
    state.paint(views(1), torch.full((1, 3, 8, 8), 0.5), mask)
    new = torch.full((1, 3, 8, 8), 0.5 + 4 / 255)
    new[..., 4:] = 0.5 + 80 / 255
    out = state.paint(views(1), new, mask)
    flicker = (out[0, :, :, :2] - 0.5) * 255
    assert torch.allclose(flicker, torch.full_like(flicker, 4 * 0.2 + 4 * 0.8 * (1 - np.exp(-(4 / 20) ** 2))),
                          atol=0.05), "4 gray levels of flicker: about a fifth of it stays"
    assert ((out[0, :, :, 6:] - 0.5) * 255 > 79).all(), "a change of 80 gray levels comes through"


def test_what_is_carried_moves_with_the_crop():
    """A followed face's crop pulled 2 px right in crop pixels (``Pose.carry``): the previous
    frame's mean mask arrives moved by 2 px, and the 2 px the earlier crop did not hold are
    this frame's own."""
    state = VideoState(TemporalSettings(mask_decay=0.5))
    before = torch.zeros(1, 1, 8, 8)
    before[..., 3] = 1.0  # a vertical line at x = 3
    state.probabilities(views(1), before)
    carry = np.array([[1.0, 0, 2 / 8], [0, 1.0, 0]])  # crop units: 2 px of 8 to the right
    region = Region(0, 0, 8, 8, pose=Pose(1, 4.0, 4.0, 8.0, carry=carry))
    now = state.probabilities([(0, region)], torch.zeros(1, 1, 8, 8))
    assert torch.allclose(now[0, 0, :, 5], torch.full((8,), 0.5)), "the line is at x = 5 now"
    assert now[0, 0, :, [3, 4, 6]].abs().max() < 1e-6


def test_a_cut_is_a_large_change_of_the_whole_frame():
    state = VideoState(TemporalSettings(cut=30.0))
    frame = background(2, FRAME)
    assert not state.is_cut(frame)
    assert not state.is_cut(np.roll(frame, 2, axis=1)), "a small camera move is no cut"
    assert state.is_cut(background(3, FRAME))


def test_frames_far_apart_in_time_are_not_held_together():
    """Frames of a video prepared at 4 frames per second, or a selection of its frames, are not
    consecutive: each starts afresh, whatever the picture."""
    state = VideoState(TemporalSettings(max_gap=0.1))
    frame = background(2, FRAME)
    assert not state.is_cut(frame, 0.0)
    assert not state.is_cut(frame, 0.04), "25 frames a second: held together"
    assert state.is_cut(frame, 0.29), "a quarter of a second later: afresh"
    assert not state.is_cut(frame, None), "time unknown: the picture decides"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    base = tmp_path_factory.mktemp("temporal")
    make_dataset(base / "dataset", count=2, size=(32, 32))
    make_checkpoints(base / "dataset", base / "weights", 32)
    return base / "weights"


def test_infer_jpgs_keeps_every_frame_and_the_sound(checkpoints, tmp_path):
    frames = [shot(2, 60 + 6 * k, 40) for k in range(8)]
    video = encode_video(tmp_path / "pan.mp4", frames, 10, write_tone(tmp_path / "tone.wav", 0.8))
    out = tmp_path / "out"
    code = infer_jpgs.main(["--input", str(video), "--out", str(out), f"checkpoint_path={checkpoints}",
                            "img_size=32", "device=cpu", "temporal=on", "detect_every=3"])
    assert code == 0
    result = out / "pan_reconstructed.mp4"
    assert count_frames(result) == count_frames(video) == 8
    assert probe(result).has_audio


def test_a_prepared_video_root_is_read_in_frame_order_and_followed(checkpoints, tmp_path, monkeypatch):
    """A dataset root with ``frames.csv`` (a prepared video) is a video's frames: read in the
    order they were shown (not by name), with faces followed from one to the next."""
    root = tmp_path / "talk"
    names = make_dataset(root, count=4, size=(32, 32))
    write_frames_csv(root / "frames.csv", [(n, t) for n, t in zip(names, (0.75, 0.0, 0.5, 0.25))])
    source = open_input(root, Config.from_dict({"task": "predict"}))
    assert source.consecutive and [item.name for item in source] == [names[1], names[3], names[2], names[0]]
    (root / "frames.csv").unlink()
    plain = open_input(root, Config.from_dict({"task": "predict"}))
    assert not plain.consecutive and [item.name for item in plain] == names

    write_frames_csv(root / "frames.csv", [(n, float(k)) for k, n in enumerate(names)])
    followed = []
    monkeypatch.setattr(MaskReconstructor, "follow_video", lambda self: followed.append(True))
    assert infer.main(["--input", str(root), "--out", str(tmp_path / "out"), f"checkpoint_path={checkpoints}",
                       "img_size=32", "device=cpu", "temporal=on", "identity=false"]) == 0
    assert followed == [True]
