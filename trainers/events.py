"""TensorBoard event files, written only when ``tensorboard`` is installed (optional).

The CSV logs stay the record of a run; the events are the same numbers for people who
watch training in TensorBoard (``tensorboard --logdir weights/tensorboard``). Without the
package nothing is written and nothing is said beyond one debug line.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def tensorboard_writer_factory() -> Callable[..., Any] | None:
    """``torch.utils.tensorboard.SummaryWriter``, or None when tensorboard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's module imports the tensorboard package itself
        return None
    return SummaryWriter


class EventLog:
    """Scalars to ``log_dir`` as TensorBoard events; a no-op without tensorboard.

    The writer opens on the first row, so a run that logs nothing leaves no folder.
    ``purge_step``: on resume, events at or after this iteration are dropped by TensorBoard
    (the CSV rows past the checkpoint are trimmed the same way).
    """

    def __init__(self, log_dir: Path, purge_step: int | None = None,
                 factory: Callable[..., Any] | None = None) -> None:
        self.log_dir = log_dir
        self.purge_step = purge_step
        self._factory = factory if factory is not None else tensorboard_writer_factory()
        self._writer: Any = None
        if self._factory is None:
            log.debug("tensorboard is not installed: no event files (the CSV logs are complete)")

    @property
    def enabled(self) -> bool:
        return self._factory is not None

    def add(self, row: dict[str, Any], group: str) -> None:
        """Every numeric value of ``row`` except the index columns, as ``group/name`` at
        step ``row["iteration"]``."""
        if self._factory is None:
            return
        if self._writer is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = self._factory(log_dir=str(self.log_dir), purge_step=self.purge_step)
        step = int(row["iteration"])
        for name, value in row.items():
            if name in ("iteration", "epoch") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(f"{group}/{name}", float(value), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
