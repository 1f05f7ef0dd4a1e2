"""Trainers: one base (``trainers.base.Trainer``) and one subclass per stage."""

from trainers.base import Trainer, TrainingStopped
from trainers.reconstruction import ReconstructionTrainer
from trainers.segmentation import SegmentationTrainer

TRAINERS: dict[str, type[Trainer]] = {t.stage.name: t for t in (SegmentationTrainer, ReconstructionTrainer)}

__all__ = ["TRAINERS", "ReconstructionTrainer", "SegmentationTrainer", "Trainer", "TrainingStopped"]
