"""What both trainers share: the loop and its hooks, device, schedule, graceful stop, sample
grids, and DDP under torchrun (data: ``trainers.data``; checkpoints: ``trainers.checkpointing``).

A subclass sets ``stage`` (a ``stages.Stage``), makes its datasets in ``make_dataset``,
builds its models and optimizers in ``build`` and implements ``train_step`` (one batch ->
its ``Losses``, or ``SKIPPED``), ``validate`` and ``sample_columns`` (the pictures of a
sample grid).

Every run writes into its own folder, ``checkpoint_path/RUN`` (RUN: ``run_name``, or
``{stage}-YYYYmmdd-HHMMSS``), with its sample grids in ``sample_folder/RUN``, so two runs
never mix their checkpoints or logs; ``--resume CKPT`` continues in CKPT's folder.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from configs import Config
from core.device import autocast, autocast_dtype, pick_device
from datasets.base import collate_skip_broken
from stages import Stage
from trainers import run_folder
from trainers.checkpointing import Checkpointing
from trainers.data import TrainingData
from trainers.distributed import (
    DistContext,
    any_rank,
    barrier,
    broadcast_buffers,
    init_distributed,
    wrap_for_training,
)
from trainers.run_log import RunLog
from trainers.samples import sample_examples, write_grid
from trainers.stopping import StopRequest

log = logging.getLogger(__name__)

Losses = Mapping[str, float]
"""One training step's losses by name (``loss``, ``bce``; ``loss_G``, ...), as logged."""

SKIPPED: Losses = MappingProxyType({})
"""What ``train_step`` returns for a step it did not take (a non-finite loss, see ``step_ok``):
no losses. ``Trainer.step`` then restores the BatchNorm statistics the forward pass changed,
counts the skip, and stops training after ``max_nonfinite`` in a row."""


class TrainingStopped(RuntimeError):
    """Training cannot go on (e.g. the loss keeps being NaN); the last checkpoint is intact."""


