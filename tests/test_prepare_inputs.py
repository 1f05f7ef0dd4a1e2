"""``prepare images`` on a folder of awkward inputs: every bad one is reported, every good one done.

Also: re-runs, --overwrite, --shard, and one-line errors for user mistakes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers_prepare import astronaut
from PIL import Image

from core.images import load_image, load_mask, write_image
from datasets.reconstruction import ReconstructionDataset
from datasets.segmentation import SegmentationDataset
from prepare.command import main
from prepare.example import output_paths
from prepare.options import PrepareOptions
from prepare.run import prepare_images

OPTIONS = PrepareOptions(size=128, progress=False, val_fraction=0.3)

# name -> expected report reason ("" = prepared)
EXPECTED = {
    "gray.png": "", "rgba.png": "", "cmyk.jpg": "", "deep16.png": "", "exif rotated.jpg": "",
    "ästronaut ü 1.jpg": "", "宇航员 face.png": "", "dup.jpg": "", "dup.png": "",
    "notes.txt": "not_image", "empty.png": "empty_file", "truncated.jpg": "unreadable",
    "garbage.jpg": "unreadable", "fake.jpg": "unreadable", "noface.png": "no_face",
    "tiny_face.png": "face_too_small", "tiny_image.png": "image_too_small",
}


def write_bad_inputs(folder: Path) -> None:
    """One file per awkward case in EXPECTED."""
    face = astronaut()
    bgr = cv2.cvtColor(face, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / "rgba.png"), np.dstack([bgr, np.full(face.shape[:2], 200, np.uint8)]))
    Image.fromarray(face).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    cv2.imwrite(str(folder / "deep16.png"), bgr.astype(np.uint16) * 257)
    # Pixels stored lying on their side; the EXIF tag (6: rotate 90 clockwise) stands them up.
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(face)))
    exif = sideways.getexif()
    exif[0x0112] = 6
    sideways.save(folder / "exif rotated.jpg", exif=exif, quality=95)
    Image.fromarray(face).save(folder / "ästronaut ü 1.jpg", quality=95)
    Image.fromarray(face).save(folder / "宇航员 face.png")
    Image.fromarray(face).save(folder / "dup.jpg", quality=95)
    Image.fromarray(face).save(folder / "dup.png")
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "empty.png").write_bytes(b"")
    jpeg = (folder / "dup.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)
    (folder / "garbage.jpg").write_bytes(noise.tobytes())
    (folder / "fake.jpg").write_text("this is text with an image extension\n")
    gradient = np.linspace(0, 255, 256 * 256 * 3).reshape(256, 256, 3).astype(np.uint8)
    cv2.imwrite(str(folder / "noface.png"), gradient)
    canvas = np.full((400, 400, 3), 128, np.uint8)
    canvas[72:328, 72:328] = cv2.resize(bgr, (256, 256), interpolation=cv2.INTER_AREA)  # face ~45 px
    cv2.imwrite(str(folder / "tiny_face.png"), canvas)
    cv2.imwrite(str(folder / "tiny_image.png"), cv2.resize(bgr, (48, 48), interpolation=cv2.INTER_AREA))


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    write_bad_inputs(src)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    root = tmp_path_factory.mktemp("out")
    summary = prepare_images(src, root, OPTIONS)
    return src, root, summary, before


def read_report(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {Path(row["source"]).name: row for row in csv.DictReader(f)}


def test_every_bad_input_has_its_reason_and_every_good_one_is_prepared(bad_run):
    src, root, summary, _ = bad_run
    report = read_report(root / "prepare_report.csv")
    assert set(report) == set(EXPECTED), "one report row per input file"
    for name, reason in EXPECTED.items():
        row = report[name]
        if reason:
            assert (row["status"], row["reason"]) == ("skipped", reason), (name, row)
            assert row["detail"], f"{name}: a skip explains itself"
        else:
            assert row["status"] == "done", (name, row)
            assert all(p.is_file() for p in output_paths(root, row["name"])), name
    assert report["truncated.jpg"]["detail"].startswith("truncated JPEG")
    assert {report["dup.jpg"]["name"], report["dup.png"]["name"]} == {"dup_jpg", "dup_png"}
    assert summary.skipped == {"not_image": 1, "empty_file": 1, "unreadable": 3, "no_face": 1,
                               "face_too_small": 1, "image_too_small": 1}


def test_odd_formats_come_out_upright_and_loadable(bad_run):
    _, root, _, _ = bad_run
    upright = load_image(output_paths(root, "ästronaut ü 1")[0]).astype(int)
    rotated = load_image(output_paths(root, "exif rotated")[0]).astype(int)
    assert np.abs(upright - rotated).mean() < 6, "EXIF orientation applied before the crop"
    for gray in (load_image(p) for p in output_paths(root, "gray")[:2]):
        assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2]), \
            "a grayscale photo stays gray, its mask too"
    names = {r.name for r in bad_run[2].results if r.status == "done"}
    assert len(ReconstructionDataset(root, 64)) == len(names) == 9
    train = SegmentationDataset(root, 64, root / "annotations" / "train.csv")
    val = SegmentationDataset(root, 64, root / "annotations" / "val.csv")
    assert len(train) + len(val) == 9 and len(val) >= 1


def test_sources_are_never_modified(bad_run):
    src, _, _, before = bad_run
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_rerun_overwrite_and_shards(bad_run, tmp_path):
    src, root, _, _ = bad_run
    masked = output_paths(root, "gray")[1]
    stamp = masked.stat().st_mtime_ns
    again = prepare_images(src, root, OPTIONS)
    assert again.count("exists") == 9 and again.count("done") == 0
    assert masked.stat().st_mtime_ns == stamp
    assert not list(root.rglob(".*.tmp")), "no temporary files left behind"
    redo = prepare_images(src, root, OPTIONS, overwrite=True)
    assert redo.count("done") == 9 and masked.stat().st_mtime_ns != stamp

    shards = [prepare_images(src, tmp_path, OPTIONS, shard=(i, 2)) for i in range(2)]
    seen = [{Path(r.source).name for r in s.results} for s in shards]
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(EXPECTED)
    assert (tmp_path / "prepare_report_shard1of2.csv").is_file()
    with open(tmp_path / "annotations" / "train.csv") as f, open(tmp_path / "annotations" / "val.csv") as g:
        assert len(f.readlines()) + len(g.readlines()) == 9, "the last shard's CSVs list every example"


def test_user_mistakes_are_one_line_errors(tmp_path, capsys):
    assert main(["images", "--src", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --src folder not found") and "\n" not in err
    (tmp_path / "src").mkdir()
    folders = ["--src", str(tmp_path / "src"), "--out", str(tmp_path / "o")]
    assert main(["images", *folders, "--shard", "3/2"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert main(["images", *folders, "--color", "red"]) == 2
    assert "--color" in capsys.readouterr().err


def test_largest_face_by_default_every_face_with_all_faces(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    small = cv2.resize(astronaut(), (400, 400), interpolation=cv2.INTER_AREA)
    pair = np.full((1000, 1000, 3), 120, np.uint8)
    pair[:512, :512], pair[56:456, 560:960] = astronaut(), small  # faces ~88 px and ~69 px
    cv2.imwrite(str(src / "pair.png"), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))

    one = prepare_images(src, tmp_path / "one", OPTIONS, crop="none", size=1000)
    both = prepare_images(src, tmp_path / "both", OPTIONS, crop="none", size=1000, all_faces=True)
    assert one.results[0].faces == both.results[0].faces == 2
    mask_one = load_mask(output_paths(tmp_path / "one", "pair")[2])
    mask_both = load_mask(output_paths(tmp_path / "both", "pair")[2])
    half = mask_one.shape[1] // 2
    assert mask_one[:, :half].any() and not mask_one[:, half:].any(), "only the largest face"
    assert mask_both[:, :half].any() and mask_both[:, half:].any(), "--all-faces masks both"

    crops = prepare_images(src, tmp_path / "crops", OPTIONS, all_faces=True)
    assert crops.results[0].outputs == 2
    assert all(p.is_file() for p in output_paths(tmp_path / "crops", "pair_face2"))


def test_variants_draw_several_masks_per_photo_in_one_split(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for k in range(4):
        write_image(src / f"p{k}.png", np.ascontiguousarray(astronaut(512)[:, ::(-1) ** k]))
    one = prepare_images(src, tmp_path / "one", OPTIONS, crop="none", mask_type="random", val_fraction=0.5,
                         size=512)
    three = prepare_images(src, tmp_path / "three", OPTIONS, crop="none", mask_type="random",
                           val_fraction=0.5, variants=3, size=512)
    assert one.count("done") == three.count("done") == 4
    for k in range(4):
        names = [f"p{k}", f"p{k}_v2", f"p{k}_v3"]
        masks = [load_mask(output_paths(tmp_path / "three", n)[2]) for n in names]
        assert not np.array_equal(masks[0], masks[1]) or not np.array_equal(masks[1], masks[2])
        # the first variant is what a run without --variants draws
        assert np.array_equal(masks[0], load_mask(output_paths(tmp_path / "one", f"p{k}")[2]))
    annotations = tmp_path / "three" / "annotations"
    splits = {split: (annotations / f"{split}.csv").read_text() for split in ("train", "val")}
    for k in range(4):
        homes = [split for split, text in splits.items() if f"p{k}_masked" in text or f"p{k}_v" in text]
        assert len(homes) == 1, f"p{k}'s variants are in one split"
