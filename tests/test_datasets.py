"""Dataset classes and image loading: layouts, odd files, skipping what cannot be read."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import tiny_settings
from synthetic import blob_pairs, face_triplets, write_png

from configs import Config
from core.images import ImageReadError, load_image, load_mask
from datasets.base import collate_skip_broken
from datasets.layout import TRAIN_ANNS, VAL_ANNS, DatasetError, read_annotations, write_annotations
from datasets.reconstruction import ReconstructionDataset
from datasets.segmentation import SegmentationDataset
from trainers import ReconstructionTrainer


def test_csv_with_windows_paths_crlf_and_header(tmp_path, caplog):
    root = blob_pairs(tmp_path / "d", n_train=4, n_val=0, size=32)
    csv_path = root / "annotations" / "train.csv"
    text = csv_path.read_text()
    assert "\\" in text and "\r\n" in csv_path.read_bytes().decode()
    gone = "9,image_masked\\gone_masked.png,image_binary\\gone_binary.png\r\n"
    csv_path.write_text("index,masked,binary\r\n" + text + gone)
    with caplog.at_level(logging.WARNING):
        ds = SegmentationDataset(root, 32, csv_path)
    assert len(ds) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 of 5" in warnings[0] and "gone" in warnings[0]
    item = ds[0]
    assert item["masked"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}


def test_folder_pairs_without_csv(tmp_path):
    root = blob_pairs(tmp_path / "d", n_train=3, n_val=0, size=32)
    assert len(SegmentationDataset(root, 16)) == 3


def test_missing_partners_summarised_once(tmp_path, caplog):
    root = face_triplets(tmp_path / "f", 8, size=32)
    for i in range(6):
        (root / "image_binary" / f"face{i:03d}_binary.png").unlink()
    with caplog.at_level(logging.WARNING):
        ds = ReconstructionDataset(root, 32)
    assert len(ds) == 2
    (msg,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "skipped 6 of 8" in msg and "face000" in msg and "..." in msg


def test_fixture_triplets_with_configured_folder_names(celeba30):
    ds = ReconstructionDataset(celeba30, 64, "celeba512_30k", "celeba512_30k_masked", "celeba512_30k_binary",
                               annotations=celeba30 / "annotations" / "val.csv")
    assert len(ds) == 14
    item = ds[0]
    assert item["image"].shape == item["masked"].shape == (3, 64, 64)
    outside = item["mask"][0] == 0
    # Outside the mask the masked photo is the clean photo (up to JPEG noise).
    assert (item["image"] - item["masked"]).abs().mean(0)[outside].mean() < 0.03


def test_missing_or_empty_dataset_is_one_line(tmp_path):
    with pytest.raises(DatasetError, match=r"dataset root not found: .*nowhere .*-m prepare"):
        ReconstructionDataset(tmp_path / "nowhere", 32)
    for sub in ("image", "image_masked", "image_binary"):
        (tmp_path / "empty" / sub).mkdir(parents=True)
    with pytest.raises(DatasetError, match="is empty"):
        ReconstructionDataset(tmp_path / "empty", 32)


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit", "palette", "tiny", "wide"])
def test_odd_images_load_as_rgb(tmp_path, kind):
    rng = np.random.default_rng(0)
    path = tmp_path / f"{kind}.png"
    if kind == "gray":
        cv2.imwrite(str(path), rng.integers(0, 255, (40, 30), np.uint8))
    elif kind == "rgba":
        cv2.imwrite(str(path), rng.integers(0, 255, (40, 30, 4), np.uint8))
    elif kind == "16bit":
        cv2.imwrite(str(path), rng.integers(0, 65535, (40, 30, 3), np.uint16))
    elif kind == "palette":
        from PIL import Image
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), np.uint8)).convert("P").save(path)
    elif kind == "tiny":
        cv2.imwrite(str(path), rng.integers(0, 255, (10, 10, 3), np.uint8))
    else:
        cv2.imwrite(str(path), rng.integers(0, 255, (20, 300, 3), np.uint8))
    img = load_image(path)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_jpeg_mask_binarised_at_127(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    noisy = np.clip(mask.astype(int) + np.random.default_rng(0).integers(-40, 40, mask.shape), 0, 255)
    path = tmp_path / "m_binary.jpg"
    cv2.imwrite(str(path), noisy.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 60])
    loaded = load_mask(path)
    assert loaded.sum() == pytest.approx(32 * 32, rel=0.03)
    assert loaded[:8].sum() == 0  # JPEG noise near 0 is not mask (published code used > 0)


def test_damaged_files_give_one_line_errors(tmp_path):
    good = tmp_path / "good.jpg"
    cv2.imwrite(str(good), np.full((32, 32, 3), 128, np.uint8))
    cases = {"empty.png": b"", "text.jpg": b"this is not an image",
             "cut.jpg": good.read_bytes()[: len(good.read_bytes()) // 2]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageReadError) as err:
            load_image(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "absent.png")


def test_corrupt_image_is_skipped_and_training_continues(tmp_path, caplog):
    root = face_triplets(tmp_path / "f", 5, size=32)
    (root / "image_masked" / "face002_masked.png").write_bytes(b"\x89PNG broken")
    ds = ReconstructionDataset(root, 32)
    with caplog.at_level(logging.WARNING):
        items = [ds[i] for i in range(len(ds))]
        batch = collate_skip_broken(items)
    assert items[2] is None and batch["image"].shape[0] == 4
    assert "face002" in caplog.text
    cfg = Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=32,
                                         depth=2, batch_size=5, num_epochs=2))
    trainer = ReconstructionTrainer(cfg)
    trainer.fit()
    assert trainer.iteration == 2
    assert torch.isfinite(next(trainer.models["G"].parameters())).all()


def test_write_png_helper_roundtrip(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (8, 8, 3), np.uint8)
    write_png(tmp_path / "x.png", img)
    assert np.array_equal(load_image(tmp_path / "x.png"), img)


def test_annotations_name_the_same_files_however_their_paths_are_given(tmp_path, monkeypatch):
    """A root given relative to the working folder (as ``make demo`` does), its files named
    through it, relative to the root or absolutely: the CSV rows are relative to the root and
    read back to the files written."""
    monkeypatch.chdir(tmp_path)
    root = Path("data") / "root"
    names = []
    for k in range(3):
        masked = root / "image_masked" / f"f{k}_masked.png"
        binary = root / "image_binary" / f"f{k}_binary.png"
        for path in (masked, binary):
            write_png(path, np.zeros((8, 8, 3), np.uint8))
        names.append((masked, binary))
    given = [("train", *names[0]),  # relative to the working folder, inside the root
             ("train", names[1][0].relative_to(root), names[1][1].relative_to(root)),  # relative to the root
             ("val", names[2][0].absolute(), names[2][1].absolute())]
    assert write_annotations(root, given) == {"train": 2, "val": 1}
    rows = (root / TRAIN_ANNS).read_text().splitlines()
    assert rows[0] == "0,image_masked/f0_masked.png,image_binary/f0_binary.png"
    train = read_annotations(root / TRAIN_ANNS, root)
    val = read_annotations(root / VAL_ANNS, root)
    assert [s.masked.name for s in train] == ["f0_masked.png", "f1_masked.png"]
    assert [s.masked.name for s in val] == ["f2_masked.png"]
    assert all(s.masked.is_file() and s.mask.is_file() for s in train + val)
