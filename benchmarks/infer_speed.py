"""Inference speed per stage, at 256 and 512 px, on this machine; prints a Markdown table.

    .venv/bin/python benchmarks/infer_speed.py [--sizes 256 512] [--batch 4] [--repeats 5] [--threads N]

The models have the default architectures of ``configs/segm.yaml`` (U-Net, 16 base
channels) and ``configs/facemask.yaml`` (generator, 32 base channels), depth 4, with random
weights (speed does not depend on the values). Each stage is timed separately on the same
batches after one warm-up batch; images/s = batch size / the stage's fastest time over the
batches (the fastest is the least disturbed by other processes on a shared machine).

For comparison, the published pipeline's thresholding (a Python loop over every pixel,
DESIGN.md section 5, item 1) is timed on the same probability map, one image.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.images import write_image  # noqa: E402
from inference.morphology import binarize, clean_mask  # noqa: E402
from inference.pipeline import MaskReconstructor  # noqa: E402
from inference.timing import StageTimer  # noqa: E402
from models import Generator, MaskSegmenter  # noqa: E402


def published_threshold_loop(prob: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The baseline: threshold ``(B,1,H,W)`` probabilities element by element in Python,
    as the published inference did (one tensor read, compare and write per pixel)."""
    out = prob.clone()
    for b, image in enumerate(out):
        for c, channel in enumerate(image):
            for y, row in enumerate(channel):
                for x, value in enumerate(row):
                    out[b, c, y, x] = 1.0 if value >= threshold else 0.0
    return out


def test_images(size: int, count: int) -> list[np.ndarray]:
    """Masked faces at ``size x size``: the astronaut (public domain) with a painted mask."""
    import cv2
    from skimage import data

    base = cv2.resize(data.astronaut()[30:250, 140:330], (size, size), interpolation=cv2.INTER_AREA)
    base[int(size * 0.55):int(size * 0.9), int(size * 0.2):int(size * 0.8)] = (120, 170, 230)
    return [np.roll(base, 3 * i, axis=1) for i in range(count)]


def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds: the least disturbed by other processes."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@torch.inference_mode()
def measure(size: int, batch: int, repeats: int) -> dict[str, float]:
    """Images per second for each stage at ``size`` (best of ``repeats`` batches)."""
    torch.manual_seed(0)
    rec = MaskReconstructor(MaskSegmenter(16, 4).eval(), Generator(32, 4).eval(), size, "cpu")
    images = test_images(size, batch)
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats + 1):
            timer = StageTimer()
            with timer("prepare (resize, to tensor)"):
                x = rec.prepare(images)
            with timer("segmentation U-Net"):
                prob = torch.sigmoid(rec.segmenter(x))
            with timer("threshold + erosion + dilation (vectorised)"):
                mask = clean_mask(prob, **rec.morphology)
            with timer("generator"):
                out = rec.generate(x, mask)
            with timer("paste back at full resolution"):
                results = [rec.paste(im, out[i], mask[i]) for i, im in enumerate(images)]
            with timer("write JPEG"):
                for i, result in enumerate(results):
                    write_image(Path(tmp) / f"{i}.jpg", result.image)
            if rep:  # the first batch warms up (allocations, oneDNN kernels) and is not counted
                for stage, seconds in timer.seconds.items():
                    best[stage] = min(best.get(stage, math.inf), seconds)
    rates = {stage: batch / seconds for stage, seconds in best.items()}
    rates["whole pipeline"] = batch / sum(best.values())
    one = prob[:1]  # one image's probability map, the same for both thresholdings
    looped = published_threshold_loop(one)
    assert torch.equal(looped, binarize(one, 0.5)), "the two thresholdings disagree"
    rates["threshold only, vectorised (1 image)"] = 1 / best_time(lambda: binarize(one, 0.5), 200)
    rates["threshold only, published per-pixel loop (1 image)"] = 1 / best_time(
        lambda: published_threshold_loop(one), 2)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {size: measure(size, args.batch, args.repeats) for size in args.sizes}
    stages = list(next(iter(results.values())))
    print(f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}; batch {args.batch}, best of {args.repeats} batches\n")
    print("| stage | " + " | ".join(f"{s} px (images/s)" for s in args.sizes) + " |")
    print("|---|" + "---:|" * len(args.sizes))
    for stage in stages:
        print(f"| {stage} | " + " | ".join(f"{results[s][stage]:,.2f}" for s in args.sizes) + " |")
    for size in args.sizes:
        r = results[size]
        speedup = (r["threshold only, vectorised (1 image)"]
                   / r["threshold only, published per-pixel loop (1 image)"])
        print(f"\nAt {size} px the vectorised threshold is {speedup:,.0f}x faster than the per-pixel loop.")


if __name__ == "__main__":
    main()
