"""Stage 1: train the mask segmenter with BCE + Dice on probabilities (never on thresholded
values: those have no gradient)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from datasets.segmentation import SegmentationDataset
from losses import DiceLoss
from metrics import DiceScore, PixelAccuracy
from models import MaskSegmenter
from stages import SEGMENTATION
from trainers.base import Trainer


class SegmentationTrainer(Trainer):
    """``python3 train.py segm``: checkpoints ``model_segm_{epoch}_{iter}.pth`` (key ``model``)."""

    stage = SEGMENTATION

    def build(self) -> None:
        cfg = self.cfg
        train_anns, val_anns = self.annotation_files()
        self.train_set = SegmentationDataset(cfg.root_dir, cfg.img_size, train_anns,
                                             cfg.masked_dir, cfg.binary_dir, cfg.cache_images)
        if val_anns is not None:
            self.val_set = SegmentationDataset(cfg.root_dir, cfg.img_size, val_anns,
                                               cfg.masked_dir, cfg.binary_dir, cfg.cache_images)
        elif cfg.val_dir:
            self.val_set = SegmentationDataset(cfg.val_dir, cfg.img_size, None, cfg.masked_dir,
                                               cfg.binary_dir, cfg.cache_images)
        self.models["model"] = MaskSegmenter(cfg.base_channels, cfg.depth, cfg.arch)
        self.optimizers["model"] = torch.optim.Adam(self.models["model"].parameters(), lr=cfg.lr)
        self.dice_loss = DiceLoss()

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        batch = self.augment_batch(self.to_device(batch), ("masked",))
        model, opt = self.train_models["model"], self.optimizers["model"]
        with self.autocast():
            logits = model(batch["masked"])
        logits = logits.float()
        bce = F.binary_cross_entropy_with_logits(logits, batch["mask"])
        dice = self.dice_loss(torch.sigmoid(logits), batch["mask"])
        loss = bce + self.cfg.lambda_dice * dice
        if not self.step_ok(loss, "segmentation"):
            return {}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "bce": bce.item(), "dice_loss": dice.item()}

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """``(B,3,H,W)`` in [0,1] -> ``(B,1,H,W)`` in {0,1} at threshold 0.5 (in eval mode)."""
        with self.autocast():
            return (self.models["model"](images) > 0).float()

    def validate(self) -> dict[str, float]:
        if self.val_set is None:
            return {}
        dice, acc = DiceScore(), PixelAccuracy()
        with self.evaluating():
            for batch in self.val_batches():
                pred = self.predict(batch["masked"])
                dice.update(pred, batch["mask"])
                acc.update(pred, batch["mask"])
        return {"dice": dice.compute(), "pixel_acc": acc.compute()}

    def sample_columns(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """Masked input | predicted mask | ground-truth mask."""
        return [batch["masked"], self.predict(batch["masked"]), batch["mask"]]
