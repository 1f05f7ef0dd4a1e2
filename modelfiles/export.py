"""Export trained models to share and deploy: weights-only safetensors, a model card, ONNX.

``export(segm_checkpoint, recon_checkpoint, out)`` writes into ``out``:

- ``segmentation.safetensors``, ``reconstruction.safetensors``: the networks inference runs
  (the generator only: no discriminators, optimizers or random states; an audio-conditioned
  generator with its audio encoder, under ``audio_encoder.``);
- with ``onnx=True``, ``segmentation.onnx`` and ``reconstruction.onnx`` (dynamic batch, the
  trained side); audio-conditioned generators are refused;
- with ``int8=ROOT`` as well, ``segmentation.int8.onnx`` and ``reconstruction.int8.onnx``: the
  same graphs statically quantised to int8 (QDQ), calibrated on ROOT's face crops
  (``modelfiles.quantize``);
- ``model_card.json`` and ``model_card.md`` (``modelfiles.card``): per model the architecture,
  trained size, stage, audio mode, training data and budget, validation metrics from the run,
  the config, the sha256 of each file, and a note on the training data's licence.

``modelfiles.load.load_model`` reads the folder back, checking each file against the card.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from configs import Config
from core.files import atomic_path
from datasets.layout import Sample
from modelfiles.card import (
    CARD,
    CARD_FORMAT,
    CARD_VERSION,
    ENCODER_PREFIX,
    CardKeys,
    ExportError,
    file_entry,
    write_card,
)
from modelfiles.checkpoint import Checkpoint, CheckpointKeys
from modelfiles.load import LoadedModel, load_model
from modelfiles.quantize import calibration_feeds, calibration_samples, quantize
from models import AUDIO_ENCODER
from stages import RECONSTRUCTION, SEGMENTATION, Stage

OPSET = 18
FILE_NAMES = {SEGMENTATION.name: "segmentation", RECONSTRUCTION.name: "reconstruction"}
LICENCE = ("These weights are derived from their training data ({root}). Before sharing or using "
           "them, check that the data's licence allows it: CelebA, for one, is for non-commercial "
           "research only, and a video of a person needs that person's consent.")


def weights_file_tensors(loaded: LoadedModel, half: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a model's safetensors file: its state dict, and its audio encoder's;
    ``half``: floating-point tensors stored as float16 (half the size; loading casts back)."""
    tensors = dict(loaded.model.state_dict())
    if loaded.audio_encoder is not None:
        tensors.update({ENCODER_PREFIX + k: v for k, v in loaded.audio_encoder.state_dict().items()})
    out = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return {k: v.half() if half and v.is_floating_point() else v for k, v in out.items()}


def write_safetensors(path: Path, loaded: LoadedModel, stage: Stage, half: bool = False) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file(weights_file_tensors(loaded, half), str(tmp), metadata={"stage": stage.name})


