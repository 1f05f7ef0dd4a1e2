"""A trainer's data: the datasets, the order a run reads them in, and batches on the device.

A mixin of ``trainers.base.Trainer``: it reads the trainer's ``cfg``, ``dist``, ``device``
and its place in the run (``epoch``, ``batch_in_epoch``, ``iteration``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from configs import Config
from datasets.base import collate_skip_broken
from datasets.layout import TRAIN_ANNS, VAL_ANNS, resolve_annotations
from trainers.augment import augment
from trainers.distributed import DistContext


class TrainingData:
    """The datasets (``make_dataset`` is the stage's) and their batches."""

    cfg: Config
    dist: DistContext
    device: torch.device
    on_cuda: bool
    train_set: Dataset
    val_set: Dataset | None
    epoch: int
    batch_in_epoch: int
    iteration: int

    def make_dataset(self, root: str, anns: Path | None) -> Dataset:
        """The stage's dataset of the examples under ``root`` (those ``anns`` lists; None: all)."""
        raise NotImplementedError

    def datasets(self) -> tuple[Dataset, Dataset | None]:
        """The training set and the validation set (None: no validation) that ``train_anns`` /
        ``val_anns`` name under ``root_dir``, or else ``val_dir``; an empty validation CSV is none."""
        root, cfg = Path(self.cfg.root_dir), self.cfg
        val = resolve_annotations(root, cfg.val_anns, "val_anns", VAL_ANNS)
        if val is not None and not val.read_text(encoding="utf-8-sig").strip():
            val = None  # an empty split (prepared with --val-fraction 0): no validation
        train_anns = resolve_annotations(root, cfg.train_anns, "train_anns", TRAIN_ANNS)
        train = self.make_dataset(cfg.root_dir, train_anns)
        if val is not None:
            return train, self.make_dataset(cfg.root_dir, val)
        return train, self.make_dataset(cfg.val_dir, None) if cfg.val_dir else None

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

    def val_batches(self) -> Iterator[dict[str, Any]]:
        """The validation set's batches, on the device (broken examples left out)."""
        for batch in self.loader(self.val_set):
            if batch is not None:
                yield self.to_device(batch)
