"""``prepare images`` on the 30 real CelebA-HQ faces of the shared fixture (skipped without it).

Our surgical masks are compared with the fixture's MaskTheFace masks, drawn by a different
program on the same faces.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_prepare import CELEBA30

from core.images import load_image, load_mask
from datasets.reconstruction import ReconstructionDataset
from datasets.segmentation import SegmentationDataset
from faces.crop import CELEBA_HQ_CENTER_SHIFT, CROP_CENTER_SHIFT, EYE_TO_MOUTH
from faces.detect import PREPARE, find_faces
from prepare.command import main
from prepare.example import output_paths
from prepare.options import PrepareOptions
from prepare.run import prepare_images

pytestmark = pytest.mark.skipif(not (CELEBA30 / "celeba512_30k").is_dir(),
                                reason=f"fixture not found: {CELEBA30}")
SRC = CELEBA30 / "celeba512_30k"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba30")
    summary = prepare_images(SRC, root, PrepareOptions(crop="none", mask_type="surgical", progress=False))
    return root, summary


def test_at_least_29_of_30_faces_masked(prepared):
    _, summary = prepared
    assert len(summary.results) == 30
    assert summary.count("done") >= 29, summary.line()


def test_agrees_with_masktheface_and_covers_nose_and_mouth(prepared):
    root, summary = prepared
    ious, missed = [], []
    for r in summary.results:
        if r.status != "done":
            continue
        ours = load_mask(output_paths(root, r.name)[2])
        theirs = load_mask(CELEBA30 / "celeba512_30k_binary" / f"{r.name}_binary.jpg")
        ious.append((ours & theirs).sum() / (ours | theirs).sum())
        lm = find_faces(load_image(SRC / f"{r.name}.jpg"), PREPARE)[0].landmarks
        for i in (33, 48, 54):
            x, y = np.round(lm[i]).astype(int)
            if not ours[y, x]:
                missed.append((r.name, i))
    print(f"IoU vs MaskTheFace: median {np.median(ious):.3f}, min {min(ious):.3f}, n {len(ious)}")
    assert np.median(ious) >= 0.60
    assert not missed, f"landmarks not covered: {missed}"


def test_clean_images_are_the_sources_and_layout_loads(prepared):
    root, summary = prepared
    done = [r for r in summary.results if r.status == "done"]
    clean = load_image(output_paths(root, done[0].name)[0])
    source = load_image(SRC / f"{done[0].name}.jpg")
    assert np.array_equal(clean, source), "--crop none keeps 512 crops as they are"
    recon = ReconstructionDataset(root, 128)
    train = SegmentationDataset(root, 128, root / "annotations" / "train.csv")
    val = SegmentationDataset(root, 128, root / "annotations" / "val.csv")
    assert len(recon) == len(done) == len(train) + len(val) and len(val) >= 1
    item = recon[0]
    assert item["image"].shape == (3, 128, 128) and item["mask"].shape == (1, 128, 128)
    assert 0.05 < float(item["mask"].mean()) < 0.5
    for r in done:
        clean_path, masked_path, binary_path = output_paths(root, r.name)
        outside = ~load_mask(binary_path)
        assert np.array_equal(load_image(masked_path)[outside], load_image(clean_path)[outside])


def test_rerun_skips_finished_files(prepared):
    root, _ = prepared
    path = output_paths(root, "000001")[1]
    stamp = path.stat().st_mtime_ns
    again = prepare_images(SRC, root, PrepareOptions(crop="none", progress=False))
    assert again.count("exists") >= 29 and again.count("done") == 0
    assert path.stat().st_mtime_ns == stamp


def test_face_crops_frame_faces_like_celeba_hq(tmp_path):
    # Cropping CelebA-HQ images again gives back their scale, and their framing moved up by
    # the difference between our crop centre and CelebA-HQ's (ours sits lower, for the chin).
    summary = prepare_images(SRC, tmp_path, PrepareOptions(crop="face", shard=(0, 10), progress=False))
    assert summary.count("done") == 3
    for r in summary.results:
        before = find_faces(load_image(SRC / f"{r.name}.jpg"), PREPARE)[0].landmarks
        after = find_faces(load_image(output_paths(tmp_path, r.name)[0]), PREPARE)[0].landmarks
        eyes = np.linalg.norm(before[42:48].mean(0) - before[36:42].mean(0))
        up = (CROP_CENTER_SHIFT - CELEBA_HQ_CENTER_SHIFT) * EYE_TO_MOUTH * eyes
        expected = before[36:48].mean(0) - [0, up]
        assert np.abs(expected - after[36:48].mean(0)).max() < 0.06 * 512, r.name
        ratio = np.ptp(after[:, 0]) / np.ptp(before[:, 0])
        assert 0.85 < ratio < 1.15, f"{r.name}: face scale changed by {ratio:.2f}"


def test_small_size_finds_faces_on_the_source_photo(tmp_path):
    # Faces are found and masks drawn on the 512 px photos, then the results resized: at
    # 64 px every face would be under --min-face, and too small for the detector.
    out = tmp_path / "small"
    assert main(["images", "--src", str(SRC), "--out", str(out), "--size", "64", "--crop", "none",
                 "--quiet"]) == 0
    names = sorted(p.stem for p in SRC.glob("*.jpg"))
    assert len(names) == 30
    for name in names:
        clean_path, masked_path, binary_path = output_paths(out, name)
        clean, masked, mask = load_image(clean_path), load_image(masked_path), load_mask(binary_path)
        assert clean.shape == masked.shape == (64, 64, 3) and mask.shape == (64, 64), name
        assert 0.05 < mask.mean() < 0.5, f"{name}: mask covers {mask.mean():.2f} of the face"
        assert np.array_equal(masked[~mask], clean[~mask]), name
        assert np.any(masked[mask] != clean[mask], axis=1).mean() > 0.9, name
