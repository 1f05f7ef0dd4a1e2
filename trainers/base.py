"""What both trainers share: device, seeding, data loading, the loop, schedule,
checkpoints, resume, logging, graceful stop, and DDP under torchrun.

A subclass builds its models, optimizers and datasets in ``build`` and implements
``train_step`` (one batch -> a dict of float losses) and ``validate``.
"""

from __future__ import annotations

import csv
import logging
import math
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from configs import Config
from datasets import collate_skip_broken
from trainers.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    checkpoint_name,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    model_state,
    parse_name,
    save_checkpoint,
)
from trainers.curves import draw_curves
from trainers.distributed import (
    DistContext,
    any_rank,
    autocast_dtype,
    barrier,
    broadcast_buffers,
    init_distributed,
    pick_device,
)
from trainers.events import EventLog

log = logging.getLogger(__name__)


class TrainingStopped(RuntimeError):
    """Training cannot go on (e.g. the loss keeps being NaN); the last checkpoint is intact."""


class Trainer:
    """Base trainer. Subclasses set ``kind`` ("segm" or "facemask") and fill
    ``self.models`` (name -> module, saved under that name) and ``self.optimizers``.
    """

    kind = ""
    best_metric = ""  # validation metric (higher is better) that picks the _best checkpoint
    sample_prefix = ""  # sample grids are {prefix}{epoch}_{iter}.png in sample_folder

    def __init__(self, cfg: Config, resume: str | Path | None = None) -> None:
        self.cfg = cfg
        self.dist: DistContext = init_distributed(cfg.device)
        self.device = pick_device(cfg.device, self.dist.local_rank)
        self.on_cuda = self.device.type == "cuda"
        if self.on_cuda:
            torch.backends.cudnn.benchmark = True
        torch.manual_seed(cfg.seed)
        self.models: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.build()
        if cfg.cache_images:
            for dataset in (self.train_set, self.val_set):
                if dataset is not None:
                    dataset.preload()
        for model in self.models.values():
            model.to(self.device)
            if self.on_cuda and cfg.channels_last:
                model.to(memory_format=torch.channels_last)
        self.schedulers = {name: torch.optim.lr_scheduler.MultiStepLR(opt, cfg.step_iters, cfg.gamma)
                           for name, opt in self.optimizers.items()}
        self.iteration = 0
        self.epoch = 0
        self.batch_in_epoch = 0  # batches of the current epoch already consumed
        self.nonfinite_in_row = 0
        self.stop_requested = False
        self.ckpt_dir = Path(cfg.checkpoint_path)
        self.sample_dir = Path(cfg.sample_folder)
        self.log_path = self.ckpt_dir / f"{self.kind}_log.csv"
        self.val_log_path = self.ckpt_dir / f"{self.kind}_val.csv"
        self.curves_path = self.ckpt_dir / f"{self.kind}_curves.png"
        self.events = EventLog(self.ckpt_dir / "tensorboard" / self.kind)
        self.last_val: dict[str, float] = {}
        self.best_value: float | None = None
        if self.dist.is_main and self.ckpt_dir.is_dir():
            for stale in self.ckpt_dir.glob(".*.pth.tmp"):  # left by a run killed while saving
                stale.unlink(missing_ok=True)
        if resume is not None:
            self.resume(resume)
        self.train_models = {n: self._wrap(m) for n, m in self.models.items()
                             if any(p.requires_grad for p in m.parameters())}
        if cfg.compile:
            self.train_models = {n: torch.compile(m) for n, m in self.train_models.items()}

    # --- to implement ------------------------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        """Validation metrics (empty when there is no validation set)."""
        return {}

    def write_samples(self, path: Path) -> None:
        """Write a picture of the current predictions to ``path``."""

    def model_specs(self) -> dict[str, dict]:
        return {name: dict(getattr(m, "spec", {})) for name, m in self.models.items()}

    # --- helpers for subclasses ----------------------------------------------------------
    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        ids = [self.device.index] if self.on_cuda else None
        return DistributedDataParallel(model, device_ids=ids)

    def autocast(self):
        """bf16 autocast on CUDA when ``amp`` is on (on the CPU with ``cpu_amp`` too); plain
        fp32 otherwise. Losses are computed in fp32 outside it."""
        dtype = autocast_dtype(self.device, self.cfg.amp, self.cfg.cpu_amp)
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in batch.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                value = value.to(self.device, non_blocking=True)
                if self.on_cuda and self.cfg.channels_last and value.ndim == 4:
                    value = value.contiguous(memory_format=torch.channels_last)
            out[key] = value
        return out

    def flip_batch(self, batch: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        """Mirror a random half of the batch left-right (same flip for all ``keys``)."""
        if not self.cfg.flip:
            return batch
        n = batch[keys[0]].shape[0]
        flip = (torch.rand(n, generator=self.augmentation_rng()) < 0.5).to(self.device).view(n, 1, 1, 1)
        for key in keys:
            batch[key] = torch.where(flip, batch[key].flip(-1), batch[key])
        return batch

    def augmentation_rng(self) -> torch.Generator:
        """This step's augmentation randomness: a function of (seed, rank, iteration) only, so
        every rank draws differently and a resumed run (any rank) draws what it would have."""
        seed = (self.cfg.seed * 65_536 + self.dist.rank) * 2**32 + self.iteration
        return torch.Generator().manual_seed(seed % 2**63)

    def step_ok(self, loss: torch.Tensor, what: str) -> bool:
        """False (and a warning) for a non-finite loss, so the caller skips the update and
        returns no losses; ``fit`` stops after ``max_nonfinite`` such steps in a row."""
        # Every rank must skip together, or DDP would wait forever in the next all-reduce.
        if not any_rank(not bool(torch.isfinite(loss).all()), self.dist, self.device):
            return True
        log.warning("iteration %d: %s loss is not finite; update skipped", self.iteration + 1, what)
        return False

    def buffer_snapshot(self) -> dict[str, torch.Tensor]:
        """Copies of the models' buffers (BatchNorm statistics: a few KB)."""
        return {f"{n}.{k}": b.detach().clone() for n, m in self.models.items()
                for k, b in m.named_buffers()}

    def restore_buffers(self, snapshot: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for n, m in self.models.items():
                for k, b in m.named_buffers():
                    if f"{n}.{k}" in snapshot:
                        b.copy_(snapshot[f"{n}.{k}"])

    # --- data ----------------------------------------------------------------------------
    def sampler(self, dataset: Dataset, shuffle: bool) -> DistributedSampler:
        # DistributedSampler also serves a single process: its shuffle depends only on
        # (seed, epoch), so a resumed run sees the same order as an uninterrupted one.
        return DistributedSampler(dataset, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                  shuffle=shuffle, seed=self.cfg.seed, drop_last=False)

    def loader(self, dataset: Dataset, indices: list[int] | None = None,
               batch_size: int | None = None) -> DataLoader:
        # Worker processes and pinned memory pay off feeding a GPU; on the CPU they would
        # take cores from the step itself, which costs 20-200x more than decoding its
        # images (benchmarks/speed.py).
        workers = self.cfg.num_workers if self.on_cuda else 0
        return DataLoader(dataset, batch_size=batch_size or self.cfg.batch_size,
                          sampler=indices, shuffle=False, num_workers=workers,
                          collate_fn=collate_skip_broken, pin_memory=self.on_cuda,
                          persistent_workers=False)

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.sampler(self.train_set, True)) / self.cfg.batch_size)

    def total_iterations(self) -> int:
        total = self.cfg.num_epochs * self.batches_per_epoch()
        return min(total, self.cfg.max_iters) if self.cfg.max_iters else total

    def epoch_batches(self) -> Iterator[dict[str, Any] | None]:
        """This epoch's batches from where the last run stopped (skips consumed ones
        without loading them)."""
        sampler = self.sampler(self.train_set, True)
        sampler.set_epoch(self.epoch)
        indices = list(sampler)[self.batch_in_epoch * self.cfg.batch_size:]
        return iter(self.loader(self.train_set, indices))

    # --- checkpoints ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "specs": self.model_specs(),
            "iteration": self.iteration,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
            "rng": {"torch": torch.get_rng_state()},
            "best_value": self.best_value,
            "config": self.cfg.to_dict(),
        }
        for name, model in self.models.items():
            payload[name] = model.state_dict()
        return payload

    def save(self, suffix: str = "") -> Path | None:
        """Write ``model[_segm]_{epoch}_{iter}{suffix}.pth`` (rank 0 only)."""
        if not self.dist.is_main:
            return None
        path = self.ckpt_dir / checkpoint_name(self.kind, self.epoch, self.iteration, suffix)
        save_checkpoint(path, self.state())
        self.draw_curves()
        self.events.flush()
        if self.cfg.keep_last and not suffix:
            periodic = [p for p in list_checkpoints(self.ckpt_dir, self.kind)
                        if p.stem.endswith(f"_{parse_name(self.kind, p)[1]}")]
            for old in periodic[: -self.cfg.keep_last]:
                old.unlink(missing_ok=True)
        return path

    def resume(self, path: str | Path) -> None:
        path = Path(path)
        data = load_checkpoint(path)
        kind = data.get("kind")
        if kind is not None and kind != self.kind:
            raise CheckpointError(f"checkpoint {path} is a '{kind}' checkpoint; "
                                  f"it cannot resume '{self.kind}' training")
        for name, model in self.models.items():
            load_weights(model, model_state(data, name, path), path, name)
        if "iteration" not in data:
            log.warning("%s holds weights only: starting at iteration 0 from them", path)
            return
        try:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(data["optimizers"][name])
            for name, sched in self.schedulers.items():
                sched.load_state_dict(data["schedulers"][name])
            self.iteration = int(data["iteration"])
            self.epoch = int(data["epoch"])
            self.batch_in_epoch = int(data.get("batch_in_epoch", 0))
            self.best_value = data.get("best_value")
            torch.set_rng_state(data["rng"]["torch"])
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {path} has incomplete training state ({err}); "
                                  "it holds weights but cannot be resumed") from None
        if self.batch_in_epoch >= self.batches_per_epoch():
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        self.trim_logs()
        self.events.purge_step = self.iteration + 1  # TensorBoard drops the stopped run's later steps
        self.info(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}")

    # --- logging -------------------------------------------------------------------------
    def info(self, message: str) -> None:
        if self.dist.is_main:
            tqdm.write(message, file=sys.stdout)

    def write_log_row(self, row: dict[str, Any], path: Path | None = None) -> None:
        """Append one row to the run's CSV log (rank 0): per-step losses go to
        ``{checkpoint_path}/{kind}_log.csv``, validation metrics to ``{kind}_val.csv``."""
        if not self.dist.is_main:
            return
        path = path or self.log_path
        path.parent.mkdir(parents=True, exist_ok=True)
        fields = list(row)
        if path.exists() and path.stat().st_size:
            with open(path, newline="") as f:
                fields = next(csv.reader(f), fields)
        new = not path.exists() or not path.stat().st_size
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.events.add(row, "val" if path == self.val_log_path else "train")

    def draw_curves(self) -> Path | None:
        """Redraw ``{kind}_curves.png`` from the CSV logs (rank 0; called at each save)."""
        if not self.dist.is_main:
            return None
        try:
            return draw_curves(self.log_path, self.val_log_path, self.curves_path,
                               title=f"{self.kind}: iteration {self.iteration}")
        except Exception as err:  # a picture must never cost a training run
            log.warning("could not draw the training curves %s: %s", self.curves_path, err)
            return None

    def trim_logs(self) -> None:
        """Drop log rows past the resumed iteration (written after that checkpoint)."""
        for path in (self.log_path, self.val_log_path):
            if not self.dist.is_main or not path.exists():
                continue
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            if not rows:
                continue
            kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= self.iteration]
            with open(path, "w", newline="") as f:
                csv.writer(f).writerows(kept)

    # --- stopping ------------------------------------------------------------------------
    @contextmanager
    def graceful_stop(self):
        """First Ctrl-C / SIGTERM: finish the current step, save ``_interrupted``, exit.
        A second Ctrl-C aborts at once."""
        def request(signum, frame):
            if self.stop_requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop_requested = True
            self.info(f"\n{signal.Signals(signum).name} received: stopping after this step "
                      "(press Ctrl-C again to abort without saving)")

        try:
            old = {s: signal.signal(s, request) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: no signal handling
            old = {}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    # --- the loop ------------------------------------------------------------------------
    def fit(self) -> Path | None:
        """Train until ``num_epochs`` / ``max_iters``; returns the last checkpoint written."""
        cfg = self.cfg
        total = self.total_iterations()
        last: Path | None = None
        running: dict[str, float] = {}
        bar = tqdm(total=total, initial=min(self.iteration, total), desc=f"train {self.kind}",
                   unit="it", dynamic_ncols=True, disable=not self.dist.is_main)
        t0 = time.time()
        with self.graceful_stop(), bar:
            while self.epoch < cfg.num_epochs and self.iteration < total:
                for model in self.models.values():
                    model.train()
                batches = self.epoch_batches()
                while self.iteration < total:
                    if any_rank(self.stop_requested, self.dist, self.device):
                        last = self.save("_interrupted")
                        self.info(f"saved {last}; continue with --resume {last}")
                        return last
                    try:
                        batch = next(batches)
                    except StopIteration:
                        break
                    self.batch_in_epoch += 1
                    if batch is None:
                        continue  # every image in it failed to load (already warned)
                    buffers = self.buffer_snapshot()
                    losses = self.train_step(batch)
                    if not losses:  # non-finite loss, update skipped: undo BatchNorm statistics too
                        self.restore_buffers(buffers)
                        self.nonfinite_in_row += 1
                        if self.nonfinite_in_row >= cfg.max_nonfinite:
                            raise TrainingStopped(
                                f"the loss was not finite {self.nonfinite_in_row} times in a row; "
                                f"stopped at iteration {self.iteration + 1} with the last checkpoint "
                                "intact. Likely causes: learning rate too high (try a lower lr), "
                                "damaged images, or amp=true on a GPU without good bf16 support")
                    else:
                        self.nonfinite_in_row = 0
                    self.iteration += 1
                    with warnings.catch_warnings():
                        # A skipped (non-finite) step leaves an optimizer unstepped; the schedule
                        # still counts iterations, which is what we want.
                        warnings.simplefilter("ignore", UserWarning)
                        for sched in self.schedulers.values():
                            sched.step()
                    for k, v in losses.items():
                        running[k] = v if k not in running else 0.9 * running[k] + 0.1 * v
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in running.items()}, refresh=False)
                    self.write_log_row({"iteration": self.iteration, "epoch": self.epoch,
                                        "lr": self.current_lr(), **losses})
                    if self.iteration % cfg.print_per_iter == 0:
                        self.info(f"[epoch {self.epoch} iter {self.iteration}/{total}] "
                                  + " ".join(f"{k}={v:.4f}" for k, v in running.items()))
                    if self.iteration % cfg.visualize_per_iter == 0 and self.dist.is_main:
                        self.write_samples(self.sample_dir /
                                           f"{self.sample_prefix}{self.epoch}_{self.iteration}.png")
                    if self.iteration % cfg.save_per_iter == 0:
                        last = self.save() or last
                if self.batch_in_epoch >= self.batches_per_epoch():
                    self.end_epoch()
        # DDP keeps parameters equal on every rank but each rank updates its own BatchNorm
        # statistics: end with rank 0's everywhere, the model rank 0 saves.
        broadcast_buffers(self.models.values(), self.dist)
        if self.iteration and (last is None or parse_name(self.kind, last)[1] != self.iteration):
            last = self.save() or last
        self.draw_curves()  # the last epoch's validation row came after the last save
        barrier(self.dist)  # the job ends when rank 0's files are all written
        if self.dist.is_main:
            self.info(f"done: {self.iteration} iterations in {time.time() - t0:.0f} s"
                      + (f"; weights in {last}" if last else ""))
        self.events.close()  # every save flushed it; this ends the event file cleanly
        return last

    def end_epoch(self) -> None:
        metrics = self.validate() if self.dist.is_main else {}
        if metrics:
            self.info(f"[epoch {self.epoch}] validation: "
                      + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
            self.write_log_row({"iteration": self.iteration, "epoch": self.epoch, **metrics},
                               self.val_log_path)
        self.last_val = metrics
        self.save_if_best(metrics)
        self.epoch += 1
        self.batch_in_epoch = 0

    def save_if_best(self, metrics: dict[str, float]) -> None:
        """Keep one ``..._best.pth``: the checkpoint with the highest ``best_metric``."""
        value = metrics.get(self.best_metric)
        if value is None or value != value or not self.dist.is_main:
            return
        if self.best_value is not None and value <= self.best_value:
            return
        self.best_value = float(value)
        old = [p for p in self.ckpt_dir.glob("*_best.pth") if parse_name(self.kind, p)]
        path = self.save("_best")
        for p in old:
            if p != path:
                p.unlink(missing_ok=True)
        self.info(f"new best {self.best_metric}={value:.4f}: {path}")

    def current_lr(self) -> float:
        opt = next(iter(self.optimizers.values()))
        return float(opt.param_groups[0]["lr"])
