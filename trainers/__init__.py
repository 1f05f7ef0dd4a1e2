"""Trainers: one base (``trainers.base.Trainer``) and one subclass per stage."""

from trainers.base import Trainer, TrainingStopped
from trainers.reconstruction import ReconstructionTrainer
from trainers.segmentation import SegmentationTrainer

TRAINERS: dict[str, type[Trainer]] = {"segm": SegmentationTrainer, "facemask": ReconstructionTrainer}

__all__ = ["TRAINERS", "ReconstructionTrainer", "SegmentationTrainer", "Trainer", "TrainingStopped"]
