"""Exported model folders (``python3 export.py``): the model card, and checking files against it.

A folder holds, per stage, a weights-only ``.safetensors`` file (no pickle: loading it runs
no code), optionally an ``.onnx`` file, and one model card, ``model_card.json`` (the
machine-readable one, which loading reads) with ``model_card.md`` beside it for people. The
card records every file's sha256; a file that does not match is refused before it is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.files import write_text
from stages import Stage

CARD = "model_card.json"
CARD_MD = "model_card.md"
CARD_FORMAT = "facemask-model-card"
CARD_VERSION = 1
ENCODER_PREFIX = "audio_encoder."  # an audio-conditioned generator's file holds its encoder too


class CardKeys:
    """The names a model card records its parts under: export writes, and loading reads, these."""

    # the card
    format = "format"
    format_version = "format_version"
    name = "name"
    exported = "exported"  # the date
    models = "models"  # stage name -> a model's entry
    licence = "licence"
    # a file (a model's weights, its ONNX file)
    file = "file"
    size = "bytes"
    sha256 = "sha256"
    # a model's entry: a file, and
    stage = "stage"
    title = "title"
    dtype = "dtype"
    architecture = "architecture"  # ``kind`` and the constructor arguments
    kind = "kind"
    img_size = "img_size"
    audio = "audio"
    training = "training"
    validation = "validation"  # the run's last validation scores, or a ``note``
    note = "note"
    source_checkpoint = "source_checkpoint"  # a file without its sha256
    config = "config"
    audio_encoder = "audio_encoder"  # ``prefix`` and its constructor arguments
    prefix = "prefix"
    onnx = "onnx"  # a file, and
    onnx_int8 = "onnx_int8"  # the same network quantised (export.py --int8): a file, and
    calibration = "calibration"  # where its activation ranges came from: ``root_dir``, ``faces``
    faces = "faces"
    opset = "opset"
    inputs = "inputs"
    outputs = "outputs"
    values = "values"
    # training
    iterations = "iterations"
    epochs = "epochs"
    batch_size = "batch_size"
    lr = "lr"
    data = "data"
    # training data
    root_dir = "root_dir"
    train_anns = "train_anns"
    train_examples = "train_examples"
    val_examples = "val_examples"
    mask_types = "mask_types"


class ExportError(ValueError):
    """An exported folder or file that cannot be used; the message names it and why."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """A file of an exported folder as the card lists it: name, size, sha256."""
    return {CardKeys.file: path.name, CardKeys.size: path.stat().st_size, CardKeys.sha256: sha256_file(path)}


def is_exported(path: str | Path) -> bool:
    """An exported folder, or a ``.safetensors`` / ``.onnx`` file (inside one)."""
    path = Path(path)
    return (path / CARD).is_file() if path.is_dir() else path.suffix in (".safetensors", ".onnx")


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """``model_card.json`` and ``model_card.md`` in ``folder``."""
    write_text(folder / CARD, json.dumps(card, indent=1) + "\n")
    write_text(folder / CARD_MD, _markdown(card))


def read_card(folder: str | Path) -> dict[str, Any]:
    """The folder's ``model_card.json``; ``ExportError`` (one line) when missing, malformed or
    written in a newer format than this code reads."""
    K, path = CardKeys, Path(folder) / CARD
    if not path.is_file():
        raise ExportError(f"{folder} is not an exported model folder (no {CARD}); make one with "
                          "'python3 export.py'")
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ExportError(f"{path} cannot be read ({str(err).splitlines()[0]})") from None
    if (not isinstance(card, dict) or card.get(K.format) != CARD_FORMAT
            or not isinstance(card.get(K.models), dict)):
        raise ExportError(f"{path} is not a model card written by export.py")
    version = card.get(K.format_version, 0)
    if not isinstance(version, int) or version > CARD_VERSION:
        raise ExportError(f"{path} has card format {version}; this code reads up to "
                          f"{CARD_VERSION}: update the code")
    return card


EXPORT_FLAGS = {"safetensors": "", "onnx": " --onnx", "onnx_int8": " --onnx --int8 --calibrate ROOT"}


def locate(path: str | Path, stage: Stage, kind: str = "safetensors") -> tuple[Path, dict[str, Any]]:
    """The ``kind`` (``safetensors``, ``onnx`` or ``onnx_int8``) file of ``stage`` for ``path``
    (an exported folder, or one of its files), checked against its card; and the stage's card entry."""
    K, path = CardKeys, Path(path)
    folder = path if path.is_dir() else path.parent
    entry = read_card(folder)[K.models].get(stage.name)
    if not isinstance(entry, dict):
        raise ExportError(f"{folder}/{CARD} has no {stage.title} model")
    listed = entry if kind == "safetensors" else entry.get(kind)
    if not isinstance(listed, dict) or not listed.get(K.file):
        what = "int8 ONNX" if kind == K.onnx_int8 else kind.upper()
        raise ExportError(f"{folder} has no {what} file for the {stage.title} model; export it "
                          f"with 'python3 export.py{EXPORT_FLAGS[kind]} ...'")
    target = folder / listed[K.file]
    if not path.is_dir() and path.name != target.name and path.suffix == target.suffix:
        raise ExportError(f"{path} is not the {stage.title} model of {folder} (that is {target.name})")
    verify(target, listed.get(K.sha256, ""))
    return target, entry


