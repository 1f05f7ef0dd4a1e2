"""FLOPs and CPU forward time of the generator in both topologies (run by hand).

    python3 benchmarks/model_cost.py [--sizes 256 512] [--repeats 3]

FLOPs are counted with ``torch.utils.flop_counter`` (a multiply-add counts 2); times are the
median of ``--repeats`` batch-1 forward passes under ``torch.inference_mode`` on this
machine's CPU, after one warm-up pass. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import Generator  # noqa: E402


def count_gflops(model: torch.nn.Module, size: int) -> float:
    with torch.device("meta"):
        meta = Generator(**{k: v for k, v in model.spec.items() if k != "kind"})
        x, m = torch.rand(1, 3, size, size), torch.rand(1, 1, size, size)
        with FlopCounterMode(display=False) as counter:
            meta(x, m)
    return counter.get_total_flops() / 1e9


@torch.inference_mode()
def forward_seconds(model: torch.nn.Module, size: int, repeats: int) -> float:
    x, m = torch.rand(1, 3, size, size), (torch.rand(1, 1, size, size) > 0.5).float()
    model(x, m)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x, m)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--base-channels", type=int, default=32)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n")
    print("| topology | size | GFLOPs | forward (s) | GFLOP/s |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        for arch in ("unet", "flat"):
            model = Generator(base_channels=args.base_channels, arch=arch).eval()
            gflops = count_gflops(model, size)
            seconds = forward_seconds(model, size, 1 if arch == "flat" and size >= 512 else args.repeats)
            print(f"| {arch} | {size} | {gflops:,.0f} | {seconds:.2f} | {gflops / seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
