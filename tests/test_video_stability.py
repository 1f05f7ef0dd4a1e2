"""The video stability benchmark's own parts: clips with known motion, warping back, and the
temporal measures (flicker, E_warp), on synthetic stills (no models, no fixtures)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.moving_clips import Still, invert, make_clip, map_points, similarity
from benchmarks.video_stability import measure, parse_rows, still_regions
from core.media import encode_video
from metrics import flicker, flicker_pairs, psnr, warp_error


def synthetic_still(side: int = 128, seed: int = 0) -> Still:
    """A smooth random texture with a disc as its 'mask' (masked = clean with the disc blue)."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (side, side, 3)).astype(np.float32), (0, 0), 3)
    texture = cv2.normalize(texture, None, 20, 235, cv2.NORM_MINMAX).astype(np.uint8)
    yy, xx = np.mgrid[0:side, 0:side]
    mask = (xx - side / 2) ** 2 + (yy - side * 0.6) ** 2 < (side / 4) ** 2
    masked = texture.copy()
    masked[mask] = (40, 90, 200)
    return Still("synthetic", masked, texture, mask)


def test_similarity_maps_a_point_there_and_back():
    matrix = similarity(0.6, 5.0, anchor=(250.0, 340.0), to=(640.0, 360.0))
    assert np.allclose(map_points(matrix, [[250.0, 340.0]]), [[640.0, 360.0]])
    points = np.array([[10.0, 20.0], [400.0, 100.0], [250.0, 500.0]])
    there = map_points(matrix, points)
    assert np.allclose(map_points(invert(matrix), there), points, atol=1e-9)
    # a similarity: distances scale by the scale and nothing else
    assert np.isclose(np.linalg.norm(there[1] - there[0]), 0.6 * np.linalg.norm(points[1] - points[0]))
    turned = map_points(similarity(1.0, 90.0, (0.0, 0.0), (0.0, 0.0)), [[1.0, 0.0]])
    assert np.allclose(turned, [[0.0, -1.0]])  # counter-clockwise on screen (y points down)


def test_warping_back_recovers_the_still_frame():
    still = synthetic_still()
    clip = make_clip("rotation", [still], 5, face_scale=2.0)
    region = still_regions(clip)[0]
    import torch

    for t in range(len(clip)):
        back = clip.to_still(t, clip.frame(t, "clean"))
        as_tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255  # noqa: E731
        assert float(psnr(as_tensor(back), as_tensor(still.clean), torch.from_numpy(region)[None, None])) > 35
        found = clip.to_still(t, clip.frame(t, "mask").astype(np.uint8), nearest=True) > 0
        assert (found == still.mask).mean() > 0.99


def test_cut_clip_switches_stills_and_shots_split_there():
    clip = make_clip("cut", [synthetic_still(seed=0), synthetic_still(seed=1)], 8, face_scale=2.0)
    assert clip.source == [0, 0, 0, 0, 1, 1, 1, 1] and clip.cuts == [4]
    assert [list(s) for s in clip.segments()] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="unknown clip kind"):
        make_clip("zoom", [synthetic_still()], 4)


def noisy(frames: list[np.ndarray], masks: list[np.ndarray], sigma: float = 25.0) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    out = []
    for frame, mask in zip(frames, masks):
        frame = frame.astype(np.float32)
        frame[mask] += rng.normal(0, sigma, (int(mask.sum()), 3))
        out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


def test_a_stable_output_flickers_little_and_noise_a_lot():
    still = synthetic_still()
    # 24 frames: about 20 px of motion a frame, which the flow follows (6 would be 100 px)
    clip = make_clip("drift_zoom", [still], 24, face_scale=2.0)
    stable = list(clip.frames("clean"))
    masks = list(clip.frames("mask"))
    shaky = noisy(stable, masks)
    region = still_regions(clip)[0]
    steady = flicker([clip.to_still(t, f) for t, f in enumerate(stable)], region)
    noise = flicker([clip.to_still(t, f) for t, f in enumerate(shaky)], region)
    assert steady < 1.0 and noise > 10 * max(steady, 0.5)
    calm = [warp_error(a, b, m) for a, b, m in zip(stable, stable[1:], masks[1:])]
    wild = [warp_error(a, b, m) for a, b, m in zip(shaky, shaky[1:], masks[1:])]
    assert np.nanmax(calm) < 2.0 and np.nanmin(wild) > 5 * np.nanmax(calm)


def test_flicker_of_identical_frames_is_zero_and_empty_regions_are_nan():
    frame = synthetic_still().clean
    region = synthetic_still().mask
    assert flicker_pairs([frame, frame, frame], region) == [0.0, 0.0]
    assert np.isnan(flicker([frame], region))
    assert np.isnan(warp_error(frame, frame, np.zeros(region.shape, bool)))


def test_measure_through_the_codec_floor_against_noise(tmp_path):
    clip = make_clip("still_face", [synthetic_still()], 6, face_scale=2.0)
    masks = list(clip.frames("mask"))
    floor = measure(clip, encode_video(tmp_path / "clean.mp4", clip.frames("clean"), 25.0), None)
    noisy_clip = encode_video(tmp_path / "noisy.mp4", noisy(list(clip.frames("clean")), masks), 25.0)
    shaky = measure(clip, noisy_clip, None)
    assert floor["flicker"] < 3.0 and floor["psnr_mask"] > 30
    assert shaky["flicker"] > 5 * floor["flicker"] and shaky["psnr_mask"] < floor["psnr_mask"] - 6
    assert shaky["e_warp"] > 2 * floor["e_warp"]


def test_rows_name_their_overrides():
    assert parse_rows("today:", []) == {"today": []}
    assert parse_rows("off:temporal=off;on:temporal=on,faces=auto", ["device=cpu"]) == {
        "off": ["temporal=off", "device=cpu"], "on": ["temporal=on", "faces=auto", "device=cpu"]}
    for bad in ("", ":x=1", "a:b", "a:x=1;a:x=2"):
        with pytest.raises(ValueError):
            parse_rows(bad, [])
