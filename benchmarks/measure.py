"""Measuring tools for the benchmarks: best-of timing, peak memory, FLOPs, the matmul limit.

Everything works on the CPU and on CUDA (where timings synchronise the device first).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """The fastest of ``repeats`` calls of ``fn``, in seconds.

    On a machine shared with other jobs the fastest run is the least disturbed one, so it
    is the best estimate of what the code itself costs; warm up before calling this.
    """
    best = math.inf
    for _ in range(max(1, repeats)):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def rss_bytes() -> int:
    """This process's resident memory now (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class PeakMemory:
    """Peak memory while the ``with`` block runs, in MB, in ``self.mb``.

    CUDA: the peak of memory allocated by PyTorch on the device. CPU: the peak resident
    memory of the whole process (models, inputs and Python included), sampled every 2 ms.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mb = float("nan")
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, rss_bytes())

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._peak = rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.mb = torch.cuda.max_memory_allocated(self.device) / 1e6
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.mb = max(self._peak, rss_bytes()) / 1e6


def count_gflops(build: Callable[[], nn.Module], shapes: Sequence[tuple[int, ...]]) -> float:
    """GFLOPs of one forward pass (a multiply-add counts 2) of the model ``build`` returns,
    on inputs of ``shapes``; counted on the meta device, so nothing is computed."""
    with torch.device("meta"):
        model = build()
        inputs = [torch.rand(shape) for shape in shapes]
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(*inputs)
    return counter.get_total_flops() / 1e9


def _product_seconds(a: torch.Tensor, b: torch.Tensor, repeats: int, device: torch.device) -> float:
    a @ b  # warm-up
    return best_seconds(lambda: a @ b, repeats, device)


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32,
                  sizes: Sequence[int] = (1024, 2048, 4096), repeats: int = 5) -> float:
    """The machine's practical limit: the best GFLOP/s of square matrix products (the
    BLAS of this PyTorch build) over ``sizes``, ``2 n**3`` FLOPs each."""
    best = 0.0
    for n in sizes:
        generator = torch.Generator(device=device).manual_seed(0)
        a = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
        b = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
        best = max(best, 2 * n**3 / _product_seconds(a, b, repeats, device) / 1e9)
    return best


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None
