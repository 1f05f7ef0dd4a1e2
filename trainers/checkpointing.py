"""A trainer's checkpoints: saving its state, resuming a run, starting from other weights, ``_best``.

A mixin of ``trainers.base.Trainer``; the file layout is ``modelfiles.checkpoint``'s, the run
folder's rules (rotation, the one ``_best``) ``trainers.run_folder``'s.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from configs import Config
from modelfiles.checkpoint import Checkpoint, CheckpointError, TrainingState, write_checkpoint
from stages import Stage
from trainers import run_folder
from trainers.distributed import DistContext
from trainers.run_log import RunLog

logger = logging.getLogger(__name__)


class Checkpointing:
    """``save``, ``resume``, ``start_from`` and ``save_if_best`` for a trainer (which also
    provides ``info`` and ``batches_per_epoch``)."""

    stage: Stage
    cfg: Config
    dist: DistContext
    models: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]
    train_set: Dataset
    val_set: Dataset | None
    run_dir: Path
    log: RunLog
    iteration: int
    epoch: int
    batch_in_epoch: int
    best_value: float | None
    last_checkpoint: Path | None

    def save(self, suffix: str = "") -> Path | None:
        """Write ``{prefix}{epoch}_{iter}{suffix}.pth`` into the run folder (rank 0 only) and
        redraw the curves; keep only the newest ``keep_last`` periodic checkpoints."""
        if not self.dist.is_main:
            return None
        state = TrainingState(self.iteration, self.epoch, self.batch_in_epoch, self.best_value,
                              {n: o.state_dict() for n, o in self.optimizers.items()},
                              {n: s.state_dict() for n, s in self.schedulers.items()}, torch.get_rng_state())
        examples = tuple(None if d is None else len(d) for d in (self.train_set, self.val_set))
        path = write_checkpoint(self.run_dir / self.stage.checkpoint_name(self.epoch, self.iteration, suffix),
                                self.stage.name, self.models, state, self.cfg.to_dict(), examples)
        self.log.draw(f"{self.stage.name}: iteration {self.iteration}")
        if not suffix:
            if self.cfg.keep_last:
                run_folder.drop_old_periodic(self.run_dir, self.stage, self.cfg.keep_last)
            self.last_checkpoint = path
        return path

    def start_from(self, path: str | Path) -> None:
        """Take the networks' weights from another run's checkpoint (a face prior trained on
        many faces, say) and train on from them with fresh optimizers, at iteration 0."""
        run_folder.read_start(path, self.stage, "init_weights").load_into(self.models)
        self.info(f"started from the weights of {path}")

    def resume(self, path: str | Path) -> None:
        """Continue the run ``path`` was saved in: weights, optimizers, schedule, position, RNG."""
        checkpoint = run_folder.read_start(path, self.stage, "--resume")
        checkpoint.load_into(self.models)
        state = checkpoint.training_state()
        if state is None:
            logger.warning("%s holds weights only: starting at iteration 0 from them", path)
            return
        self.restore(state, checkpoint)
        if self.batch_in_epoch >= self.batches_per_epoch():
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        self.log.resume_at(self.iteration)
        self.last_checkpoint = Path(path)
        self.info(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}")

    def restore(self, state: TrainingState, checkpoint: Checkpoint) -> None:
        try:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state.optimizers[name])
            for name, sched in self.schedulers.items():
                sched.load_state_dict(state.schedulers[name])
            torch.set_rng_state(state.rng)
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise CheckpointError(f"checkpoint {checkpoint.path} has incomplete training state ({err}); "
                                  "it holds weights but cannot be resumed") from None
        self.iteration, self.epoch, self.batch_in_epoch = state.iteration, state.epoch, state.batch_in_epoch
        self.best_value = state.best_value

    def save_if_best(self, metrics: dict[str, float]) -> None:
        """Keep one ``..._best.pth``: the checkpoint with the highest ``stage.best_metric``."""
        value = metrics.get(self.stage.best_metric)
        if value is None or value != value or not self.dist.is_main:
            return
        if self.best_value is not None and value <= self.best_value:
            return
        self.best_value = float(value)
        old = run_folder.best_checkpoints(self.run_dir, self.stage)
        path = self.save("_best")
        for p in old:
            if p != path:
                p.unlink(missing_ok=True)
        self.info(f"new best {self.stage.best_metric}={value:.4f}: {path}")
