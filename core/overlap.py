"""Reading ahead and writing behind: a video's decoding and encoding overlap the model loop.

Both run in one background thread each, a few items ahead (or behind) at most, so memory
stays bounded; an error there is raised in the caller's thread at its next call, and
nothing is left running after ``close``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[T], depth: int = 8) -> Iterator[T]:
    """``items``, produced by a background thread up to ``depth`` ahead of the consumer.

    Stopping early (``close``, an exception in the consumer) stops the thread at its next item.
    """
    pending: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                pending.put(item)
            pending.put(_END)
        except BaseException as error:  # raised again in the consumer's thread
            pending.put(_Failure(error))

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = pending.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                pending.get(timeout=0.05)
            except queue.Empty:
                pass


class WriteBehind:
    """Runs ``submit``-ted jobs (writing a frame, an image) in order in a background thread,
    at most ``depth`` waiting. ``close`` waits for all of them; a job that failed makes the
    next ``submit`` or ``close`` raise its error, and no later job runs."""

    def __init__(self, depth: int = 8) -> None:
        self._jobs: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._failed = False
        self._worker = threading.Thread(target=self._work, name="write-behind", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _END:
                return
            if not self._failed:
                try:
                    job()
                except BaseException as error:  # raised again in the caller's thread
                    self._error, self._failed = error, True

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, job: Callable[[], None]) -> None:
        self._raise()
        self._jobs.put(job)

    def close(self) -> None:
        """Wait for every job; raise the first failure."""
        if self._worker.is_alive():
            self._jobs.put(_END)
            self._worker.join()
        self._raise()
