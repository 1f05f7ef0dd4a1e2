"""infer.py and infer_jpgs.py end to end: a prepared dataset, a photo folder without ground
truth, one non-square image and a short video with audio; and every kind of bad input.

The segmenter is really trained (60 tiny steps, a few seconds) so it finds the masks; the
generator keeps its random initial weights (enough to check the plumbing)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import infer
import infer_jpgs
from core.images import ImageReadError, load_image, load_mask, write_image
from core.media import count_frames, probe
from helpers_infer import (
    CELEBA30,
    ONE_THREAD_ENV,
    REPO,
    face,
    make_checkpoints,
    make_dataset,
    make_video,
    mask_region,
    one_torch_thread,  # noqa: F401 (autouse fixture)
    png_bomb,
    put_mask,
    tiny_config,
)
from modelfiles.checkpoint import save_checkpoint
from trainers import SegmentationTrainer

IMG = 32  # the models' working size in these tests
PANEL_GAP = 2  # datasets.images.grid's white gap between panels


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A triplet dataset, tiny checkpoints (trained segmenter, random generator), a video."""
    base = tmp_path_factory.mktemp("infer")
    root = base / "dataset"
    names = make_dataset(root, count=3, size=(40, 56))
    weights = base / "weights"
    _, recon = make_checkpoints(root, weights, IMG)  # model_segm_0_0.pth and model_0_0.pth
    cfg = tiny_config(root, weights, IMG, task="segm", lr=0.01, max_iters=60, flip=False,
                      print_per_iter=1000, visualize_per_iter=1000, save_per_iter=1000)
    trained = SegmentationTrainer(cfg).fit()  # a newer run than model_segm_0_0.pth's
    video = make_video(base / "clip.mp4", frames=5, size=(48, 64), fps=10)
    return {"base": base, "root": root, "names": names, "weights": weights, "segm": trained,
            "recon": recon, "video": video}


def common(assets, out: Path) -> list[str]:
    # The synthetic "faces" here are drawn shapes no face detector finds: the whole-image
    # path (faces=none); the per-face path has its own tests (test_faces_anywhere.py).
    return ["--out", str(out), f"checkpoint_path={assets['weights']}", f"img_size={IMG}",
            "identity=false", "device=cpu", "faces=none"]


def run_cli(module, argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = module.main(argv)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the four kinds of input ------------------------------------------------------------

def test_dataset_both_scripts_as_subprocesses(assets, tmp_path):
    out = tmp_path / "results"
    cmd = [sys.executable, str(REPO / "infer.py"), "--input", str(assets["root"]),
           *common(assets, out), "--save-masks"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env=ONE_THREAD_ENV)
    assert done.returncode == 0, done.stderr
    # the newest run's weights were used, and said so
    assert f"segmentation weights: {assets['segm']}" in done.stdout
    assert "model_0_0.pth" in done.stdout
    assert "DICE (legacy image Dice):" in done.stdout and "SSIM:" in done.stdout
    for name in assets["names"]:
        panel = load_image(out / f"results_{name}.png")
        # 4 panels (masked | overlay | reconstructed | ground truth) at input resolution
        assert panel.shape == (40, 4 * 56 + 3 * PANEL_GAP, 3)
        assert load_mask(out / "masks" / f"{name}_mask.png").shape == (40, 56)
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["name"] for r in rows] == assets["names"]
    # the trained segmenter finds the painted masks (the default 7-px dilation, meant for
    # 512 px, grows them a lot at 32 px, hence not more)
    assert all(float(r["seg_dice"]) > 0.6 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processed"] == 3 and summary["input_kind"] == "dataset"
    assert summary["weights"]["segmentation"] == str(assets["segm"])
    for stage in ("load", "segmentation", "generator", "write"):
        assert summary["timing_seconds"][stage] >= 0
    assert summary["metrics"]["seg_dice"]["count"] == 3

    out2 = tmp_path / "jpgs"
    cmd = [sys.executable, str(REPO / "infer_jpgs.py"), "--input", str(assets["root"]),
           *common(assets, out2)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env=ONE_THREAD_ENV)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out2.iterdir()) == [f"results2_{n}.jpg" for n in assets["names"]]
    assert load_image(out2 / "results2_face00.jpg").shape == (40, 56, 3)


