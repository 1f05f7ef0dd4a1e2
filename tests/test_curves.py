"""Training curves (PNG from the CSV logs, redrawn at each save) and optional TensorBoard events."""

from __future__ import annotations

import csv
import math

import pytest
from conftest import tiny_settings
from PIL import Image
from synthetic import blob_pairs

import trainers.events
import trainers.run_log
from configs import Config
from helpers_infer import one_torch_thread  # noqa: F401 (autouse fixture)
from trainers import SegmentationTrainer
from trainers.curves import draw_curves, moving_average, read_series
from trainers.events import EventLog, tensorboard_writer_factory


def png_rows(path) -> str:
    """What the PNG says it was drawn from (its ``Rows`` text chunk)."""
    with Image.open(path) as image:
        image.load()
        return image.text["Rows"]


def write_csv(path, header, rows) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_png_reflects_both_logs(tmp_path):
    write_csv(tmp_path / "log.csv", ["iteration", "epoch", "lr", "loss", "bce"],
              [[i, i // 5, 0.001, 1 / i, 0.5 / i] for i in range(1, 18)])
    write_csv(tmp_path / "val.csv", ["iteration", "epoch", "dice"], [[5, 0, 0.5], [10, 1, 0.7], [15, 2, 0.8]])
    png = draw_curves(tmp_path / "log.csv", tmp_path / "val.csv", tmp_path / "curves.png", "segm")
    assert png == tmp_path / "curves.png"
    assert png_rows(png) == "steps=17 val=3"
    with Image.open(png) as image:
        # three panels (loss, bce, val dice) side by side: wider than tall
        assert image.width > image.height > 100
    assert not list(tmp_path.glob(".*tmp*")), "the temporary file was left behind"


def test_no_rows_no_picture(tmp_path):
    assert draw_curves(tmp_path / "missing.csv", tmp_path / "missing_val.csv", tmp_path / "c.png") is None
    assert not (tmp_path / "c.png").exists()


def test_series_reading_and_smoothing(tmp_path):
    write_csv(tmp_path / "log.csv", ["iteration", "epoch", "loss_G", "per"],
              [[1, 0, 4.0, ""], [2, 0, 2.0, 1.0]])
    steps, series = read_series(tmp_path / "log.csv")
    assert steps == [1.0, 2.0] and list(series) == ["loss_G", "per"]
    assert math.isnan(series["per"][0]) and series["per"][1] == 1.0
    smooth = moving_average([4.0, math.nan, 2.0], weight=0.5)
    assert smooth == [4.0, 4.0, 3.0]  # a NaN (skipped step) neither breaks nor moves the average


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    return blob_pairs(tmp_path_factory.mktemp("blobs"), n_train=8, n_val=4, size=32)


def _segm_trainer(tmp_path, root, **extra) -> SegmentationTrainer:
    """Three epochs of two steps each, a checkpoint every two steps."""
    cfg = Config.from_dict(tiny_settings(
        tmp_path, task="segm", root_dir=str(root), train_anns=str(root / "annotations/train.csv"),
        val_anns=str(root / "annotations/val.csv"), img_size=32, depth=2, batch_size=4, num_epochs=3,
        save_per_iter=2, **extra))
    return SegmentationTrainer(cfg)


def test_trainer_redraws_the_curves_at_each_save(tmp_path, blobs, monkeypatch):
    drawn: list[str] = []

    def recording_draw(*args, **kwargs):
        png = draw_curves(*args, **kwargs)
        drawn.append(png_rows(png))
        return png

    monkeypatch.setattr(trainers.run_log, "draw_curves", recording_draw)
    trainer = _segm_trainer(tmp_path, blobs)
    trainer.fit()
    weights = trainer.run_dir
    with open(weights / "segm_log.csv") as f:
        steps = sum(1 for _ in f) - 1
    with open(weights / "segm_val.csv") as f:
        epochs = sum(1 for _ in f) - 1
    assert (steps, epochs) == (trainer.iteration, 3) == (6, 3)
    # The picture on disk is the last state of both logs (the last validation included)...
    assert png_rows(weights / "segm_curves.png") == f"steps={steps} val={epochs}"
    # ...and each save redrew it: at iterations 2, 4 and 6 (plus the saves of a new best).
    step_counts = [int(rows.split()[0].split("=")[1]) for rows in drawn]
    assert {2, 4, 6} <= set(step_counts) and step_counts == sorted(step_counts)


class FakeWriter:
    """Stands in for ``SummaryWriter``: records what it is asked to write."""

    instances: list[FakeWriter] = []

    def __init__(self, log_dir: str, purge_step: int | None = None) -> None:
        self.log_dir, self.purge_step = log_dir, purge_step
        self.scalars: list[tuple[str, float, int]] = []
        self.closed = False
        FakeWriter.instances.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_event_log_writes_numeric_columns(tmp_path):
    events = EventLog(tmp_path / "tb", purge_step=7, factory=FakeWriter)
    events.add({"iteration": 7, "epoch": 0, "lr": 0.001, "loss": 0.5, "nan": math.nan}, "train")
    events.add({"iteration": 8, "epoch": 0, "dice": 0.75}, "val")
    writer = FakeWriter.instances[-1]
    assert writer.purge_step == 7 and (tmp_path / "tb").is_dir()
    assert writer.scalars == [("train/lr", 0.001, 7), ("train/loss", 0.5, 7), ("val/dice", 0.75, 8)]
    events.close()
    assert writer.closed


def test_trainer_sends_every_logged_row_to_tensorboard(tmp_path, blobs, monkeypatch):
    FakeWriter.instances.clear()
    monkeypatch.setattr(trainers.events, "tensorboard_writer_factory", lambda: FakeWriter)
    trainer = _segm_trainer(tmp_path, blobs)
    trainer.fit()
    (writer,) = FakeWriter.instances
    losses = [s for s in writer.scalars if s[0] == "train/loss"]
    assert [step for _, _, step in losses] == list(range(1, trainer.iteration + 1))
    assert len([s for s in writer.scalars if s[0] == "val/dice"]) == 3
    assert writer.log_dir == str(trainer.run_dir / "tensorboard") and writer.closed


@pytest.mark.skipif(tensorboard_writer_factory() is not None, reason="tensorboard is installed")
def test_without_tensorboard_nothing_is_written(tmp_path, blobs):
    trainer = _segm_trainer(tmp_path, blobs)
    trainer.fit()
    assert not trainer.log.events.enabled
    assert not (trainer.run_dir / "tensorboard").exists()