class _Generator(nn.Module):
    """``image (B,3,S,S), mask (B,1,S,S)`` -> ``face (B,3,S,S)``, the generator's raw output
    (its forward without the audio argument, which ONNX cannot take as None)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(image, mask, None)


def check_onnx_exportable(loaded: LoadedModel) -> None:
    if loaded.audio != "none":
        raise ExportError(f"{loaded.path} is audio-conditioned (audio={loaded.audio}); ONNX export "
                          "covers the image-only generator: export without --onnx")


def write_onnx(path: Path, loaded: LoadedModel, stage: Stage, side: int) -> dict[str, Any]:
    """Export one model to ONNX at ``side`` with a dynamic batch; its card entry."""
    K = CardKeys
    check_onnx_exportable(loaded)
    batch = torch.export.Dim("batch", min=1, max=4096)
    image = torch.rand(2, 3, side, side)
    if stage is SEGMENTATION:
        wrapped, args, names = loaded.model, (image,), (["image"], ["logits"])
    else:
        mask = (torch.rand(2, 1, side, side) > 0.5).float()
        wrapped, args, names = _Generator(loaded.model), (image, mask), (["image", "mask"], ["face"])
    with atomic_path(path) as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter's progress and notes are not the user's business
        logging.disable(logging.INFO)
        torch.onnx.export(wrapped.eval(), args, str(tmp), input_names=names[0], output_names=names[1],
                          dynamic_shapes=tuple({0: batch} for _ in args), opset_version=OPSET,
                          dynamo=True, external_data=False, verbose=False)
        logging.disable(logging.NOTSET)
    shapes = {"image": ["batch", 3, side, side], "mask": ["batch", 1, side, side],
              "logits": ["batch", 1, side, side], "face": ["batch", 3, side, side]}
    return {**file_entry(path), K.opset: OPSET, K.inputs: {n: shapes[n] for n in names[0]},
            K.outputs: {n: shapes[n] for n in names[1]},
            K.values: "inputs in [0,1] (mask in {0,1}); "
                      + ("logits: apply a sigmoid" if stage is SEGMENTATION else "face: clamp to [0,1]")}


def calibration(root: Path) -> list[Sample]:
    """The calibration faces of ``root``, or ``ExportError`` (one line) when it has none."""
    try:
        return calibration_samples(root)
    except ValueError as err:  # DatasetError included
        raise ExportError(f"--calibrate {root}: {err}") from None


def write_onnx_int8(path: Path, fp32: Path, stage: Stage, side: int, root: Path) -> dict[str, Any]:
    """The int8 QDQ copy of the exported ONNX file ``fp32``, calibrated on ``root``'s faces
    at ``side``; its card entry."""
    K = CardKeys
    samples = calibration(root)
    inputs = ["image"] if stage is SEGMENTATION else ["image", "mask"]
    with atomic_path(path) as tmp:
        quantize(fp32, Path(tmp), calibration_feeds(samples, side, inputs))
    return {**file_entry(path), K.calibration: {K.root_dir: str(root), K.faces: len(samples)}}


def _validation(checkpoint: Path, stage: Stage, iteration: int | None) -> dict[str, Any]:
    """The run's validation scores at (or last before) the checkpoint's iteration."""
    log = checkpoint.parent / f"{stage.name}_val.csv"
    if not log.is_file():
        return {CardKeys.note: f"no validation log ({log.name}) beside the checkpoint"}
    with open(log, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("iteration", "").isdigit()]
    rows = [r for r in rows if iteration is None or int(r["iteration"]) <= iteration]
    if not rows:
        return {CardKeys.note: f"{log.name} has no score at or before iteration {iteration}"}
    row = max(rows, key=lambda r: int(r["iteration"]))
    out: dict[str, Any] = {}
    for key, value in row.items():
        try:
            out[key] = int(value) if key in ("iteration", "epoch") else float(value)
        except (TypeError, ValueError):
            continue
    return out


def _training_data(checkpoint: Checkpoint) -> dict[str, Any]:
    """Where the training data was, how many examples, and the mask types that made them."""
    K, config, examples = CardKeys, checkpoint.config, checkpoint.examples
    root = Path(str(config.get("root_dir", "")))
    summary: dict[str, Any] = {K.root_dir: str(root), K.train_anns: config.get("train_anns"),
                               K.train_examples: examples.get(CheckpointKeys.train_examples),
                               K.val_examples: examples.get(CheckpointKeys.val_examples)}
    report = root / "prepare_report.csv"
    if report.is_file():
        with open(report, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("status") == "done"]
        summary[K.mask_types] = dict(Counter(r.get("mask_type") or "?" for r in rows))
    else:
        summary[K.mask_types] = "not recorded (no prepare_report.csv in root_dir: masks made elsewhere)"
    return summary


def _where(path: Path) -> str:
    """A checkpoint as the card records it: its run folder and name (relative to the working
    folder when inside it), since runs often share a checkpoint's file name."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def model_entry(loaded: LoadedModel, stage: Stage, weights: Path, half: bool = False) -> dict[str, Any]:
    """One model's part of the card, filled from its checkpoint and its run's logs."""
    K = CardKeys
    checkpoint = loaded.checkpoint or Checkpoint(loaded.path, {})
    config = checkpoint.config
    entry: dict[str, Any] = {
        K.stage: stage.name, K.title: stage.title, **file_entry(weights),
        K.dtype: "float16" if half else "float32",
        K.architecture: {K.kind: stage.model, **dict(getattr(loaded.model, "spec", {}))},
        K.img_size: loaded.trained_img_size or config.get("img_size"),
        K.audio: loaded.audio,
        K.training: {K.iterations: loaded.iteration, K.epochs: checkpoint.epoch,
                     K.batch_size: config.get("batch_size"), K.lr: config.get("lr"),
                     K.data: _training_data(checkpoint)},
        K.validation: _validation(loaded.path, stage, loaded.iteration),
        K.source_checkpoint: {K.file: _where(loaded.path), K.size: loaded.path.stat().st_size},
        K.config: config,
    }
    if loaded.audio_encoder is not None:
        entry[K.audio_encoder] = {K.prefix: ENCODER_PREFIX, **dict(checkpoint.specs.get(AUDIO_ENCODER) or {})}
    return entry


