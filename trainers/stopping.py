"""Stopping a run gracefully: Ctrl-C or SIGTERM asks the loop to stop after the current step."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StopRequest:
    """Set by the first Ctrl-C / SIGTERM while ``listening``; a second Ctrl-C aborts at once."""

    def __init__(self, tell: Callable[[str], None]) -> None:
        self.requested = False
        self.tell = tell  # prints a line for the user

    def _request(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        self.tell(f"\n{signal.Signals(signum).name} received: stopping after this step "
                  "(press Ctrl-C again to abort without saving)")

    @contextmanager
    def listening(self) -> Iterator[None]:
        """The signal handlers installed inside, the previous ones back after."""
        try:
            old = {s: signal.signal(s, self._request) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: no signal handling
            old = {}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
