"""``python3 -m prepare crop``: face crops of a dataset that already has its masks."""

from __future__ import annotations

import numpy as np
from synthetic import face_triplets

from core.images import load_image, load_mask
from prepare.command import main
from prepare.example import output_paths
from prepare.run import write_split


def test_crops_keep_masks_aligned_and_the_split(tmp_path):
    src = face_triplets(tmp_path / "src", 4, size=256)
    write_split(src, 0.5, seed=1)
    (src / "image" / "face003.png").write_bytes(b"broken")  # one unreadable example: skipped
    assert main(["crop", "--src", str(src), "--out", str(tmp_path / "out"), "--size", "128", "--quiet"]) == 0
    out = tmp_path / "out"
    done = [n for n in (f"face{i:03d}" for i in range(4)) if all(p.is_file() for p in output_paths(out, n))]
    assert done == ["face000", "face001", "face002"]
    for name in done:
        clean, masked, mask = (output_paths(out, name)[k] for k in range(3))
        clean, masked, mask = load_image(clean), load_image(masked), load_mask(mask)
        assert clean.shape == masked.shape == (128, 128, 3) and mask.shape == (128, 128)
        # the three were cut alike: the masked image differs from the clean one where the mask is
        differs = np.abs(clean.astype(int) - masked.astype(int)).sum(2) > 30
        assert (differs & mask).sum() / mask.sum() > 0.9 and (differs & ~mask).mean() < 0.02
    rows = {split: (out / "annotations" / f"{split}.csv").read_text().split() for split in ("train", "val")}
    assert sum(len(r) for r in rows.values()) == 3
    report = (out / "prepare_report.csv").read_text()
    assert "face003" in report and "unreadable" in report