def check_out_folder(out: Path, overwrite: bool) -> None:
    """Refuse to write into a folder that holds files, unless ``overwrite``."""
    if out.exists() and any(out.iterdir()) and not overwrite:
        kind = "an export" if (out / CARD).is_file() else "files"
        raise ExportError(f"{out} already holds {kind}; pass --overwrite or another --out")


def export(segm_checkpoint: Path, recon_checkpoint: Path, out: Path, onnx: bool = False,
           cfg: Config | None = None, half: bool = False, int8: Path | None = None) -> dict[str, Any]:
    """Write the exported folder ``out`` (see the module's docstring); returns the card.
    ``half``: the safetensors files in float16 (the ONNX files stay float32). ``int8``: a
    prepared root whose face crops calibrate int8 copies of the ONNX files (needs ``onnx``)."""
    K = CardKeys
    cfg = cfg or Config.from_dict({"task": "predict"})
    if int8 is not None and not onnx:
        raise ExportError("int8 quantises the ONNX files: export with --onnx too")
    loaded = {SEGMENTATION: load_model(cfg, SEGMENTATION, Path(segm_checkpoint)),
              RECONSTRUCTION: load_model(cfg, RECONSTRUCTION, Path(recon_checkpoint))}
    if onnx:  # refused before anything is written
        for model in loaded.values():
            check_onnx_exportable(model)
    if int8 is not None:
        calibration(int8)
    out.mkdir(parents=True, exist_ok=True)
    models: dict[str, Any] = {}
    for stage, model in loaded.items():
        weights = out / f"{FILE_NAMES[stage.name]}.safetensors"
        write_safetensors(weights, model, stage, half)
        entry = model_entry(model, stage, weights, half)
        if onnx:
            side = int(entry[K.img_size] or cfg.img_size)
            fp32 = out / f"{FILE_NAMES[stage.name]}.onnx"
            entry[K.onnx] = write_onnx(fp32, model, stage, side)
            if int8 is not None:
                entry[K.onnx_int8] = write_onnx_int8(out / f"{FILE_NAMES[stage.name]}.int8.onnx", fp32,
                                                     stage, side, Path(int8))
        models[stage.name] = entry
    root = models[RECONSTRUCTION.name][K.training][K.data][K.root_dir]
    card = {K.format: CARD_FORMAT, K.format_version: CARD_VERSION, K.name: out.name,
            K.exported: time.strftime("%Y-%m-%d %H:%M:%S"), K.models: models,
            K.licence: LICENCE.format(root=root)}
    write_card(out, card)
    return card
