"""Checkpoint files: atomic saving, safe loading, finding the newest, building models back.

Names (DESIGN.md section 4): ``model_segm_{epoch}_{iter}.pth`` for the segmenter and
``model_{epoch}_{iter}.pth`` for the reconstructor (keys ``G``, ``D``, ``D2``), with an
``_interrupted`` suffix for a run stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT_VERSION = 1
PREFIX = {"segm": "model_segm_", "facemask": "model_"}
_PATTERN = {kind: re.compile(rf"^{re.escape(p)}(\d+)_(\d+)(_interrupted|_best)?\.pth$")
            for kind, p in PREFIX.items()}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


def checkpoint_name(kind: str, epoch: int, iteration: int, suffix: str = "") -> str:
    return f"{PREFIX[kind]}{epoch}_{iteration}{suffix}.pth"


def parse_name(kind: str, path: Path) -> tuple[int, int] | None:
    """``(epoch, iteration)`` from a checkpoint file name of this kind, else None."""
    m = _PATTERN[kind].match(path.name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def list_checkpoints(folder: str | Path, kind: str) -> list[Path]:
    """Checkpoints of ``kind`` in ``folder``, oldest to newest by iteration number."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(parse_name(kind, p), p.name, p) for p in folder.iterdir() if p.is_file()]
    return [p for key, _, p in sorted((k[::-1], n, p) for k, n, p in found if k is not None)]


def find_latest(folder: str | Path, kind: str) -> Path | None:
    """The checkpoint with the highest iteration number (not the newest file time)."""
    found = list_checkpoints(folder, kind)
    return found[-1] if found else None


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically: temp file, flush + fsync, rename. A crash leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


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
