"""Face crops of a dataset that already has its masks: ``python3 -m prepare crop``.

For data whose masks were drawn elsewhere (the published CelebA sample and "Dataset1"
video frames, with MaskTheFace masks), where the face is a small part of each frame: the
face is found in each clean image, and the clean image, the masked image and the mask are
all cut to the same square (``faces.crop.Region.around``, the crop inference uses) and resized,
so a model trained on the result sees faces as inference shows them. The split
(``annotations/``) is carried over by name; examples without a face are skipped and
reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.images import ImageReadError, load_image, load_mask, resize_mask, write_image
from datasets.layout import (
    TRAIN_ANNS,
    VAL_ANNS,
    DatasetError,
    Sample,
    read_annotations,
    resolve_annotations,
    triplets,
    with_clean_images,
    write_annotations,
)
from faces.crop import Region
from faces.detect import PREPARE, find_faces
from prepare.example import output_paths
from prepare.options import PrepareError
from prepare.report import ItemResult, PrepareSummary, write_report


def _splits(root: Path, image_dir: str, masked_dir: str, binary_dir: str) -> dict[str, list[Sample]]:
    """The dataset's examples by split name ("all" when it has no annotation CSVs)."""
    found = {}
    for split, default in (("train", TRAIN_ANNS), ("val", VAL_ANNS)):
        csv_path = resolve_annotations(root, default, f"{split}_anns", default)
        if csv_path is not None:
            found[split] = with_clean_images(read_annotations(csv_path, root), root, image_dir)
    return found or {"all": triplets(root, image_dir, masked_dir, binary_dir)}


def crop_dataset(src: str | Path, out: str | Path, size: int = 512, image_dir: str = "image",
                 masked_dir: str = "image_masked", binary_dir: str = "image_binary",
                 progress: bool = True) -> PrepareSummary:
    """Cut every example of the dataset ``src`` to its face crop, into the root ``out``."""
    start = time.perf_counter()
    src, root = Path(src), Path(out)
    if root.resolve() == src.resolve():
        raise PrepareError("--out must not be the --src dataset")
    try:
        splits = _splits(src, image_dir, masked_dir, binary_dir)
    except DatasetError as err:
        raise PrepareError(str(err)) from None
    results, examples = [], []
    samples = [(split, s) for split, items in splits.items() for s in items]
    bar = tqdm(samples, desc="face crops", unit="img", disable=not progress, dynamic_ncols=True)
    for split, sample in bar:
        result = ItemResult(str(sample.masked), sample.name, "skipped", split=split)
        results.append(result)
        try:
            clean, masked, mask = load_image(sample.image), load_image(sample.masked), load_mask(sample.mask)
        except ImageReadError as err:
            result.reason, result.detail = "unreadable", str(err)
            continue
        faces = find_faces(clean, PREPARE)
        result.faces = len(faces)
        if not faces:
            result.reason, result.detail = "no_face", "no face found in the clean image"
            continue
        region = Region.around(faces[0])
        paths = output_paths(root, sample.name)
        write_image(paths[0], region.cut(clean, size))
        write_image(paths[2], resize_mask(region.pixels(mask), size).astype(np.uint8) * 255)
        write_image(paths[1], region.cut(masked, size))  # last: marks done
        result.status, result.outputs = "done", 1
        examples.append(("val" if split == "val" else "train", *paths[1:]))
    write_annotations(root, examples)
    report = root / "prepare_report.csv"
    write_report(report, results)
    return PrepareSummary(root, results, report, seconds=time.perf_counter() - start)
