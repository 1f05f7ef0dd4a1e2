"""Speed of ``prepare images`` on this machine, and where the time goes (run by hand).

    python3 benchmarks/prepare_speed.py                      # the 30 CelebA-HQ fixture faces
    python3 benchmarks/prepare_speed.py --src DIR --crop face --passes 1

Runs ``prepare_images`` with ``--overwrite`` into a temporary folder ``--passes`` times and
prints images per second (wall clock, everything included: decode, detection,
landmarks, drawing, PNG writing) and the share of the per-image time in each stage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from prepare.options import PrepareOptions
from prepare.run import prepare_images

FIXTURE = REPO.parent / "shared" / "fixtures" / "celeba30" / "celeba512_30k"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=FIXTURE, help="folder of face photos")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--crop", default="none", choices=["face", "none"])
    parser.add_argument("--mask-type", default="surgical")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--passes", type=int, default=3, help="times over the folder (more = steadier)")
    args = parser.parse_args()
    if not args.src.is_dir():
        print(f"error: --src folder not found: {args.src}", file=sys.stderr)
        return 2

    options = PrepareOptions(size=args.size, crop=args.crop, mask_type=args.mask_type, workers=args.workers,
                             overwrite=True, progress=False)
    with tempfile.TemporaryDirectory() as out:
        prepare_images(args.src, out, options, shard=(0, len(os.listdir(args.src))))  # warm-up: load models
        stages: Counter = Counter()
        done = 0
        start = time.perf_counter()
        for _ in range(args.passes):
            summary = prepare_images(args.src, out, options)
            done += summary.count("done")
            stages.update(summary.timing())
        wall = time.perf_counter() - start
    busy = sum(stages.values())
    shares = ", ".join(f"{k} {100 * v / busy:.0f}%" for k, v in stages.most_common())
    print(f"prepare images --size {args.size} --crop {args.crop} --mask-type {args.mask_type} "
          f"--workers {args.workers}: {done} images in {wall:.1f} s = {done / wall:.1f} images/s "
          f"({os.cpu_count()} CPUs)")
    print(f"time per image by stage: {shares}; face detection {100 * stages['detect'] / busy:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
