"""Exported model folders (``python3 export.py``): what they hold and how they are checked.

A folder holds, per stage, a weights-only ``.safetensors`` file (no pickle: loading it runs
no code), optionally an ``.onnx`` file, and one model card, ``model_card.json`` (the
machine-readable one, read here) with ``model_card.md`` beside it for people. The card
records every file's sha256; a file that does not match is refused before it is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from stages import Stage

CARD = "model_card.json"
CARD_MD = "model_card.md"
CARD_FORMAT = "facemask-model-card"
CARD_VERSION = 1
ENCODER_PREFIX = "audio_encoder."  # an audio-conditioned generator's file holds its encoder too


class ExportError(ValueError):
    """An exported folder or file that cannot be used; the message names it and why."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """``{"file", "bytes", "sha256"}`` of a file in an exported folder."""
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def is_exported(path: str | Path) -> bool:
    """An exported folder, or a ``.safetensors`` / ``.onnx`` file (inside one)."""
    path = Path(path)
    return (path / CARD).is_file() if path.is_dir() else path.suffix in (".safetensors", ".onnx")


def read_card(folder: str | Path) -> dict[str, Any]:
    """The folder's ``model_card.json``; ``ExportError`` (one line) when missing or malformed."""
    path = Path(folder) / CARD
    if not path.is_file():
        raise ExportError(f"{folder} is not an exported model folder (no {CARD}); make one with "
                          "'python3 export.py'")
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ExportError(f"{path} cannot be read ({str(err).splitlines()[0]})") from None
    if (not isinstance(card, dict) or card.get("format") != CARD_FORMAT
            or not isinstance(card.get("models"), dict)):
        raise ExportError(f"{path} is not a model card written by export.py")
    if card.get("format_version", 0) > CARD_VERSION:
        raise ExportError(f"{path} has card format {card['format_version']}; this code reads up to "
                          f"{CARD_VERSION}: update the code")
    return card


def locate(path: str | Path, stage: Stage, kind: str = "safetensors") -> tuple[Path, dict[str, Any]]:
    """The ``kind`` (``safetensors`` or ``onnx``) file of ``stage`` for ``path`` (an exported
    folder, or one of its files), checked against its card; and the stage's card entry."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    entry = read_card(folder)["models"].get(stage.name)
    if not isinstance(entry, dict):
        raise ExportError(f"{folder}/{CARD} has no {stage.title} model")
    listed = entry.get("onnx") if kind == "onnx" else entry
    if not isinstance(listed, dict) or not listed.get("file"):
        raise ExportError(f"{folder} has no {kind.upper()} file for the {stage.title} model; export it "
                          f"with 'python3 export.py{' --onnx' if kind == 'onnx' else ''} ...'")
    target = folder / listed["file"]
    if not path.is_dir() and path.name != target.name and path.suffix == target.suffix:
        raise ExportError(f"{path} is not the {stage.title} model of {folder} (that is {target.name})")
    verify(target, listed.get("sha256", ""))
    return target, entry


def verify(path: Path, expected: str) -> None:
    """Refuse ``path`` unless its sha256 is ``expected`` (as the card records it)."""
    if not path.is_file():
        raise ExportError(f"{path} is listed in its model card but missing")
    actual = sha256_file(path)
    if actual != expected:
        raise ExportError(f"{path} does not match its model card (sha256 {actual[:12]}..., the card says "
                          f"{expected[:12]}...): the file was changed or damaged; export it again")
