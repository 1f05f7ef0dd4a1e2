"""Find and load a trained model: one ``load_model`` for ``.pth`` checkpoints, exported
safetensors folders and, with ``backend=onnxruntime``, exported ONNX files.

Which files: ``segm_weights`` / ``recon_weights`` when given, otherwise, in
``checkpoint_path``, the run that wrote last and in it the checkpoint with the highest
iteration number (``modelfiles.checkpoint.find_latest``). Each model is rebuilt from the
architecture recorded with it (a checkpoint's ``specs``, a card's ``architecture``), so
inference does not depend on the config matching the one used for training, and runs at the
size it was trained at unless ``img_size`` is set. Published bare state dicts (no ``specs``)
are built from the config instead. Exported files are checked against the card's sha256 first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from configs import Config
from modelfiles.card import ENCODER_PREFIX, CardKeys, ExportError, is_exported, locate, read_card
from modelfiles.checkpoint import Checkpoint, CheckpointError, find_latest, load_weights
from modelfiles.onnx import OnnxNetwork
from models import AUDIO_ENCODER, AudioEncoder, build_model
from stages import RECONSTRUCTION, SEGMENTATION, STAGES, Stage


@dataclass
class LoadedModel:
    """A model ready to run and where it came from."""

    model: nn.Module | OnnxNetwork  # torch modules in eval mode
    path: Path
    iteration: int | None
    trained_img_size: int | None
    audio_encoder: AudioEncoder | None = None  # with an audio-conditioned generator (eval mode)
    checkpoint: Checkpoint | None = None  # a training checkpoint's records (no weights), for a model card

    @property
    def audio(self) -> str:
        """The generator's audio conditioning (``none`` for segmenters and ONNX networks)."""
        return getattr(self.model, "audio", "none")

    def img_size(self, cfg: Config, key: str = "img_size") -> int:
        """The side to run at: the config's ``key`` when set (``segm_size`` for a segmenter, which
        may run at a lower side than the generator), else ``img_size`` when set, else the trained
        size (else the default)."""
        if key != "img_size" and getattr(cfg, key) is not None:
            return getattr(cfg, key)
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
    """The file (or exported folder) to use for ``stage``, or a one-line error."""
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


def load_model(cfg: Config, stage: Stage, path: Path | None = None) -> LoadedModel:
    """Load ``stage``'s network, on the CPU.

    Raises ``CheckpointError`` / ``ExportError`` (one line) for a missing, damaged or
    wrong-stage file and for weights that do not fit the recorded architecture.
    """
    path = path or resolve_path(cfg, stage)
    if cfg.backend == "onnxruntime":
        return _load_onnx(stage, path, cfg.onnx_precision)
    if is_exported(path):
        return _load_exported(stage, path)
    return _load_checkpoint(cfg, stage, path)


def load_models(cfg: Config) -> tuple[LoadedModel, LoadedModel]:
    """Both models; the paths are resolved first so a missing file fails before any loading."""
    segm_path, recon_path = resolve_path(cfg, SEGMENTATION), resolve_path(cfg, RECONSTRUCTION)
    return load_model(cfg, SEGMENTATION, segm_path), load_model(cfg, RECONSTRUCTION, recon_path)


def _build(kind: str, spec: dict[str, Any], path: Path, error: type[ValueError]) -> nn.Module:
    """The ``models.build_model`` network ``spec`` describes, or ``error`` (one line)."""
    try:
        return build_model(kind, spec)
    except (TypeError, ValueError) as err:
        raise error(f"{path} records a {kind} model this code cannot build ({err})") from None


def _audio_encoder(spec: Any, state: dict[str, torch.Tensor], path: Path,
                   error: type[ValueError]) -> AudioEncoder:
    """The audio encoder stored with an audio-conditioned generator, in eval mode."""
    encoder = _build(AUDIO_ENCODER, dict(spec or {}), path, error)
    load_weights(encoder, state, path, "audio encoder")
    return encoder.eval()


