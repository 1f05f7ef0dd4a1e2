"""Model files: one schema per format that writer and reader share, and newer formats refused."""

from __future__ import annotations

import json

import pytest
import torch

from configs import Config
from helpers_infer import make_checkpoints, make_dataset, one_torch_thread  # noqa: F401 (autouse fixture)
from modelfiles.card import CARD, CardKeys, ExportError, read_card
from modelfiles.checkpoint import CheckpointError, CheckpointKeys, load_checkpoint
from modelfiles.export import export
from modelfiles.load import load_model
from stages import RECONSTRUCTION, SEGMENTATION

PREDICT = Config.from_dict({"task": "predict"})


@pytest.fixture
def checkpoints(tmp_path):
    make_dataset(tmp_path / "data", count=3)
    return make_checkpoints(tmp_path / "data", tmp_path / "weights")


def test_a_renamed_key_is_written_and_read_under_its_new_name(tmp_path, monkeypatch):
    monkeypatch.setattr(CheckpointKeys, "iteration", "step_count")
    monkeypatch.setattr(CardKeys, "img_size", "side_px")
    make_dataset(tmp_path / "data", count=3)
    segm, recon = make_checkpoints(tmp_path / "data", tmp_path / "weights", img_size=32)
    raw = torch.load(recon, weights_only=True)
    assert "step_count" in raw and "iteration" not in raw
    assert load_model(PREDICT, RECONSTRUCTION, recon).iteration == 0

    card = export(segm, recon, tmp_path / "exported")
    on_disk = json.loads((tmp_path / "exported" / CARD).read_text())
    for entry in on_disk["models"].values():
        assert entry["side_px"] == 32 and "img_size" not in entry
    assert card == on_disk
    loaded = load_model(PREDICT, SEGMENTATION, tmp_path / "exported")
    assert loaded.trained_img_size == 32 and loaded.img_size(PREDICT) == 32


def test_a_newer_checkpoint_format_is_refused_in_one_line(checkpoints, tmp_path):
    data = torch.load(checkpoints[0], weights_only=True)
    data[CheckpointKeys.format_version] += 1
    newer = tmp_path / "model_segm_9_9.pth"
    torch.save(data, newer)
    with pytest.raises(CheckpointError, match="format version 2; this code reads up to 1") as err:
        load_checkpoint(newer)
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match="format version"):
        load_model(PREDICT, SEGMENTATION, newer)


def test_a_newer_card_format_is_refused_in_one_line(checkpoints, tmp_path):
    out = tmp_path / "exported"
    export(*checkpoints, out)
    card = json.loads((out / CARD).read_text())
    card[CardKeys.format_version] += 1
    (out / CARD).write_text(json.dumps(card))
    with pytest.raises(ExportError, match="card format 2; this code reads up to 1") as err:
        read_card(out)
    assert "\n" not in str(err.value)
    with pytest.raises(ExportError, match="card format"):
        load_model(PREDICT, RECONSTRUCTION, out)
