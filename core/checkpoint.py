"""Checkpoint files: atomic saving, safe loading, finding the newest, loading weights back.

Names (the published ones, one pattern per stage in ``stages``): ``model_segm_{epoch}_{iter}.pth``
for the segmenter and ``model_{epoch}_{iter}.pth`` for the reconstructor (keys ``G``, ``D``,
``D2``), with ``_interrupted`` for a run stopped by Ctrl-C or SIGTERM and ``_best`` for the
best validation score. A training run writes into its own folder under ``checkpoint_path``
(``weights/segm-20261201-093000/``); files directly in ``checkpoint_path`` (the published
layout) are found too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.files import atomic_path
from stages import Stage

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


def list_checkpoints(folder: str | Path, stage: Stage) -> list[Path]:
    """``stage``'s checkpoints directly in ``folder``, oldest to newest by iteration number."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(stage.parse_checkpoint_name(p), p.name, p) for p in folder.iterdir() if p.is_file()]
    return [p for key, _, p in sorted((k[::-1], n, p) for k, n, p in found if k is not None)]


def find_latest(folder: str | Path, stage: Stage) -> Path | None:
    """The checkpoint to use from ``folder``: of the run folders in it (and the folder
    itself), the one whose newest checkpoint was written last; in that run, the checkpoint
    with the highest iteration number (not the newest file time)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    runs = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
    best: tuple[float, Path] | None = None
    for run in runs:
        found = list_checkpoints(run, stage)
        if found:
            written = max(p.stat().st_mtime for p in found)
            if best is None or written > best[0]:
                best = (written, found[-1])
    return None if best is None else best[1]


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically and durably (fsync, rename): a crash leaves the old file intact."""
    with atomic_path(path, durable=True) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint as data (``weights_only=True``: no code runs). One-line errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - damaged bytes make the unpickler raise anything

        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read (truncated, damaged or not a "
                              f"PyTorch file): {reason}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(data).__name__}, not a state dict")
    return data


def is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def model_state(data: dict[str, Any], key: str, path: Path) -> dict[str, torch.Tensor]:
    """The state dict under ``key`` (``model``, ``G``, ...), or the file itself if it is a
    bare state dict, as the published code saved them."""
    if key in data and is_state_dict(data[key]):
        return data[key]
    if is_state_dict(data):
        return data
    kinds = sorted(k for k in data if is_state_dict(data.get(k)))
    raise CheckpointError(f"checkpoint {path} has no '{key}' weights"
                          + (f" (it holds {', '.join(kinds)})" if kinds else ""))


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    """``load_state_dict`` with a one-line message when the architecture does not match."""
    state = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        text = str(err)
        missing = text.count("Missing key")
        shape = "size mismatch" in text
        spec = getattr(model, "spec", {})
        raise CheckpointError(
            f"checkpoint {path} does not fit the {what} "
            f"({'different layer sizes' if shape else 'different layers'}"
            f"{'' if not missing else ', missing keys'}); was it saved with other arch / "
            f"base_channels / depth / audio settings? the model here is "
            + ", ".join(f"{k}={v}" for k, v in spec.items() if k != "kind")) from None