def _load_checkpoint(cfg: Config, stage: Stage, path: Path) -> LoadedModel:
    checkpoint = Checkpoint.read(path)
    if checkpoint.kind is not None and checkpoint.kind != stage.name:
        other = STAGES[checkpoint.kind].title if checkpoint.kind in STAGES else checkpoint.kind
        raise CheckpointError(f"{path} is a {other} checkpoint, not {stage.title} weights "
                              f"({stage.weights_option} wants a {stage.prefix}*.pth file)")
    spec = checkpoint.specs.get(stage.weights_key)
    if spec is None:  # a published bare state dict: the config describes it
        spec = {"base_channels": cfg.base_channels, "depth": cfg.depth, "arch": cfg.arch}
        if stage is RECONSTRUCTION:
            spec.update(audio=cfg.audio, audio_dim=cfg.audio_dim)
    model = _build(stage.model, spec, path, CheckpointError)
    load_weights(model, checkpoint.weights(stage.weights_key), path, f"{stage.title} model")
    model.eval()
    encoder = None
    if getattr(model, "audio", "none") != "none":
        if AUDIO_ENCODER not in checkpoint.data or not isinstance(checkpoint.specs.get(AUDIO_ENCODER), dict):
            raise CheckpointError(f"checkpoint {path} holds an audio-conditioned generator "
                                  f"(audio={model.audio}) but no audio encoder ('{AUDIO_ENCODER}'); use a "
                                  "checkpoint written by 'python3 train.py facemask audio=...'")
        encoder = _audio_encoder(checkpoint.specs[AUDIO_ENCODER], checkpoint.weights(AUDIO_ENCODER), path,
                                 CheckpointError)
    return LoadedModel(model, path, checkpoint.iteration, checkpoint.trained_img_size, encoder,
                       checkpoint.records())


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _load_exported(stage: Stage, path: Path) -> LoadedModel:
    """``stage``'s network from an exported folder or ``.safetensors`` file (sha256 checked)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    K = CardKeys
    file, entry = locate(path, stage)
    model = _build(stage.model, {k: v for k, v in (entry.get(K.architecture) or {}).items() if k != K.kind},
                   file, ExportError)
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ExportError(f"{file} cannot be read ({str(err).splitlines()[0]})") from None
    own = {k: v for k, v in tensors.items() if not k.startswith(ENCODER_PREFIX)}
    load_weights(model, own, file, f"{stage.title} model")
    model.eval()
    encoder = None
    if getattr(model, "audio", "none") != "none":
        spec = {k: v for k, v in (entry.get(K.audio_encoder) or {}).items() if k != K.prefix}
        state = {k[len(ENCODER_PREFIX):]: v for k, v in tensors.items() if k.startswith(ENCODER_PREFIX)}
        encoder = _audio_encoder(spec, state, file, ExportError)
    return LoadedModel(model, file, _int((entry.get(K.training) or {}).get(K.iterations)),
                       _int(entry.get(K.img_size)), encoder)


def onnx_kind(path: Path, precision: str) -> str:
    """Which ONNX file of an export to run: an ``.onnx`` file named is what it is (``NAME.int8.onnx``
    the int8 one); for a folder, ``precision`` (``auto``: int8 where the card lists it)."""
    K = CardKeys
    if path.suffix == ".onnx":
        return K.onnx_int8 if path.name.endswith(".int8.onnx") else K.onnx
    if precision == "auto":
        entries = read_card(path if path.is_dir() else path.parent)[K.models].values()
        precision = "int8" if all(isinstance(e, dict) and e.get(K.onnx_int8) for e in entries) else "fp32"
    return K.onnx_int8 if precision == "int8" else K.onnx


def _load_onnx(stage: Stage, path: Path, precision: str = "auto") -> LoadedModel:
    """``stage``'s ONNX network from an exported folder (sha256 checked), for onnxruntime:
    float32, or int8 (``onnx_kind``)."""
    if not is_exported(path):
        raise ExportError(f"backend=onnxruntime runs exported models, and {path} is a training checkpoint: "
                          "export it with 'python3 export.py --onnx ...' and pass the folder")
    file, entry = locate(path, stage, onnx_kind(Path(path), precision))
    network = OnnxNetwork(file, torch.get_num_threads())
    return LoadedModel(network, file, None, _int(entry.get(CardKeys.img_size)))