def test_photo_folder_without_truth_skips_bad_files(assets, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", put_mask(face(60, 44), mask_region(60, 44)))
    write_image(photos / "b.jpg", put_mask(face(36, 36, shift=5), mask_region(36, 36)))
    (photos / "notes.txt").write_text("not a photo")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "out"
    code, stdout, err = run_cli(infer, ["--input", str(photos), *common(assets, out)], capsys)
    assert code == 0, err
    assert "skipped 2" in stdout and "notes.txt" in stdout and "broken.jpg" in stdout
    # no ground truth: 3 panels
    assert load_image(out / "results_a.png").shape == (60, 3 * 44 + 2 * PANEL_GAP, 3)
    assert load_image(out / "results_b.png").shape == (36, 3 * 36 + 2 * PANEL_GAP, 3)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processed"] == 2
    assert {s["name"] for s in summary["skipped"]} == {"notes.txt", "broken"}
    assert "ssim" not in summary["metrics"] and "seg_dice" not in summary["metrics"]

    # a face without a mask: reported, and written unchanged
    clean = face(40, 40)
    write_image(photos / "c.png", clean)
    out2 = tmp_path / "out2"
    code, stdout, err = run_cli(infer_jpgs, ["--input", str(photos), *common(assets, out2),
                                             "--ext", "png"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out2.iterdir()) == ["results2_a.png", "results2_b.png", "results2_c.png"]
    assert "no mask found in 1 image(s), written unchanged: c" in stdout
    assert np.array_equal(load_image(out2 / "results2_c.png"), clean)


def test_images_too_small_for_a_face_are_skipped_and_the_rest_written(assets, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", put_mask(face(60, 44), mask_region(60, 44)))
    for name, (h, w) in {"dot": (1, 1), "tiny": (8, 8), "strip": (6, 3000)}.items():
        write_image(photos / f"{name}.png", np.full((h, w, 3), 128, np.uint8))
    out = tmp_path / "out"
    code, stdout, err = run_cli(infer_jpgs, ["--input", str(photos), *common(assets, out), "--ext", "png"],
                                capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["results2_a.png"]
    assert "skipped 3" in stdout
    for line in ("1x1 is too small", "8x8 is too small", "3000x6 is too small"):
        assert line in stdout, stdout


def test_an_image_bomb_is_refused_from_its_header(assets, tmp_path, capsys):
    """A 60000 x 60000 PNG (about 11 GB decoded) is skipped before decoding, naming max_pixels;
    the other photo is written."""
    photos = tmp_path / "photos"
    write_image(photos / "a.png", put_mask(face(60, 44), mask_region(60, 44)))
    bomb = png_bomb(photos / "bomb.png", 60000, 60000)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ImageReadError, match="60000x60000 is 3600 megapixels, more than max_pixels"):
        load_image(bomb)
    out = tmp_path / "out"
    code, stdout, err = run_cli(infer_jpgs, ["--input", str(photos), *common(assets, out), "--ext", "png"],
                                capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["results2_a.png"]
    assert "skipped 1" in stdout and "max_pixels" in stdout
    # The limit is a setting: under it the same header passes the check (and the decoder then
    # finds the truncated pixel data).
    with pytest.raises(ImageReadError, match="not a readable image|cannot decode"):
        load_image(png_bomb(tmp_path / "small.png", 64, 64), max_pixels=10_000)


def test_an_image_bomb_as_the_whole_input_is_refused_in_one_line(assets, tmp_path, capsys):
    """Given alone, the bomb is the whole input: infer_jpgs.py stops with one ``error:`` line
    (exit status 2) naming max_pixels, having decoded nothing and written nothing."""
    bomb = png_bomb(tmp_path / "bomb.png", 60000, 60000)
    out = tmp_path / "out"
    code, stdout, err = run_cli(infer_jpgs, ["--input", str(bomb), *common(assets, out)], capsys)
    assert code == 2
    assert err.splitlines() == [f"error: {bomb}: 60000x60000 is 3600 megapixels, more than "
                                "max_pixels=100000000 (raise max_pixels to read it)"], err
    assert not out.exists() or not any(out.iterdir())


def test_single_non_square_image_full_resolution(assets, tmp_path, capsys):
    """Processed at 32x32, written at 97x150; outside the predicted mask every byte is the input's."""
    h, w = 97, 150
    photo = put_mask(face(h, w), mask_region(h, w))
    path = tmp_path / "portrait.png"
    write_image(path, photo)
    out = tmp_path / "out"
    code, stdout, err = run_cli(infer_jpgs, ["--input", str(path), *common(assets, out),
                                             "--ext", "png", "--save-masks"], capsys)
    assert code == 0, err
    result = load_image(out / "results2_portrait.png")
    mask = load_mask(out / "masks" / "portrait_mask.png")
    assert result.shape == (h, w, 3) and mask.shape == (h, w)
    assert 0.05 < mask.mean() < 0.9  # a real mask: some pixels in, most out
    assert np.array_equal(result[~mask], photo[~mask])
    assert not np.array_equal(result[mask], photo[mask])  # the generator painted inside

    out2 = tmp_path / "panel"
    code, _, err = run_cli(infer, ["--input", str(path), *common(assets, out2)], capsys)
    assert code == 0, err
    assert load_image(out2 / "results_portrait.png").shape == (h, 3 * w + 2 * PANEL_GAP, 3)


def test_video_keeps_frames_fps_and_audio(assets, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(infer_jpgs, ["--input", str(assets["video"]), *common(assets, out),
                                             "--batch-size", "2", "--save-masks"], capsys)
    assert code == 0, err
    video = out / "clip_reconstructed.mp4"
    source, result = probe(assets["video"]), probe(video)
    assert count_frames(video) == count_frames(assets["video"]) == 5
    assert result.fps == source.fps and result.size == source.size == (64, 48)
    assert result.audio_codec is not None
    assert len(list((out / "masks").glob("clip_*_mask.png"))) == 5
    assert sorted(p.name for p in out.iterdir()) == ["clip_reconstructed.mp4", "masks"]

    out2 = tmp_path / "out2"
    code, stdout, err = run_cli(infer, ["--input", str(assets["video"]), *common(assets, out2)], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(open(out2 / "metrics.csv")))
    assert [r["name"] for r in rows] == [f"clip_{i:06d}" for i in range(5)]
    assert count_frames(out2 / "clip_reconstructed.mp4") == 5


@pytest.mark.skipif(not CELEBA30.is_dir(), reason="celeba30 fixture not available")
def test_real_celeba_faces_with_jpeg_masks(assets, tmp_path, capsys):
    """The published CelebA layout through config keys, JPEG binary masks, real faces for dlib."""
    root = tmp_path / "celeba"
    for folder, suffix, ext in (("celeba512_30k", "", "jpg"), ("celeba512_30k_masked", "_masked", "jpg"),
                                ("celeba512_30k_binary", "_binary", "jpg")):
        (root / folder).mkdir(parents=True)
        for name in ("000001", "000002"):
            src = CELEBA30 / folder / f"{name}{suffix}.{ext}"
            (root / folder / src.name).write_bytes(src.read_bytes())
    out = tmp_path / "out"
    argv = ["--input", str(root), "--out", str(out), f"checkpoint_path={assets['weights']}",
            f"img_size={IMG}", "device=cpu", "image_dir=celeba512_30k",
            "masked_dir=celeba512_30k_masked", "binary_dir=celeba512_30k_binary"]
    code, stdout, err = run_cli(infer, argv, capsys)
    assert code == 0, err
    rows = {r["name"]: r for r in csv.DictReader(open(out / "metrics.csv"))}
    assert set(rows) == {"000001", "000002"}
    for row in rows.values():
        assert row["seg_dice"] != "" and row["ssim_mask"] != ""
        # dlib finds these faces, so the identity distance is a number
        assert float(row["identity_distance"]) >= 0
    assert load_image(out / "results_000001.png").shape == (512, 4 * 512 + 3 * PANEL_GAP, 3)


# --- bad input ---------------------------------------------------------------------------

def error_line(module, argv, capsys) -> str:
    code, stdout, err = run_cli(module, argv, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_no_weights_names_folder_and_train_command(assets, tmp_path, capsys):
    empty = tmp_path / "no_weights"
    empty.mkdir()
    line = error_line(infer, ["--input", str(assets["root"]), "--out", str(tmp_path / "o"),
                              f"checkpoint_path={empty}"], capsys)
    assert str(empty) in line and "python3 train.py segm" in line


def test_wrong_kind_and_wrong_architecture(assets, tmp_path, capsys):
    base = ["--input", str(assets["root"]), "--out", str(tmp_path / "o"),
            f"checkpoint_path={assets['weights']}"]
    recon = assets["recon"]
    line = error_line(infer, [*base, "--segm-weights", str(recon)], capsys)
    assert "reconstruction checkpoint" in line and "--segm-weights" in line
    # a generator's state dict saved bare, as the published code did, given as segmenter
    bare = tmp_path / "bare.pth"
    save_checkpoint(bare, torch.load(recon, weights_only=True)["G"])
    line = error_line(infer_jpgs, [*base, "--segm-weights", str(bare)], capsys)
    assert "does not fit the segmentation model" in line
    damaged = tmp_path / "model_9_9.pth"
    damaged.write_bytes(b"not a checkpoint")
    line = error_line(infer_jpgs, [*base, "--recon-weights", str(damaged)], capsys)
    assert "cannot be read" in line


def test_empty_input_missing_input_bad_single_image_or_video(assets, tmp_path, capsys):
    base = ["--out", str(tmp_path / "o"), f"checkpoint_path={assets['weights']}"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no images in" in error_line(infer, ["--input", str(empty), *base], capsys)
    assert "input not found" in error_line(infer, ["--input", str(tmp_path / "nope"), *base], capsys)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    assert "bad.png" in error_line(infer_jpgs, ["--input", str(bad), *base], capsys)
    fake_video = tmp_path / "clip.mp4"
    fake_video.write_bytes(b"not a video at all")
    assert "not a readable video" in error_line(infer, ["--input", str(fake_video), *base], capsys)


def test_unwritable_output_fails_before_any_work(assets, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    line = error_line(infer, ["--input", str(tmp_path / "does_not_matter"),
                              "--out", str(blocker / "results"),
                              f"checkpoint_path={tmp_path / 'no_weights'}"], capsys)
    # the output folder is checked first: no complaint about the missing input or weights
    assert "not writable" in line and str(blocker / "results") in line


def test_val_anns_limits_a_dataset_root_to_its_held_out_split(tmp_path):
    """``val_anns`` on a prepared root: only the names in that CSV are processed."""
    from configs import load_config
    from inference.inputs import open_input

    root = tmp_path / "root"
    names = make_dataset(root, count=4)
    (root / "annotations").mkdir()
    (root / "annotations" / "val.csv").write_text(
        "".join(f"{i},image_masked\\{n}_masked.png,image_binary\\{n}_binary.png\r\n"
                for i, n in enumerate(names[1:3])))
    everything = open_input(root, load_config("predict"))
    held_out = open_input(root, load_config("predict", [f"val_anns={root}/annotations/val.csv"]))
    assert everything.count == 4
    assert [item.name for item in held_out] == names[1:3]


def test_your_own_masks_by_name_or_one_for_all(assets, tmp_path, capsys):
    """--masks DIR: each image's mask by name, used as given (resized when only its scale
    differs); a mask of another shape, a text file named .png and an all-black mask each refuse
    their image in one line while the others are written, unchanged outside the mask.
    --masks FILE: one mask for every image of a folder and every frame of a video."""
    h, w = 60, 44
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    region = mask_region(h, w)
    for name in ("a", "b", "c", "d", "e"):
        write_image(photos / f"{name}.png", put_mask(face(h, w, shift=len(name)), region))
    white = (region * 255).astype(np.uint8)
    write_image(masks / "a.png", np.dstack([white] * 3))
    write_image(masks / "b_mask.png", np.dstack([white[::2, ::2]] * 3))  # half the scale
    write_image(masks / "c.png", np.zeros((h, 2 * w, 3), np.uint8) + 255)  # another shape
    (masks / "d.png").write_text("not a mask")
    write_image(masks / "e.png", np.zeros((h, w, 3), np.uint8))  # all black
    out = tmp_path / "out"
    argv = ["--input", str(photos), "--masks", str(masks), *common(assets, out), "--ext", "png",
            "--save-masks"]
    code, stdout, err = run_cli(infer_jpgs, argv, capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.glob("results2_*")) == ["results2_a.png", "results2_b.png"]
    assert "skipped 3" in stdout and "does not match" in stdout and "all-black" in stdout
    half = cv2.resize(white[::2, ::2], (w, h), interpolation=cv2.INTER_NEAREST) > 127
    for name, expected in (("a", region), ("b", half)):
        used = load_mask(out / "masks" / f"{name}_mask.png")
        assert np.array_equal(used, expected), name  # the mask as given, not the segmenter's
        result, given = load_image(out / f"results2_{name}.png"), load_image(photos / f"{name}.png")
        assert np.array_equal(result[~used], given[~used])
        assert np.abs(result[used].astype(int) - given[used].astype(int)).mean() > 5

    one = masks / "a.png"
    video = make_video(tmp_path / "clip.mp4", frames=4, size=(h, w), audio=False)
    for source in (photos, video):
        target = tmp_path / f"one_{source.stem}"
        code, stdout, err = run_cli(infer_jpgs, ["--input", str(source), "--masks", str(one),
                                                 *common(assets, target), "--ext", "png"], capsys)
        assert code == 0, err
    assert len(list((tmp_path / "one_photos").glob("results2_*"))) == 5
    assert count_frames(tmp_path / "one_clip" / "clip_reconstructed.mp4") == 4