def verify(path: Path, expected: str) -> None:
    """Refuse ``path`` unless its sha256 is ``expected`` (as the card records it)."""
    if not path.is_file():
        raise ExportError(f"{path} is listed in its model card but missing")
    actual = sha256_file(path)
    if actual != expected:
        raise ExportError(f"{path} does not match its model card (sha256 {actual[:12]}..., the card says "
                          f"{expected[:12]}...): the file was changed or damaged; export it again")


def _markdown(card: dict[str, Any]) -> str:
    K = CardKeys
    lines = [f"# {card[K.name]}", "", "Exported by `python3 export.py` on "
             f"{card[K.exported]}. The machine-readable card is `{CARD}`; the numbers below are from it.", ""]
    for entry in card[K.models].values():
        train, data, source = entry[K.training], entry[K.training][K.data], entry[K.source_checkpoint]
        lines += [f"## {entry[K.title].capitalize()} ({entry[K.stage]})", "",
                  f"- file: `{entry[K.file]}` ({entry[K.dtype]}), {entry[K.size] / 1e6:.2f} MB, "
                  f"sha256 `{entry[K.sha256]}`"]
        if entry.get(K.onnx):
            onnx = entry[K.onnx]
            lines.append(f"- ONNX: `{onnx[K.file]}` (opset {onnx[K.opset]}, dynamic batch), "
                         f"{onnx[K.size] / 1e6:.2f} MB, sha256 `{onnx[K.sha256]}`")
        if entry.get(K.onnx_int8):
            int8, calibration = entry[K.onnx_int8], entry[K.onnx_int8][K.calibration]
            lines.append(f"- ONNX int8 (static QDQ): `{int8[K.file]}`, {int8[K.size] / 1e6:.2f} MB, sha256 "
                         f"`{int8[K.sha256]}`; calibrated on {calibration[K.faces]} faces of "
                         f"`{calibration[K.root_dir]}`")
        arch = ", ".join(f"{k}={v}" for k, v in entry[K.architecture].items())
        lines += [f"- architecture: {arch}", f"- trained at {entry[K.img_size]} px; audio: {entry[K.audio]}",
                  f"- training: {train[K.iterations]} iterations ({train[K.epochs]} epochs), batch "
                  f"{train[K.batch_size]}, lr {train[K.lr]}",
                  f"- data: `{data[K.root_dir]}`, {data[K.train_examples]} training examples, "
                  f"{data[K.val_examples]} validation; mask types: {data[K.mask_types]}",
                  "- validation: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                              for k, v in entry[K.validation].items()),
                  f"- from `{source[K.file]}` ({source[K.size] / 1e6:.1f} MB with the training state)", ""]
    lines += ["## Licence", "", card[K.licence], ""]
    return "\n".join(lines)


def summary(card: dict[str, Any], out: Path) -> list[str]:
    """What ``export.py`` prints: each model's files and sizes, then how to use the folder."""
    K, lines = CardKeys, []
    for entry in card[K.models].values():
        files = [entry] + [entry[k] for k in (K.onnx, K.onnx_int8) if entry.get(k)]
        sizes = ", ".join(f"{f[K.file]} {f[K.size] / 1e6:.2f} MB" for f in files)
        source = entry[K.source_checkpoint]
        lines.append(f"{entry[K.title]}: {sizes}, from {source[K.file]} ({source[K.size] / 1e6:.1f} MB, "
                     f"{source[K.size] / entry[K.size]:.0f}x larger)")
    lines.append(f"wrote {out}/ (model card: {out / CARD_MD}); use it with "
                 f"'python3 infer.py --segm-weights {out} --recon-weights {out}'")
    return lines
