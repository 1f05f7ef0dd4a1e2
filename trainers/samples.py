"""Sample grids: a picture of what the models make of a few fixed examples, written during training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from core.images import grid, tensor_to_image, write_image

SAMPLE_ROWS = 4  # examples in a sample grid


def sample_examples(dataset: Dataset) -> list[dict[str, Any]]:
    """The first ``SAMPLE_ROWS`` examples of ``dataset`` that load (the same ones every time)."""
    return [i for i in (dataset[k] for k in range(min(SAMPLE_ROWS, len(dataset)))) if i is not None]


def write_grid(path: Path, columns: list[torch.Tensor]) -> Path:
    """One row per example, one column per tensor (each ``(B,C,H,W)`` in [0,1], C = 1 or 3)."""
    rows = [[tensor_to_image(column[k]) for column in columns] for k in range(len(columns[0]))]
    write_image(path, grid(rows))
    return path
