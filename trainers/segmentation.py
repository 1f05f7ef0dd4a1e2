"""Stage 1: train the mask segmenter with BCE + Dice on probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from datasets import SegmentationDataset, collate_skip_broken
from datasets.images import grid, tensor_to_image, write_image
from losses import DiceLoss
from metrics import DiceScore, PixelAccuracy
from models import MaskSegmenter
from trainers.base import Trainer

SAMPLE_ROWS = 4


class SegmentationTrainer(Trainer):
    """``python3 train.py segm``: checkpoints ``model_segm_{epoch}_{iter}.pth`` (key ``model``)."""

    best_metric = "dice"
    sample_prefix = "segm_"  # the published samples/{epoch}_{iter}.png names are stage 2's
    kind = "segm"

    def build(self) -> None:
        cfg = self.cfg
        self.train_set = SegmentationDataset(cfg.root_dir, cfg.img_size, cfg.train_anns,
                                             cfg.masked_dir, cfg.binary_dir, cfg.cache_images)
        if cfg.val_anns:
            self.val_set = SegmentationDataset(cfg.root_dir, cfg.img_size, cfg.val_anns,
                                               cfg.masked_dir, cfg.binary_dir, cfg.cache_images)
        self.models["model"] = MaskSegmenter(cfg.base_channels, cfg.depth, cfg.arch)
        self.optimizers["model"] = torch.optim.Adam(self.models["model"].parameters(), lr=cfg.lr)
        self.dice_loss = DiceLoss()

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        batch = self.flip_batch(self.to_device(batch), ("masked", "mask"))
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

    @torch.inference_mode()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """``(B,3,H,W)`` in [0,1] -> ``(B,1,H,W)`` in {0,1} at threshold 0.5."""
        with self.autocast():
            return (self.models["model"](images) > 0).float()

    @torch.inference_mode()
    def validate(self) -> dict[str, float]:
        if self.val_set is None:
            return {}
        model = self.models["model"]
        model.eval()
        dice, acc = DiceScore(), PixelAccuracy()
        for batch in self.loader(self.val_set):
            if batch is None:
                continue
            batch = self.to_device(batch)
            pred = self.predict(batch["masked"])
            dice.update(pred, batch["mask"])
            acc.update(pred, batch["mask"])
        model.train()
        return {"dice": dice.compute(), "pixel_acc": acc.compute()}

    @torch.inference_mode()
    def write_samples(self, path: Path) -> None:
        """Rows: masked input | predicted mask | ground-truth mask."""
        dataset = self.val_set or self.train_set
        items = [dataset[i] for i in range(min(SAMPLE_ROWS, len(dataset)))]
        items = [i for i in items if i is not None]
        if not items:
            return
        model = self.models["model"]
        model.eval()
        masked = self.to_device(collate_skip_broken(items))["masked"]
        pred = self.predict(masked)
        model.train()
        rows = [[tensor_to_image(masked[k]), tensor_to_image(pred[k]), tensor_to_image(items[k]["mask"])]
                for k in range(len(items))]
        write_image(path, grid(rows))
