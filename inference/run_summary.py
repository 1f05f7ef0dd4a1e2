"""What one inference run counts as it goes, the summary it ends with (``summary.json``) and
the lines it prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inference.evaluation import RunningMeans, nan_to_none, summary_lines
from inference.inputs import Skipped
from inference.paste import Reconstruction

MAX_LISTED = 1000  # names kept in summary.json per list (a long video has many frames)


class NameList:
    """How many inputs had some property, and the first ``MAX_LISTED`` of their names."""

    def __init__(self) -> None:
        self.count, self.names = 0, []

    def add(self, name: str) -> None:
        self.count += 1
        if len(self.names) < MAX_LISTED:
            self.names.append(name)

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "names": self.names}

    def line(self, what: str, then: str) -> str:
        shown = ", ".join(self.names[:10]) + (", ..." if self.count > 10 else "")
        return f"{what} in {self.count} image(s), {then}: {shown}"


@dataclass
class Tally:
    """The run's counts: processed, skipped, and the images each warning applies to."""

    processed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    no_mask: NameList = field(default_factory=NameList)
    no_face: NameList = field(default_factory=NameList)
    implausible: NameList = field(default_factory=NameList)
    means: RunningMeans = field(default_factory=RunningMeans)  # infer.py's metrics

    def add(self, name: str, result: Reconstruction) -> None:
        self.processed += 1
        if not result.mask_found:
            self.no_mask.add(name)
        if result.faces_found == 0:
            self.no_face.add(name)
        if result.implausible:
            self.implausible.add(name)

    def as_dict(self) -> dict[str, Any]:
        return {"processed": self.processed,
                "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
                "no_mask_found": self.no_mask.as_dict(),
                "no_face_found": self.no_face.as_dict(),
                "implausible_mask_area": self.implausible.as_dict(),
                "metrics": {k: nan_to_none(v.items()) for k, v in self.means.as_dict().items()}}


def timing(seconds: dict[str, float], processed: int, wall: float | None = None) -> dict[str, Any]:
    """``timing_seconds`` and ``images_per_second`` of the summary, from each stage's seconds;
    ``overall`` from ``wall``, the run's wall-clock seconds after loading (opening the outputs to
    closing them), where given, else from the stages' sum."""
    total = sum(seconds.values())
    rate = {k: (processed / v if v > 0 else None) for k, v in seconds.items() if k != "load"}
    work = wall if wall is not None else total - seconds.get("load", 0.0)
    return {"timing_seconds": {k: round(v, 4) for k, v in seconds.items()},
            "images_per_second": {**{k: round(v, 3) for k, v in rate.items() if v is not None},
                                  "overall": round(processed / work, 3) if work > 0 else None}}


def report_lines(tally: Tally, summary: dict[str, Any], faces: str, identity: bool) -> list[str]:
    """The summary as printed: counts, warnings, infer.py's metrics (when ``summary`` has
    them), timing, where the outputs are."""
    lines = [f"processed {tally.processed} image(s) from {summary['input']} ({summary['input_kind']}); "
             f"skipped {len(tally.skipped)}"]
    lines += [f"  skipped {s.name}: {s.reason}" for s in tally.skipped[:20]]
    if len(tally.skipped) > 20:
        lines.append(f"  ... and {len(tally.skipped) - 20} more (see summary.json)")
    if tally.no_face.count:
        then = ("reconstructed whole where about square, else left as they are (faces=none "
                "reconstructs whole images)" if faces == "auto" else "left as they are")
        lines.append(tally.no_face.line("no face found", then))
    if tally.no_mask.count:
        lines.append(tally.no_mask.line("no mask found", "written unchanged"))
    if tally.implausible.count:
        lines.append("warning: " + tally.implausible.line("a mask area unlike a face mask's", "check them"))
    if summary["script"] == "infer.py" and tally.processed:
        lines += summary_lines(tally.means, identity)
    rates = summary["images_per_second"]
    lines.append("timing: " + " | ".join(
        f"{k} {v:.2f} s" + (f" ({rates[k]:.1f} img/s)" if rates.get(k) else "")
        for k, v in summary["timing_seconds"].items())
        + (f" | overall {rates['overall']:.2f} img/s (wall clock, excluding load)"
           if rates.get("overall") else ""))
    lines.append(f"outputs in {summary['outputs']['folder']}/")
    return lines