class Trainer(TrainingData, Checkpointing):
    """Base trainer. Subclasses set ``stage``, make datasets in ``make_dataset`` and fill
    ``self.models`` (name -> module, saved under that name) and ``self.optimizers`` in ``build``;
    the data and checkpoint parts are ``trainers.data`` and ``trainers.checkpointing``."""

    stage: Stage

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
        self.train_set, self.val_set = self.datasets()
        if cfg.cache_images:
            for dataset in (self.train_set, self.val_set):
                if dataset is not None:
                    dataset.preload()
        self.build()
        for model in self.models.values():
            model.to(self.device)
            if self.on_cuda and cfg.channels_last:
                model.to(memory_format=torch.channels_last)
        self.schedulers = {name: torch.optim.lr_scheduler.MultiStepLR(opt, cfg.step_iters, cfg.gamma)
                           for name, opt in self.optimizers.items()}
        self.iteration = self.epoch = 0
        self.batch_in_epoch = 0  # batches of the current epoch already consumed
        self.nonfinite_in_row = 0
        self.stop = StopRequest(self.info)
        self.last_val: dict[str, float] = {}
        self.best_value: float | None = None
        self.last_checkpoint: Path | None = None
        self.last_samples = -1  # iteration of the last sample grid
        self.run_dir = run_folder.choose_run_dir(cfg, self.stage, self.dist, resume)
        self.sample_dir = Path(cfg.sample_folder) / self.run_dir.name
        self.log = RunLog(self.run_dir, self.stage.name, enabled=self.dist.is_main)
        if self.dist.is_main:
            run_folder.remove_partial_saves(self.run_dir)
        if resume is not None:
            self.resume(resume)
        elif cfg.init_weights:
            self.start_from(cfg.init_weights)
        self.train_models = {n: wrap_for_training(m, self.dist, self.device) for n, m in self.models.items()
                             if any(p.requires_grad for p in m.parameters())}
        if cfg.compile:
            self.train_models = {n: torch.compile(m) for n, m in self.train_models.items()}

    # --- to implement ------------------------------------------------------------------
    def build(self) -> None:
        raise NotImplementedError

    def train_step(self, batch: dict[str, Any]) -> Losses:
        """One optimisation step on a loader batch; ``SKIPPED`` when the update was not made."""
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        """Validation metrics (empty when there is no validation set)."""
        return {}

    def sample_columns(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """The columns of a sample grid for a device batch, each ``(B,C,H,W)`` in [0,1]
        (C = 1 or 3); called in eval mode."""
        raise NotImplementedError

    # --- helpers for subclasses ----------------------------------------------------------
    def autocast(self):
        """bf16 autocast on CUDA when ``amp`` is on (on the CPU with ``cpu_amp`` too); plain
        fp32 otherwise. Losses are computed in fp32 outside it."""
        return autocast(self.device, autocast_dtype(self.device, self.cfg.amp, self.cfg.cpu_amp))

    def step_ok(self, loss: torch.Tensor, what: str) -> bool:
        """False (and a warning) for a non-finite loss, so the caller skips the update and
        returns ``SKIPPED``; ``fit`` stops after ``max_nonfinite`` such steps in a row."""
        # Every rank must skip together, or DDP would wait forever in the next all-reduce.
        if not any_rank(not bool(torch.isfinite(loss).all()), self.dist, self.device):
            return True
        log.warning("iteration %d: %s loss is not finite; update skipped", self.iteration + 1, what)
        return False

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """Every model in eval mode (and no gradients) inside, back in train mode after."""
        for model in self.models.values():
            model.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            for model in self.models.values():
                model.train()

    # --- pictures and messages -----------------------------------------------------------
    def info(self, message: str) -> None:
        if self.dist.is_main:
            tqdm.write(message, file=sys.stdout)

    def write_samples(self) -> Path | None:
        """``sample_folder/RUN/{sample_prefix}{epoch}_{iter}.png``: one row per example (the
        first few of the validation set, else of the training set), ``sample_columns``
        across (rank 0 only)."""
        if not self.dist.is_main:
            return None
        items = sample_examples(self.val_set or self.train_set)
        if not items:
            return None
        with self.evaluating():
            columns = self.sample_columns(self.to_device(collate_skip_broken(items)))
        self.last_samples = self.iteration
        return write_grid(self.sample_dir / f"{self.stage.sample_prefix}{self.epoch}_{self.iteration}.png",
                          columns)

    # --- the loop ------------------------------------------------------------------------
    def fit(self) -> Path | None:
        """Train until ``num_epochs`` / ``max_iters``; returns the last checkpoint written
        (``_interrupted`` after Ctrl-C / SIGTERM)."""
        total = self.total_iterations()
        if self.iteration >= total:
            self.info(f"already finished: {self.iteration} of {total} iterations in {self.run_dir}; "
                      "nothing to train (raise num_epochs or max_iters to go on)")
            return self.last_checkpoint
        start = time.time()
        running: dict[str, float] = {}
        bar = tqdm(total=total, initial=self.iteration, desc=f"train {self.stage.name}", unit="it",
                   dynamic_ncols=True, disable=not self.dist.is_main)
        with self.stop.listening(), bar:
            while self.epoch < self.cfg.num_epochs and self.iteration < total:
                for batch in self.epoch_batches():
                    if any_rank(self.stop.requested, self.dist, self.device):
                        path = self.save("_interrupted")
                        self.info(f"saved {path}; continue with: python3 train.py {self.stage.name} "
                                  f"--resume {path}")
                        return path
                    self.batch_in_epoch += 1
                    if batch is not None:
                        self.after_step(self.step(batch), running, bar, total)
                    if self.iteration >= total:
                        break
                if self.batch_in_epoch >= self.batches_per_epoch():
                    self.end_epoch()
        return self.finish(time.time() - start)

    def step(self, batch: dict[str, Any]) -> Losses:
        """One optimisation step; a ``SKIPPED`` one is undone (BatchNorm statistics too) and
        counted, and too many in a row stop training."""
        undo = _buffer_restorer(self.models)
        losses = self.train_step(batch)
        if losses is not SKIPPED:
            self.nonfinite_in_row = 0
        else:
            undo()
            self.nonfinite_in_row += 1
            if self.nonfinite_in_row >= self.cfg.max_nonfinite:
                raise TrainingStopped(
                    f"the loss was not finite {self.nonfinite_in_row} times in a row; stopped at "
                    f"iteration {self.iteration + 1} with the last checkpoint intact. Likely causes: "
                    "learning rate too high (try a lower lr), damaged images, or amp=true on a GPU "
                    "without good bf16 support")
        self.iteration += 1
        with warnings.catch_warnings():
            # A skipped (non-finite) step leaves an optimizer unstepped; the schedule still
            # counts iterations, which is what we want.
            warnings.simplefilter("ignore", UserWarning)
            for sched in self.schedulers.values():
                sched.step()
        return losses

    def after_step(self, losses: Losses, running: dict[str, float], bar: tqdm, total: int) -> None:
        """Progress bar, log row, and the periodic print, sample grid and checkpoint."""
        cfg = self.cfg
        for k, v in losses.items():
            running[k] = v if k not in running else 0.9 * running[k] + 0.1 * v
        bar.update(1)
        bar.set_postfix({k: f"{v:.4g}" for k, v in running.items()}, refresh=False)
        lr = float(next(iter(self.optimizers.values())).param_groups[0]["lr"])
        self.log.step({"iteration": self.iteration, "epoch": self.epoch, "lr": lr, **losses})
        if self.iteration % cfg.print_per_iter == 0:
            self.info(f"[epoch {self.epoch} iter {self.iteration}/{total}] "
                      + " ".join(f"{k}={v:.4f}" for k, v in running.items()))
        if self.iteration % cfg.visualize_per_iter == 0:
            self.write_samples()
        if self.iteration % cfg.save_per_iter == 0:
            self.save()

    def end_epoch(self) -> None:
        metrics = self.validate() if self.dist.is_main else {}
        if metrics:
            self.info(f"[epoch {self.epoch}] validation: "
                      + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
            self.log.validation({"iteration": self.iteration, "epoch": self.epoch, **metrics})
        self.last_val = metrics
        self.save_if_best(metrics)
        self.epoch += 1
        self.batch_in_epoch = 0

    def finish(self, seconds: float) -> Path | None:
        """The end of a run: the final checkpoint and sample grid, the curves, a last line."""
        # DDP keeps parameters equal on every rank but each rank updates its own BatchNorm
        # statistics: end with rank 0's everywhere, the model rank 0 saves.
        broadcast_buffers(self.models.values(), self.dist)
        last = self.last_checkpoint
        if self.iteration and (last is None or self.stage.parse_checkpoint_name(last)[1] != self.iteration):
            self.save()
        if self.last_samples != self.iteration:
            self.write_samples()  # a short run still leaves a picture of itself
        self.log.draw(f"{self.stage.name}: iteration {self.iteration}")  # the last validation row
        barrier(self.dist)  # the job ends when rank 0's files are all written
        if self.dist.is_main:
            self.info(f"done: {self.iteration} iterations in {seconds:.0f} s; weights in "
                      f"{self.last_checkpoint}, samples in {self.sample_dir}")
        self.log.close()
        return self.last_checkpoint


def _buffer_restorer(models: dict[str, nn.Module]) -> Callable[[], None]:
    """A function that puts the models' buffers (BatchNorm statistics) back as they are now."""
    saved = [(b, b.detach().clone()) for m in models.values() for b in m.buffers()]

    def restore() -> None:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)

    return restore
