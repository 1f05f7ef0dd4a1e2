"""The pipeline's parts: mask cleaning, full-resolution paste-back, batching, weights, streaming."""

from __future__ import annotations

import io
import tracemalloc

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import Config
from helpers_infer import (  # noqa: F401 (one_torch_thread: autouse fixture)
    EchoGenerator,
    FixedSegmenter,
    face,
    make_video,
    mask_region,
    one_torch_thread,
    put_mask,
)
from inference.morphology import _with_max_pool, binarize, clean_mask, dilate, erode
from inference.pipeline import MaskReconstructor
from inference.runner import Options, run
from inference.settings import ReconstructorSettings
from modelfiles.checkpoint import CheckpointError, save_checkpoint
from modelfiles.load import load_model
from models import AUDIO_ENCODER, AudioEncoder, Generator, MaskSegmenter
from stages import RECONSTRUCTION, SEGMENTATION

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- threshold, erosion, dilation ----------------------------------------------------------

@FAST
@given(st.integers(1, 18), st.integers(1, 18), st.integers(1, 7), st.integers(0, 3),
       st.integers(0, 2**32 - 1))
def test_morphology_matches_opencv(h, w, kernel, iterations, seed):
    """Both ways (OpenCV on the CPU, max-pooling on a GPU, run here on the CPU), each image of a
    batch as OpenCV does it alone."""
    rng = np.random.default_rng(seed)
    masks = (rng.random((3, h, w)) < 0.6).astype(np.uint8)
    ones = np.ones((kernel, kernel), np.uint8)
    t = torch.from_numpy(masks).float()[:, None]
    for grow, ours, theirs in ((False, erode, cv2.erode), (True, dilate, cv2.dilate)):
        expected = np.stack([theirs(m, ones, iterations=iterations) for m in masks])
        assert np.array_equal(ours(t, kernel, iterations)[:, 0].numpy().astype(np.uint8), expected)
        if iterations:
            pooled = _with_max_pool(t, kernel, iterations, grow)
            assert np.array_equal(pooled[:, 0].numpy().astype(np.uint8), expected)


def test_clean_mask_thresholds_then_erodes_then_dilates():
    prob = torch.zeros(1, 1, 12, 12)
    prob[0, 0, 2:8, 2:8] = 0.9  # a 6x6 blob
    prob[0, 0, 10, 10] = 0.9  # a one-pixel speck
    prob[0, 0, 0, 0] = 0.5  # exactly at the threshold: not mask ("above")
    assert binarize(prob, 0.5).sum() == 37
    cleaned = clean_mask(prob, 0.5, erode_kernel=3, erode_iters=1, dilate_kernel=3, dilate_iters=1)
    expected = torch.zeros(12, 12)
    expected[2:8, 2:8] = 1  # the speck is gone, the blob is back to its size
    assert torch.equal(cleaned[0, 0], expected)
    assert torch.equal(clean_mask(prob, 0.5, 0, 0, 0, 0), binarize(prob, 0.5))


# --- full resolution ------------------------------------------------------------------------

def standin(masks: torch.Tensor, generated: torch.Tensor, size: int, **kw) -> MaskReconstructor:
    return MaskReconstructor(FixedSegmenter(masks), EchoGenerator(generated),
                             ReconstructorSettings(size, erode_kernel=0, dilate_kernel=0, **kw))


