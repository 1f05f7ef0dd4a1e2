"""infer.py's numbers: an identity case, a hand-computed Dice, and the legacy image "DICE"."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import torch

from configs import Config
from core.images import write_image
from helpers_infer import (  # noqa: F401 (one_torch_thread: autouse fixture)
    EchoGenerator,
    FixedSegmenter,
    face,
    mask_region,
    one_torch_thread,
    put_mask,
)
from inference.pipeline import MaskReconstructor
from inference.runner import Options, run
from inference.settings import ReconstructorSettings
from metrics import PSNR_CAP_DB, published_image_dice


def write_triplet(root, name, clean, mask, masked=None):
    write_image(root / "image" / f"{name}.png", clean)
    write_image(root / "image_masked" / f"{name}_masked.png",
                put_mask(clean, mask) if masked is None else masked)
    write_image(root / "image_binary" / f"{name}_binary.png", mask.astype(np.uint8) * 255)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def infer_with(reconstructor, root, out_dir, **settings):
    cfg = Config.from_dict({"batch_size": 4, **settings})
    printed = io.StringIO()
    summary = run(cfg, Options(root, out_dir, True, "png", False), reconstructor, out=printed)
    rows = list(csv.DictReader(open(out_dir / "metrics.csv")))
    return summary, rows, printed.getvalue()


def test_identity_case_ssim_one_psnr_capped_same_person(tmp_path):
    """Generator output = ground truth and a perfect segmenter: the reconstruction is the
    ground truth, so SSIM = 1, PSNR = the documented cap, identity distance = 0."""
    size = 192  # large enough for dlib to find the astronaut's face
    clean = face(size, size)
    mask = mask_region(size, size)
    root = tmp_path / "data"
    write_triplet(root, "astronaut", clean, mask)
    rec = MaskReconstructor(FixedSegmenter(torch.from_numpy(mask)[None, None]),
                            EchoGenerator(to_tensor(clean)),
                            ReconstructorSettings(size, erode_kernel=0, dilate_kernel=0))
    summary, rows, printed = infer_with(rec, root, tmp_path / "out", identity=True)
    (row,) = rows
    assert float(row["seg_dice"]) == 1.0 and float(row["seg_pixel_accuracy"]) == 1.0
    for prefix in ("", "gt_mask_"):  # end to end, and the generator alone
        assert float(row[f"{prefix}ssim"]) == pytest.approx(1.0, abs=1e-6)
        assert float(row[f"{prefix}ssim_mask"]) == pytest.approx(1.0, abs=1e-6)
        assert float(row[f"{prefix}psnr"]) == PSNR_CAP_DB
        assert float(row[f"{prefix}psnr_mask"]) == PSNR_CAP_DB
        assert float(row[f"{prefix}identity_distance"]) == pytest.approx(0.0, abs=1e-6)
    assert summary["metrics"]["psnr"]["mean"] == PSNR_CAP_DB
    assert "PSNR 100.00 dB (cap: identical)" in printed
    assert "SSIM:  1.0000" in printed
    # the legacy image "DICE" of a perfect reconstruction is about 0.5, not 1
    assert 0.49 < float(row["legacy_image_dice"]) < 0.51
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["processed"] == 1


def test_printed_segmentation_dice_equals_hand_computation(tmp_path):
    side = 16
    predicted = torch.zeros(3, 1, side, side)
    truth = np.zeros((3, side, side), bool)
    predicted[0, 0, 0:10, 0:10] = 1  # 100 px
    truth[0, 5:15, 0:10] = True  # 100 px, 50 shared: Dice 2*50/200 = 0.5, wrong pixels 100
    # image 1: both empty: Dice 1 by definition, accuracy 1
    predicted[2, 0, 0:4, 0:4] = 1  # 16 px inside
    truth[2, 0:4, 0:8] = True  # 32 px: Dice 2*16/48 = 2/3, wrong pixels 16
    root = tmp_path / "data"
    for i in range(3):
        write_triplet(root, f"im{i}", face(side, side, shift=i), truth[i])
    rec = MaskReconstructor(FixedSegmenter(predicted), EchoGenerator(torch.zeros(3, 3, side, side)),
                            ReconstructorSettings(side, erode_kernel=0, dilate_kernel=0))
    summary, rows, printed = infer_with(rec, root, tmp_path / "out", identity=False)
    dice = [0.5, 1.0, 2 / 3]
    accuracy = [(256 - 100) / 256, 1.0, (256 - 16) / 256]
    assert [float(r["seg_dice"]) for r in rows] == pytest.approx(dice, abs=1e-6)
    assert [float(r["seg_pixel_accuracy"]) for r in rows] == pytest.approx(accuracy, abs=1e-6)
    assert f"segmentation Dice: {sum(dice) / 3:.4f} (n=3)" in printed  # 0.7222
    assert f"segmentation pixel accuracy: {sum(accuracy) / 3:.4f} (n=3)" in printed
    assert summary["metrics"]["seg_dice"]["mean"] == pytest.approx(sum(dice) / 3)
    assert summary["metrics"]["mask_found"] == {"mean": 2 / 3, "count": 3}
    assert "no mask found in 1 image(s), written unchanged: im1" in printed


def test_legacy_image_dice_is_the_published_formula():
    x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]])
    y = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])
    num = 0.2 * 1.0 + 0.4 * 0.0 + 0.6 * 0.5 + 0.8 * 0.5 + 1
    den = (0.04 + 0.16 + 0.36 + 0.64) + (1.0 + 0 + 0.25 + 0.25) + 1
    assert float(published_image_dice(x, y)[0]) == pytest.approx(num / den)
    ones = torch.ones(1, 3, 64, 64)
    assert math.isclose(float(published_image_dice(ones, ones)[0]), (12288 + 1) / (2 * 12288 + 1))


def test_no_mask_found_gives_no_legacy_mask_dice():
    """With an empty predicted mask the published "DICE Mask" formula compares two black images
    and says 1.0; the row says nothing instead (n/a in the summary)."""
    from inference.evaluation import evaluate
    from inference.inputs import Item
    from inference.paste import Reconstruction

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 255, (32, 32, 3), np.uint8)
    masked = truth.copy()
    masked[10:20, 8:24] = 200
    true_mask = np.zeros((32, 32), bool)
    true_mask[10:20, 8:24] = True
    empty = np.zeros((32, 32), bool)
    item = Item("x", masked, truth, true_mask)
    row = evaluate(item, Reconstruction(masked.copy(), empty), identity=False)
    assert math.isnan(row["legacy_image_dice_mask"])
    assert not math.isnan(row["legacy_image_dice"])
    row = evaluate(item, Reconstruction(masked.copy(), true_mask), identity=False)
    assert 0 < row["legacy_image_dice_mask"] < 1
