"""A training run's record: per-step losses and per-epoch validation metrics as CSV files,
the curves PNG drawn from them, and the same numbers as TensorBoard events.

In the run folder: ``{stage}_log.csv`` (one row per step), ``{stage}_val.csv`` (one row
per validation), ``{stage}_curves.png`` and ``tensorboard/``. Only the process that
writes (rank 0 under torchrun) has an enabled log.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

from core.files import write_csv
from trainers.curves import draw_curves
from trainers.events import EventLog

log = logging.getLogger(__name__)


def _cell(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


class CsvLog:
    """Rows appended to a CSV file whose header is read once and kept in memory.

    A row with a column the header lacks (a loss that appears later in a run) rewrites
    the file once with the wider header; missing cells stay empty.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fields: list[str] = []
        if path.is_file() and path.stat().st_size:
            with open(path, newline="") as f:
                self.fields = next(csv.reader(f), [])

    def append(self, row: dict[str, Any]) -> None:
        new = [k for k in row if k not in self.fields]
        if new and self.fields:
            self._rewrite(self.fields + new, self.rows())
        elif new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_csv(self.path, new, [])
            self.fields = new
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields, lineterminator="\n").writerow(
                {k: _cell(v) for k, v in row.items()})

    def rows(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def keep_until(self, iteration: int) -> None:
        """Drop rows after ``iteration`` (written after the checkpoint a run resumes from)."""
        if self.fields:
            self._rewrite(self.fields, [r for r in self.rows() if int(r["iteration"]) <= iteration])

    def _rewrite(self, fields: list[str], rows: list[dict[str, str]]) -> None:
        write_csv(self.path, fields, ([r.get(k, "") for k in fields] for r in rows))
        self.fields = fields


class RunLog:
    """The CSV logs, curves and TensorBoard events of one stage's run in ``folder``."""

    def __init__(self, folder: Path, stage: str, enabled: bool = True) -> None:
        self.enabled = enabled
        self.steps = CsvLog(folder / f"{stage}_log.csv")
        self.val = CsvLog(folder / f"{stage}_val.csv")
        self.curves = folder / f"{stage}_curves.png"
        self.events = EventLog(folder / "tensorboard")

    def step(self, row: dict[str, Any]) -> None:
        """One training step: ``iteration``, ``epoch``, ``lr`` and the losses."""
        if self.enabled:
            self.steps.append(row)
            self.events.add(row, "train")

    def validation(self, row: dict[str, Any]) -> None:
        """One validation: ``iteration``, ``epoch`` and the metrics."""
        if self.enabled:
            self.val.append(row)
            self.events.add(row, "val")

    def resume_at(self, iteration: int) -> None:
        """Continue a stopped run: forget what it logged after ``iteration``."""
        if self.enabled:
            self.steps.keep_until(iteration)
            self.val.keep_until(iteration)
        self.events.purge_step = iteration + 1  # TensorBoard drops the stopped run's later steps

    def draw(self, title: str) -> Path | None:
        """Redraw the curves PNG from both logs (and flush the events)."""
        if not self.enabled:
            return None
        self.events.flush()
        try:
            return draw_curves(self.steps.path, self.val.path, self.curves, title=title)
        except Exception as err:  # a picture must never cost a training run
            log.warning("could not draw the training curves %s: %s", self.curves, err)
            return None

    def close(self) -> None:
        self.events.close()
