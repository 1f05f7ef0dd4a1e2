"""Training checkpoints (``.pth``): their layout, writing, reading, finding the newest.

Names (the published ones, one pattern per stage in ``stages``): ``model_segm_{epoch}_{iter}.pth``
for the segmenter and ``model_{epoch}_{iter}.pth`` for the reconstructor (networks ``G``,
``D``, ``D2``), with ``_interrupted`` for a run stopped by Ctrl-C or SIGTERM and ``_best`` for
the best validation score. A training run writes into its own folder under ``checkpoint_path``
(``weights/segm-20261201-093000/``); files directly in ``checkpoint_path`` (the published
layout) are found too.

A file is a dict: the records named by ``CheckpointKeys`` and each network's state dict under
the network's own name. Published files are bare state dicts, read as one network's weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.files import atomic_path
from stages import Stage

FORMAT_VERSION = 1


class CheckpointKeys:
    """The names a checkpoint records its parts under: the writer and every reader use these."""

    format_version = "format_version"
    kind = "kind"  # the stage's name
    specs = "specs"  # network name -> its constructor arguments (``models.build_model``)
    iteration = "iteration"
    epoch = "epoch"
    batch_in_epoch = "batch_in_epoch"  # batches of ``epoch`` already consumed
    optimizers = "optimizers"
    schedulers = "schedulers"
    rng = "rng"
    rng_torch = "torch"  # in ``rng``: torch's CPU generator state
    best_value = "best_value"
    config = "config"
    data = "data"  # what the model saw, for a model card (the counts are lost with the data)
    train_examples = "train_examples"
    val_examples = "val_examples"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


@dataclass
class TrainingState:
    """Where a run stands: what a checkpoint holds besides the weights, and resuming restores."""

    iteration: int
    epoch: int
    batch_in_epoch: int
    best_value: float | None
    optimizers: dict[str, Any]  # name -> ``state_dict()``
    schedulers: dict[str, Any]
    rng: torch.Tensor  # ``torch.get_rng_state()``


def write_checkpoint(path: str | Path, kind: str, models: dict[str, nn.Module], state: TrainingState,
                     config: dict[str, Any], examples: tuple[int | None, int | None]) -> Path:
    """Save a training checkpoint atomically and durably; ``examples``: (training, validation) counts."""
    K = CheckpointKeys
    payload: dict[str, Any] = {
        K.format_version: FORMAT_VERSION, K.kind: kind,
        K.specs: {name: dict(getattr(m, "spec", {})) for name, m in models.items()},
        K.iteration: state.iteration, K.epoch: state.epoch, K.batch_in_epoch: state.batch_in_epoch,
        K.optimizers: state.optimizers, K.schedulers: state.schedulers,
        K.rng: {K.rng_torch: state.rng}, K.best_value: state.best_value, K.config: config,
        K.data: {K.train_examples: examples[0], K.val_examples: examples[1]},
    }
    payload.update({name: model.state_dict() for name, model in models.items()})
    return save_checkpoint(path, payload)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically and durably (fsync, rename): a crash leaves the old file intact."""
    with atomic_path(path, durable=True) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint as data (``weights_only=True``: no code runs). One-line errors, also
    for a file written in a newer format than this code reads."""
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
    version = data.get(CheckpointKeys.format_version, 0)
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {version}; this code reads up to "
                              f"{FORMAT_VERSION}: update the code")
    return data


class Checkpoint:
    """A checkpoint read back (``Checkpoint.read``): its records, typed, and its weights."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def read(cls, path: str | Path) -> Checkpoint:
        return cls(Path(path), load_checkpoint(path))

    def _dict(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        return value if isinstance(value, dict) else {}

    @property
    def kind(self) -> str | None:
        """The stage's name (None in a published bare state dict)."""
        return self.data.get(CheckpointKeys.kind)

    @property
    def specs(self) -> dict[str, Any]:
        return self._dict(CheckpointKeys.specs)

    @property
    def config(self) -> dict[str, Any]:
        return self._dict(CheckpointKeys.config)

    @property
    def examples(self) -> dict[str, Any]:
        """``{train_examples, val_examples}`` (the ``CheckpointKeys`` names), as far as recorded."""
        return self._dict(CheckpointKeys.data)

    @property
    def iteration(self) -> int | None:
        value = self.data.get(CheckpointKeys.iteration)
        return value if isinstance(value, int) else None

    @property
    def epoch(self) -> int | None:
        value = self.data.get(CheckpointKeys.epoch)
        return value if isinstance(value, int) else None

    @property
    def trained_img_size(self) -> int | None:
        value = self.config.get("img_size")
        return value if isinstance(value, int) else None

    def records(self) -> Checkpoint:
        """This checkpoint without its weights and training state: what a model card reports."""
        K = CheckpointKeys
        kept = (K.kind, K.specs, K.iteration, K.epoch, K.config, K.data)
        return Checkpoint(self.path, {k: self.data[k] for k in kept if k in self.data})

    def weights(self, name: str) -> dict[str, torch.Tensor]:
        return model_state(self.data, name, self.path)

    def load_into(self, models: dict[str, nn.Module]) -> None:
        """Every network's weights from the file (name -> network, the names it was saved under)."""
        for name, model in models.items():
            load_weights(model, self.weights(name), self.path, name)

    def training_state(self) -> TrainingState | None:
        """What resuming restores; None for a file with weights only (no iteration recorded)."""
        K, data = CheckpointKeys, self.data
        if K.iteration not in data:
            return None
        try:
            return TrainingState(int(data[K.iteration]), int(data[K.epoch]),
                                 int(data.get(K.batch_in_epoch, 0)),
                                 data.get(K.best_value), dict(data[K.optimizers]), dict(data[K.schedulers]),
                                 data[K.rng][K.rng_torch])
        except (KeyError, ValueError, TypeError) as err:
            raise CheckpointError(f"checkpoint {self.path} has incomplete training state ({err}); "
                                  "it holds weights but cannot be resumed") from None


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


def is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def model_state(data: dict[str, Any], key: str, path: Path) -> dict[str, torch.Tensor]:
    """The state dict under ``key`` (``model``, ``G``, ...), or the file itself if it is a
    bare state dict (the published files)."""
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
