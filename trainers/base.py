"""What both trainers share: the loop, device, data, schedule, checkpoints, resume, the
run's folder and log, graceful stop, and DDP under torchrun.

A subclass sets ``stage`` (a ``stages.Stage``), builds its models, optimizers and
datasets in ``build`` and implements ``train_step`` (one batch -> a dict of float losses,
empty when the step was skipped), ``validate`` and ``sample_columns`` (the pictures of a
sample grid).

Every run writes into its own folder, ``checkpoint_path/RUN`` (RUN: ``run_name``, or
``{stage}-YYYYmmdd-HHMMSS``), with its sample grids in ``sample_folder/RUN``, so two runs
never mix their checkpoints or logs; ``--resume CKPT`` continues in CKPT's folder.
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from configs import Config
from core.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    model_state,
    save_checkpoint,
)
from core.device import autocast, autocast_dtype, pick_device
from core.files import is_temp_sibling
from core.images import grid, tensor_to_image, write_image
from datasets.base import collate_skip_broken
from datasets.layout import TRAIN_ANNS, VAL_ANNS, resolve_annotations
from stages import Stage
from trainers.augment import augment
from trainers.distributed import (
    DistContext,
    any_rank,
    barrier,
    broadcast_buffers,
    broadcast_object,
    init_distributed,
)
from trainers.run_log import RunLog

log = logging.getLogger(__name__)
SAMPLE_ROWS = 4  # examples in a sample grid


class TrainingStopped(RuntimeError):
    """Training cannot go on (e.g. the loss keeps being NaN); the last checkpoint is intact."""


class Trainer:
    """Base trainer. Subclasses set ``stage`` and fill ``self.models`` (name -> module,
    saved under that name) and ``self.optimizers``."""

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
        self.last_val: dict[str, float] = {}
        self.best_value: float | None = None
        self.last_checkpoint: Path | None = None
        self.last_samples = -1  # iteration of the last sample grid
        self.run_dir = self.choose_run_dir(resume)
        self.sample_dir = Path(cfg.sample_folder) / self.run_dir.name
        self.log = RunLog(self.run_dir, self.stage.name, enabled=self.dist.is_main)
        if self.dist.is_main and self.run_dir.is_dir():
            for stale in self.run_dir.iterdir():  # left by a run killed while saving
                if is_temp_sibling(stale) and stale.suffix == ".pth":
                    stale.unlink(missing_ok=True)
        if resume is not None:
            self.resume(resume)
        elif cfg.init_weights:
            self.start_from(cfg.init_weights)
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

    def sample_columns(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """The columns of a sample grid for a device batch, each ``(B,C,H,W)`` in [0,1]
        (C = 1 or 3); called in eval mode."""
        raise NotImplementedError

    # --- the run folder ----------------------------------------------------------------
    def choose_run_dir(self, resume: str | Path | None) -> Path:
        """Where this run writes: the resumed checkpoint's folder, or a new run folder.

        A ``run_name`` whose folder already holds a run is refused (resume it instead), so
        one folder's logs and curves always describe one run.
        """
        if resume is not None:
            return Path(resume).parent
        base = Path(self.cfg.checkpoint_path)
        if self.cfg.run_name:
            folder = base / self.cfg.run_name
            if list_checkpoints(folder, self.stage) or self.log_files_in(folder):
                raise CheckpointError(
                    f"{folder} already holds a {self.stage.title} run; continue it with --resume "
                    f"CKPT, or give another run_name (none: a new timestamped folder)")
            return folder
        name = None
        if self.dist.is_main:  # the other ranks take rank 0's name (their clocks may differ)
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            base.mkdir(parents=True, exist_ok=True)
            for k in range(1, 1000):
                name = f"{self.stage.name}-{stamp}" + (f"-{k}" if k > 1 else "")
                try:
                    (base / name).mkdir()  # claimed: a run started in the same second takes -2
                    break
                except FileExistsError:
                    continue
        return base / broadcast_object(name, self.dist)

    def log_files_in(self, folder: Path) -> list[Path]:
        return [p for p in (folder / f"{self.stage.name}_log.csv", folder / f"{self.stage.name}_val.csv")
                if p.is_file()]

    # --- helpers for subclasses ----------------------------------------------------------
    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        ids = [self.device.index] if self.on_cuda else None
        return DistributedDataParallel(model, device_ids=ids)

    def autocast(self):
        """bf16 autocast on CUDA when ``amp`` is on (on the CPU with ``cpu_amp`` too); plain
        fp32 otherwise. Losses are computed in fp32 outside it."""
        return autocast(self.device, autocast_dtype(self.device, self.cfg.amp, self.cfg.cpu_amp))

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in batch.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                value = value.to(self.device, non_blocking=True)
                if self.on_cuda and self.cfg.channels_last and value.ndim == 4:
                    value = value.contiguous(memory_format=torch.channels_last)
            out[key] = value
        return out

    def augment_batch(self, batch: dict[str, Any], image_keys: tuple[str, ...],
                      mask_keys: tuple[str, ...] = ("mask",)) -> dict[str, Any]:
        """The device batch with ``flip`` and ``augment`` applied (``trainers.augment``): the
        same draw for every key of a sample."""
        if not self.cfg.flip and self.cfg.augment == "none":
            return batch
        return augment(batch, image_keys, mask_keys, self.cfg.augment, self.cfg.flip,
                       self.augmentation_rng())

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

    def val_batches(self) -> Iterator[dict[str, Any]]:
        """The validation set's batches, on the device (broken examples left out)."""
        for batch in self.loader(self.val_set):
            if batch is not None:
                yield self.to_device(batch)

    # --- data ----------------------------------------------------------------------------
    def annotation_files(self) -> tuple[Path | None, Path | None]:
        """The train and validation CSVs ``train_anns`` / ``val_anns`` name under ``root_dir``
        (None: use every example / no validation split; an empty validation CSV is none)."""
        root, cfg = Path(self.cfg.root_dir), self.cfg
        val = resolve_annotations(root, cfg.val_anns, "val_anns", VAL_ANNS)
        if val is not None and not val.read_text(encoding="utf-8-sig").strip():
            val = None  # an empty split (prepared with --val-fraction 0): no validation
        return resolve_annotations(root, cfg.train_anns, "train_anns", TRAIN_ANNS), val

    def sampler(self, dataset: Dataset, shuffle: bool) -> DistributedSampler:
        # DistributedSampler also serves a single process: its shuffle depends only on
        # (seed, epoch), so a resumed run sees the same order as an uninterrupted one.
        return DistributedSampler(dataset, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                  shuffle=shuffle, seed=self.cfg.seed, drop_last=False)

    def loader(self, dataset: Dataset, indices: list[int] | None = None) -> DataLoader:
        # Worker processes and pinned memory pay off feeding a GPU; on the CPU they would
        # take cores from the step itself, which costs 20-200x more than decoding its
        # images (benchmarks/speed.py).
        workers = self.cfg.num_workers if self.on_cuda else 0
        return DataLoader(dataset, batch_size=self.cfg.batch_size, sampler=indices, shuffle=False,
                          num_workers=workers, collate_fn=collate_skip_broken, pin_memory=self.on_cuda,
                          persistent_workers=False)

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.sampler(self.train_set, True)) / self.cfg.batch_size)

    def total_iterations(self) -> int:
        total = self.cfg.num_epochs * self.batches_per_epoch()
        return min(total, self.cfg.max_iters) if self.cfg.max_iters else total

    def epoch_batches(self) -> Iterator[dict[str, Any] | None]:
        """This epoch's batches from where the last run stopped (skips consumed ones
        without loading them); None for a batch whose every image failed to load."""
        sampler = self.sampler(self.train_set, True)
        sampler.set_epoch(self.epoch)
        indices = list(sampler)[self.batch_in_epoch * self.cfg.batch_size:]
        return iter(self.loader(self.train_set, indices))

    # --- checkpoints ---------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "kind": self.stage.name,
            "specs": {name: dict(getattr(m, "spec", {})) for name, m in self.models.items()},
            "iteration": self.iteration,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
            "rng": {"torch": torch.get_rng_state()},
            "best_value": self.best_value,
            "config": self.cfg.to_dict(),
            # What the model saw, for a model card (export.py): the counts are lost with the data.
            "data": {"train_examples": len(self.train_set) if self.train_set is not None else None,
                     "val_examples": len(self.val_set) if self.val_set is not None else None},
        }
        for name, model in self.models.items():
            payload[name] = model.state_dict()
        return payload

    def save(self, suffix: str = "") -> Path | None:
        """Write ``{prefix}{epoch}_{iter}{suffix}.pth`` into the run folder (rank 0 only) and
        redraw the curves; keep only the newest ``keep_last`` periodic checkpoints."""
        if not self.dist.is_main:
            return None
        path = self.run_dir / self.stage.checkpoint_name(self.epoch, self.iteration, suffix)
        save_checkpoint(path, self.state())
        self.log.draw(f"{self.stage.name}: iteration {self.iteration}")
        if self.cfg.keep_last and not suffix:
            periodic = [p for p in list_checkpoints(self.run_dir, self.stage)
                        if p.stem.endswith(f"_{self.stage.parse_checkpoint_name(p)[1]}")]
            for old in periodic[: -self.cfg.keep_last]:
                old.unlink(missing_ok=True)
        if not suffix:
            self.last_checkpoint = path
        return path

    def start_from(self, path: str | Path) -> None:
        """Take the networks' weights from another run's checkpoint (a face prior trained on
        many faces, say) and train on from them with fresh optimizers, at iteration 0."""
        path = Path(path)
        data = load_checkpoint(path)
        if data.get("kind") not in (None, self.stage.name):
            raise CheckpointError(f"init_weights {path} is a '{data['kind']}' checkpoint, not "
                                  f"'{self.stage.name}'")
        for name, model in self.models.items():
            load_weights(model, model_state(data, name, path), path, name)
        self.info(f"started from the weights of {path}")

    def resume(self, path: str | Path) -> None:
        path = Path(path)
        data = load_checkpoint(path)
        kind = data.get("kind")
        if kind is not None and kind != self.stage.name:
            raise CheckpointError(f"checkpoint {path} is a '{kind}' checkpoint; "
                                  f"it cannot resume '{self.stage.name}' training")
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
        self.log.resume_at(self.iteration)
        self.last_checkpoint = path
        self.info(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}")

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
        dataset = self.val_set or self.train_set
        items = [i for i in (dataset[k] for k in range(min(SAMPLE_ROWS, len(dataset)))) if i is not None]
        if not items:
            return None
        with self.evaluating():
            columns = self.sample_columns(self.to_device(collate_skip_broken(items)))
        rows = [[tensor_to_image(column[k]) for column in columns] for k in range(len(items))]
        path = self.sample_dir / f"{self.stage.sample_prefix}{self.epoch}_{self.iteration}.png"
        write_image(path, grid(rows))
        self.last_samples = self.iteration
        return path

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
        with self.graceful_stop(), bar:
            while self.epoch < self.cfg.num_epochs and self.iteration < total:
                for batch in self.epoch_batches():
                    if any_rank(self.stop_requested, self.dist, self.device):
                        path = self.save("_interrupted")
                        self.info(f"saved {path}; continue with --resume {path}")
                        return path
                    self.batch_in_epoch += 1
                    if batch is not None:
                        losses = self.step(batch)
                        self.after_step(losses, running, bar, total)
                    if self.iteration >= total:
                        break
                if self.batch_in_epoch >= self.batches_per_epoch():
                    self.end_epoch()
        return self.finish(time.time() - start)

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step; a non-finite one is undone (BatchNorm statistics too) and
        counted, and too many in a row stop training."""
        buffers = {f"{n}.{k}": b.detach().clone() for n, m in self.models.items()
                   for k, b in m.named_buffers()}
        losses = self.train_step(batch)
        if losses:
            self.nonfinite_in_row = 0
        else:
            with torch.no_grad():
                for n, m in self.models.items():
                    for k, b in m.named_buffers():
                        b.copy_(buffers[f"{n}.{k}"])
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

    def after_step(self, losses: dict[str, float], running: dict[str, float], bar: tqdm, total: int) -> None:
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

    def save_if_best(self, metrics: dict[str, float]) -> None:
        """Keep one ``..._best.pth``: the checkpoint with the highest ``stage.best_metric``."""
        value = metrics.get(self.stage.best_metric)
        if value is None or value != value or not self.dist.is_main:
            return
        if self.best_value is not None and value <= self.best_value:
            return
        self.best_value = float(value)
        old = [p for p in self.run_dir.glob("*_best.pth") if self.stage.parse_checkpoint_name(p)]
        path = self.save("_best")
        for p in old:
            if p != path:
                p.unlink(missing_ok=True)
        self.info(f"new best {self.stage.best_metric}={value:.4f}: {path}")

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