@FAST
@given(st.integers(5, 90), st.integers(5, 90), st.sampled_from([8, 16, 32]), st.integers(0, 2**32 - 1))
def test_outside_the_mask_every_byte_is_the_input(h, w, size, seed):
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    small = torch.from_numpy(rng.random((1, 1, size, size)) < 0.3).float()
    generated = torch.from_numpy(rng.random((1, 3, size, size))).float()
    result = standin(small, generated, size)([original])[0]
    assert result.image.shape == (h, w, 3) and result.mask.shape == (h, w)
    assert np.array_equal(result.image[~result.mask], original[~result.mask])
    # inside: the generated face, resized to the input's size
    face_full = torch.nn.functional.interpolate(generated, size=(h, w), mode="bilinear",
                                                align_corners=False)[0]
    face_full = (face_full * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(result.image[result.mask], face_full[result.mask])


def test_given_masks_are_used_at_full_resolution():
    """The generator-alone path: the ground-truth mask at the input's size decides exactly."""
    original = face(50, 70)
    truth_mask = mask_region(50, 70)
    rec = standin(torch.zeros(1, 1, 16, 16), torch.ones(1, 3, 16, 16), 16)
    result = rec([original], masks=[truth_mask])[0]
    assert np.array_equal(result.mask, truth_mask)
    assert (result.image[truth_mask] == 255).all()
    assert np.array_equal(result.image[~truth_mask], original[~truth_mask])


def test_no_mask_found_returns_the_input_unchanged():
    original = face(33, 47)
    rec = standin(torch.zeros(1, 1, 16, 16), torch.rand(1, 3, 16, 16), 16)
    result = rec([original])[0]
    assert not result.mask_found and np.array_equal(result.image, original)


def test_batches_give_the_same_results_as_single_images():
    torch.manual_seed(0)
    rec = MaskReconstructor(MaskSegmenter(4, 2), Generator(4, 2), ReconstructorSettings(32, threshold=0.45))
    images = [put_mask(face(40 + 7 * i, 52), mask_region(40 + 7 * i, 52)) for i in range(3)]
    together = rec(images)
    alone = [rec([im])[0] for im in images]
    for a, b in zip(together, alone):
        assert np.array_equal(a.mask, b.mask)
        assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1  # float summation order


# --- weights ----------------------------------------------------------------------------------

def test_models_are_built_from_the_checkpoint_spec_not_the_config(tmp_path):
    seg = MaskSegmenter(base_channels=4, depth=2)
    gen = Generator(base_channels=6, depth=3)
    save_checkpoint(tmp_path / "model_segm_1_5.pth", {"kind": "segm", "specs": {"model": seg.spec},
                                                      "model": seg.state_dict(), "iteration": 5})
    save_checkpoint(tmp_path / "model_1_5.pth", {"kind": "facemask", "specs": {"G": gen.spec},
                                                 "G": gen.state_dict(), "iteration": 5})
    cfg = Config.from_dict({"checkpoint_path": str(tmp_path), "base_channels": 32, "depth": 4})
    loaded = load_model(cfg, RECONSTRUCTION)
    assert loaded.model.spec == gen.spec and loaded.iteration == 5 and not loaded.model.training
    assert load_model(cfg, SEGMENTATION).model.spec == seg.spec


def test_audio_generator_loads_with_its_encoder_only(tmp_path):
    gen = Generator(base_channels=4, depth=2, audio="film", audio_dim=8)
    path = save_checkpoint(tmp_path / "model_0_1.pth", {"kind": "facemask", "specs": {"G": gen.spec},
                                                        "G": gen.state_dict()})
    with pytest.raises(CheckpointError, match="audio-conditioned generator.*no audio encoder"):
        load_model(Config.from_dict({}), RECONSTRUCTION, path)
    encoder = AudioEncoder(n_mels=8, audio_dim=8, channels=8, features={"n_mels": 8, "window_s": 0.3})
    path = save_checkpoint(tmp_path / "model_0_2.pth", {
        "kind": "facemask", "specs": {"G": gen.spec, AUDIO_ENCODER: encoder.spec},
        "G": gen.state_dict(), AUDIO_ENCODER: encoder.state_dict()})
    loaded = load_model(Config.from_dict({}), RECONSTRUCTION, path)
    assert loaded.audio_encoder.features.window_s == 0.3 and not loaded.audio_encoder.training
    # the pipeline's hook: an audio generator without embeddings is refused, with them it runs
    rec = MaskReconstructor(FixedSegmenter(torch.ones(1, 1, 16, 16)), gen, ReconstructorSettings(16))
    with pytest.raises(ValueError, match="audio"):
        rec([face(16, 16)])
    assert rec([face(16, 16)], audio=torch.zeros(1, 8))[0].mask_found


# --- video streaming --------------------------------------------------------------------------

def peak_traced_bytes(video, out_dir) -> int:
    cfg = Config.from_dict({"batch_size": 2, "identity": False})
    rec = standin(torch.ones(2, 1, 16, 16), torch.rand(2, 3, 16, 16), 16)
    tracemalloc.start()
    try:
        run(cfg, Options(video, out_dir, False, "jpg", False), rec, out=io.StringIO())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_video_memory_does_not_grow_with_length(tmp_path):
    """Frames are decoded, reconstructed and encoded a batch at a time, with a few read ahead and
    written behind: 4x more frames, about the same peak. (Both videos are long enough to fill
    those queues; how full they are at the peak depends on timing, hence the margin.)"""
    size = (144, 192)
    short = make_video(tmp_path / "short.mp4", frames=48, size=size, audio=False)
    long = make_video(tmp_path / "long.mp4", frames=192, size=size, audio=False)
    frame_bytes = size[0] * size[1] * 3
    peak_short = peak_traced_bytes(short, tmp_path / "a")
    peak_long = peak_traced_bytes(long, tmp_path / "b")
    assert peak_long < peak_short + 12 * frame_bytes  # holding every frame would add 144 frames
