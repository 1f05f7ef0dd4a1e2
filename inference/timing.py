"""Wall-clock time per pipeline stage (load, read, segmentation, generator, write, ...)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

T = TypeVar("T")


class StageTimer:
    """Accumulates seconds per named stage.

    On CUDA, kernels run asynchronously, so each stage ends with a synchronize: the time
    is then charged to the stage that did the work, not to whichever stage waits next.
    """

    def __init__(self, device: torch.device | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.sync = device is not None and device.type == "cuda"

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.sync:
                torch.cuda.synchronize()
            self.add(stage, time.perf_counter() - start)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def timed_iter(self, items: Iterable[T], stage: str) -> Iterator[T]:
        """Yield from ``items``, charging the time spent producing each one to ``stage``."""
        iterator = iter(items)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(stage, time.perf_counter() - start)
                return
            self.add(stage, time.perf_counter() - start)
            yield item

    @property
    def total(self) -> float:
        return sum(self.seconds.values())
