"""Find and load the two trained models for inference.

Which files: ``segm_weights`` / ``recon_weights`` when given, otherwise, in
``checkpoint_path``, the run that wrote last and in it the checkpoint with the highest
iteration number (``core.checkpoint.find_latest``). Each model is rebuilt from the
architecture recorded in its checkpoint (``specs``), so inference does not depend on the
config matching the one used for training, and runs at the size it was trained at (the
checkpoint's ``img_size``) unless ``img_size`` is set. Published bare state dicts (no
``specs``) are built from the config instead.

An exported folder (``export.py``) or one of its ``.safetensors`` files loads the same way,
from its model card, each file checked against the card's sha256 first; with
``backend=onnxruntime`` its ONNX files run instead (``inference.onnx_backend``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from configs import Config
from core.checkpoint import CheckpointError, find_latest, load_checkpoint, load_weights, model_state
from core.exported import ENCODER_PREFIX, ExportError, is_exported, locate
from models import AUDIO_ENCODER, AudioEncoder, build_model
from stages import RECONSTRUCTION, SEGMENTATION, STAGES, Stage


@dataclass
class LoadedModel:
    """A model in eval mode and where it came from."""

    model: nn.Module
    path: Path
    iteration: int | None
    trained_img_size: int | None  # from the checkpoint's config, when it has one
    audio_encoder: AudioEncoder | None = None  # with an audio-conditioned generator (eval mode)
    # The checkpoint's other records (config, data, specs, epoch), for a model card.
    records: dict[str, Any] = field(default_factory=dict)

    def img_size(self, cfg: Config) -> int:
        """The side to run at: ``img_size`` when set, else the trained size (else the default)."""
        if cfg.is_set("img_size") or self.trained_img_size is None:
            return cfg.img_size
        return self.trained_img_size

    def describe(self, stage: Stage) -> str:
        """``segmentation weights: PATH (iteration N, trained at S px)``."""
        details = [f"iteration {self.iteration}"] if self.iteration is not None else []
        if self.trained_img_size:
            details.append(f"trained at {self.trained_img_size} px")
        return f"{stage.title} weights: {self.path}" + (f" ({', '.join(details)})" if details else "")


def resolve_path(cfg: Config, stage: Stage) -> Path:
    """The checkpoint file to use for ``stage``, or a one-line error."""
    given = getattr(cfg, stage.weights_config_key)
    if given:
        path = Path(given)
        if not (path.is_file() or (path.is_dir() and is_exported(path))):
            what = ("is a folder but not an exported model (no model_card.json)" if path.is_dir()
                    else "not found")
            raise CheckpointError(f"{stage.title} weights {what}: {path}")
        return path
    folder = Path(cfg.checkpoint_path)
    found = find_latest(folder, stage)
    if found is None:
        raise CheckpointError(
            f"no {stage.title} weights ({stage.prefix}*.pth) in {folder}/ or its run folders; train "
            f"them with '{stage.train_command}' or pass {stage.weights_option} FILE")
    return found


def _build(stage: Stage, spec: dict[str, Any] | None, cfg: Config | None, path: Path) -> nn.Module:
    """The model described by a checkpoint's ``spec`` (or by the config when there is none)."""
    if spec is None:
        spec = {"base_channels": cfg.base_channels, "depth": cfg.depth, "arch": cfg.arch}
        if stage is RECONSTRUCTION:
            spec.update(audio=cfg.audio, audio_dim=cfg.audio_dim)
    try:
        return build_model(stage.model, spec)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} records a model this code cannot build "
                              f"({err})") from None


