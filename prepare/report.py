"""What happened to each input of a preparation run: one ``ItemResult`` per input, written
as ``prepare_report.csv``, and the run's one-line summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from core.files import write_csv

REPORT_FIELDS = ("source", "name", "status", "reason", "detail", "faces", "mask_type", "variant",
                 "color", "texture", "split", "outputs")


@dataclass
class ItemResult:
    """What happened to one input; ``status`` is "done", "exists" (finished earlier) or "skipped"."""

    source: str
    name: str
    status: str
    reason: str = ""
    detail: str = ""
    faces: int = 0
    mask_type: str = ""
    variant: str = ""
    color: str = ""
    texture: str = ""
    split: str = ""
    outputs: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict:
        return {f: getattr(self, f) for f in REPORT_FIELDS}


@dataclass
class PrepareSummary:
    """The outcome of a run: one ``ItemResult`` per input, the report path, notices."""

    root: Path
    results: list[ItemResult]
    report: Path
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def skipped(self) -> Counter:
        return Counter(r.reason for r in self.results if r.status == "skipped")

    def timing(self) -> dict[str, float]:
        """Seconds per stage summed over inputs: read (decode), detect (face detection),
        landmarks, draw (crop, resize and mask), write (PNG encoding and files)."""
        total: Counter = Counter()
        for r in self.results:
            total.update(r.timings)
        return dict(total)

    def line(self) -> str:
        skipped = self.skipped
        reasons = ", ".join(f"{k} {v}" for k, v in skipped.most_common())
        return (f"prepared {self.count('done')}, already done {self.count('exists')}, "
                f"skipped {sum(skipped.values())}" + (f" ({reasons})" if reasons else "")
                + f" in {self.seconds:.1f} s -> {self.root} (report: {self.report.name})")


def write_report(path: Path, results: list[ItemResult]) -> None:
    write_csv(path, REPORT_FIELDS, ([r.row()[f] for f in REPORT_FIELDS] for r in results))
