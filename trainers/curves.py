"""Training curves: the run's CSV logs drawn as one PNG, redrawn at every checkpoint save.

``{kind}_log.csv`` (one row per step) gives a panel per loss, the raw values faint and a
moving average on top; ``{kind}_val.csv`` (one row per epoch) a panel per validation
metric. Both are plotted against the iteration. The PNG carries what it was drawn from in
its text metadata (``Rows``: ``steps=N val=M``), so a reader or a test can tell which log
state the picture shows.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from core.files import atomic_path

# Columns that index a row rather than measure anything.
INDEX_COLUMNS = ("iteration", "epoch", "lr")
PANEL_COLUMNS = 4
SMOOTHING = 0.1  # weight of the newest value in the moving average (tqdm's postfix uses the same)


def read_series(path: Path) -> tuple[list[float], dict[str, list[float]]]:
    """Iterations and each numeric column of a log CSV (missing or empty cells are NaN).

    Returns ``([], {})`` for a missing or empty file.
    """
    if not path.is_file():
        return [], {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return [], {}
    steps = [_number(row.get("iteration")) for row in rows]
    columns = [c for c in rows[0] if c not in INDEX_COLUMNS]
    return steps, {c: [_number(row.get(c)) for row in rows] for c in columns}


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def moving_average(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """Exponential moving average that skips NaN (a skipped, non-finite step)."""
    out, running = [], math.nan
    for v in values:
        if not math.isnan(v):
            running = v if math.isnan(running) else (1 - weight) * running + weight * v
        out.append(running)
    return out


def draw_curves(step_log: Path, val_log: Path, png: Path, title: str = "") -> Path | None:
    """Draw ``step_log`` and ``val_log`` (the trainer's CSVs) into ``png``.

    Returns ``png``, or None when neither log has a row yet. Written to a temporary name
    and renamed, so a viewer never sees half a file.
    """
    # Agg through the object API: no display needed, and no global pyplot state touched
    # in a process that may be doing other things.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps, losses = read_series(step_log)
    val_steps, metrics = read_series(val_log)
    panels = [("train", name, steps, values) for name, values in losses.items()]
    panels += [("val", name, val_steps, values) for name, values in metrics.items()]
    if not panels:
        return None
    cols = min(PANEL_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * rows), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    for k, (split, name, xs, ys) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        if split == "train":
            ax.plot(xs, ys, color="tab:blue", alpha=0.25, linewidth=0.8)
            ax.plot(xs, moving_average(ys), color="tab:blue", linewidth=1.5)
        else:
            ax.plot(xs, ys, color="tab:orange", marker="o", markersize=3, linewidth=1.5)
        ax.set_title(f"{split}: {name}", fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", metadata={"Rows": f"steps={len(steps)} val={len(val_steps)}",
                                                 "Title": title or png.stem})
    return png
