"""Find and load the two trained models for inference.

Which files: ``segm_weights`` / ``recon_weights`` when given, otherwise the newest
``model_segm_*.pth`` and ``model_*.pth`` in ``checkpoint_path`` by iteration number.
Each model is rebuilt from the architecture recorded in its checkpoint (``specs``), so
inference does not depend on the config matching the one used for training. Published
bare state dicts (no ``specs``) are built from the config instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from configs import Config
from models import AUDIO_ENCODER, AudioEncoder, Generator, MaskSegmenter
from trainers.checkpoint import (
    PREFIX,
    CheckpointError,
    find_latest,
    load_checkpoint,
    load_weights,
    model_state,
)

log = logging.getLogger(__name__)

# What each stage is called in messages, the weights key in its checkpoint, and how it is trained.
ROLES = {
    "segm": {"what": "segmentation", "key": "model", "train": "python3 train.py segm",
             "option": "--segm-weights", "config_key": "segm_weights"},
    "facemask": {"what": "reconstruction", "key": "G", "train": "python3 train.py facemask",
                 "option": "--recon-weights", "config_key": "recon_weights"},
}


@dataclass
class LoadedModel:
    """A model in eval mode and where it came from."""

    model: nn.Module
    path: Path
    iteration: int | None
    trained_img_size: int | None  # from the checkpoint's config, when it has one
    audio_encoder: AudioEncoder | None = None  # with an audio-conditioned generator (eval mode)


def resolve_path(cfg: Config, kind: str) -> Path:
    """The checkpoint file to use for ``kind`` ("segm" or "facemask"), or a one-line error."""
    role = ROLES[kind]
    given = getattr(cfg, role["config_key"])
    if given:
        path = Path(given)
        if not path.is_file():
            raise CheckpointError(f"{role['what']} weights not found: {path}")
        return path
    folder = Path(cfg.checkpoint_path)
    found = find_latest(folder, kind)
    if found is None:
        raise CheckpointError(
            f"no {role['what']} weights ({PREFIX[kind]}*.pth) in {folder}/; train them with "
            f"'{role['train']}' or pass {role['option']} FILE")
    return found


def _build(kind: str, spec: dict[str, Any] | None, cfg: Config, path: Path) -> nn.Module:
    """The model described by a checkpoint's ``spec`` (or by the config when there is none)."""
    if spec is None:
        args = {"base_channels": cfg.base_channels, "depth": cfg.depth, "arch": cfg.arch}
        if kind == "facemask":
            args.update(audio=cfg.audio, audio_dim=cfg.audio_dim)
    else:
        args = {k: v for k, v in spec.items() if k != "kind"}
    try:
        return MaskSegmenter(**args) if kind == "segm" else Generator(**args)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} records a model this code cannot build "
                              f"({err})") from None


def load_model(cfg: Config, kind: str, path: Path | None = None) -> LoadedModel:
    """Load the ``kind`` model ("segm" or "facemask") in eval mode, on the CPU.

    Raises ``CheckpointError`` (one line) for a missing, damaged or wrong-kind file and for
    weights that do not fit the recorded architecture.
    """
    role = ROLES[kind]
    path = path or resolve_path(cfg, kind)
    data = load_checkpoint(path)
    recorded = data.get("kind")
    if recorded is not None and recorded != kind:
        other = ROLES.get(recorded, {}).get("what", recorded)
        raise CheckpointError(
            f"{path} is a {other} checkpoint, not {role['what']} weights "
            f"({role['option']} wants a {PREFIX[kind]}*.pth file)")
    specs = data.get("specs") if isinstance(data.get("specs"), dict) else {}
    model = _build(kind, specs.get(role["key"]), cfg, path)
    load_weights(model, model_state(data, role["key"], path), path, f"{role['what']} model")
    model.eval()
    encoder = None
    if getattr(model, "audio", "none") != "none":
        encoder = _audio_encoder(data, specs, path, model.audio)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    iteration = data.get("iteration")
    return LoadedModel(model, path, int(iteration) if isinstance(iteration, int) else None,
                       config.get("img_size") if isinstance(config.get("img_size"), int) else None,
                       encoder)


def _audio_encoder(data: dict[str, Any], specs: dict[str, Any], path: Path, mode: str) -> AudioEncoder:
    """The audio encoder saved next to an audio-conditioned generator (eval mode)."""
    spec = specs.get(AUDIO_ENCODER)
    if AUDIO_ENCODER not in data or not isinstance(spec, dict):
        raise CheckpointError(f"checkpoint {path} holds an audio-conditioned generator (audio={mode}) "
                              f"but no audio encoder ('{AUDIO_ENCODER}'); use a checkpoint written by "
                              "'python3 train.py facemask audio=...'")
    try:
        encoder = AudioEncoder(**{k: v for k, v in spec.items() if k != "kind"})
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} records an audio encoder this code cannot build "
                              f"({err})") from None
    load_weights(encoder, model_state(data, AUDIO_ENCODER, path), path, "audio encoder")
    return encoder.eval()


def load_models(cfg: Config) -> tuple[LoadedModel, LoadedModel]:
    """Both models; the paths are resolved first so a missing file fails before any loading."""
    segm_path, recon_path = resolve_path(cfg, "segm"), resolve_path(cfg, "facemask")
    return load_model(cfg, "segm", segm_path), load_model(cfg, "facemask", recon_path)