def load_model(cfg: Config, stage: Stage, path: Path | None = None) -> LoadedModel:
    """Load ``stage``'s network in eval mode, on the CPU.

    Raises ``CheckpointError`` (one line) for a missing, damaged or wrong-stage file and for
    weights that do not fit the recorded architecture.
    """
    path = path or resolve_path(cfg, stage)
    if cfg.backend == "onnxruntime":
        return _load_onnx(stage, path)
    if is_exported(path):
        return _load_exported(stage, path)
    data = load_checkpoint(path)
    recorded = data.get("kind")
    if recorded is not None and recorded != stage.name:
        other = STAGES[recorded].title if recorded in STAGES else recorded
        raise CheckpointError(
            f"{path} is a {other} checkpoint, not {stage.title} weights "
            f"({stage.weights_option} wants a {stage.prefix}*.pth file)")
    specs = data.get("specs") if isinstance(data.get("specs"), dict) else {}
    model = _build(stage, specs.get(stage.weights_key), cfg, path)
    load_weights(model, model_state(data, stage.weights_key, path), path, f"{stage.title} model")
    model.eval()
    encoder = None
    if getattr(model, "audio", "none") != "none":
        encoder = _audio_encoder(data, specs, path, model.audio)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    iteration = data.get("iteration")
    records = {k: data.get(k) for k in ("config", "data", "specs", "epoch")}
    return LoadedModel(model, path, int(iteration) if isinstance(iteration, int) else None,
                       config.get("img_size") if isinstance(config.get("img_size"), int) else None,
                       encoder, records)


def _load_exported(stage: Stage, path: Path) -> LoadedModel:
    """``stage``'s network from an exported folder or ``.safetensors`` file (sha256 checked)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file, entry = locate(path, stage)
    spec = {k: v for k, v in (entry.get("architecture") or {}).items() if k != "kind"}
    model = _build(stage, spec, None, file)
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ExportError(f"{file} cannot be read ({str(err).splitlines()[0]})") from None
    own = {k: v for k, v in tensors.items() if not k.startswith(ENCODER_PREFIX)}
    load_weights(model, own, file, f"{stage.title} model")
    model.eval()
    encoder = None
    if getattr(model, "audio", "none") != "none":
        spec = {k: v for k, v in (entry.get("audio_encoder") or {}).items() if k != "prefix"}
        try:
            encoder = build_model(AUDIO_ENCODER, spec)
        except (TypeError, ValueError) as err:
            raise ExportError(f"{file}: its card records an audio encoder this code cannot build "
                              f"({err})") from None
        load_weights(encoder, {k[len(ENCODER_PREFIX):]: v for k, v in tensors.items()
                               if k.startswith(ENCODER_PREFIX)}, file, "audio encoder")
        encoder.eval()
    iterations = (entry.get("training") or {}).get("iterations")
    size = entry.get("img_size")
    return LoadedModel(model, file, iterations if isinstance(iterations, int) else None,
                       size if isinstance(size, int) else None, encoder)


def _load_onnx(stage: Stage, path: Path) -> LoadedModel:
    """``stage``'s ONNX network from an exported folder (sha256 checked), for onnxruntime."""
    import torch

    from inference.onnx_backend import OnnxNetwork

    if not is_exported(path):
        raise ExportError(f"backend=onnxruntime runs exported models, and {path} is a training checkpoint: "
                          "export it with 'python3 export.py --onnx ...' and pass the folder")
    file, entry = locate(path, stage, "onnx")
    size = entry.get("img_size")
    return LoadedModel(OnnxNetwork(file, torch.get_num_threads()), file, None,
                       size if isinstance(size, int) else None)


def _audio_encoder(data: dict[str, Any], specs: dict[str, Any], path: Path, mode: str) -> AudioEncoder:
    """The audio encoder saved next to an audio-conditioned generator (eval mode)."""
    spec = specs.get(AUDIO_ENCODER)
    if AUDIO_ENCODER not in data or not isinstance(spec, dict):
        raise CheckpointError(f"checkpoint {path} holds an audio-conditioned generator (audio={mode}) "
                              f"but no audio encoder ('{AUDIO_ENCODER}'); use a checkpoint written by "
                              "'python3 train.py facemask audio=...'")
    try:
        encoder = build_model(AUDIO_ENCODER, spec)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} records an audio encoder this code cannot build "
                              f"({err})") from None
    load_weights(encoder, model_state(data, AUDIO_ENCODER, path), path, "audio encoder")
    return encoder.eval()


def load_models(cfg: Config) -> tuple[LoadedModel, LoadedModel]:
    """Both models; the paths are resolved first so a missing file fails before any loading."""
    segm_path, recon_path = resolve_path(cfg, SEGMENTATION), resolve_path(cfg, RECONSTRUCTION)
    return load_model(cfg, SEGMENTATION, segm_path), load_model(cfg, RECONSTRUCTION, recon_path)
