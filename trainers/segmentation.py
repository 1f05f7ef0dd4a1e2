"""Stage 1: train the mask segmenter with BCE + Dice on probabilities (never on thresholded
values: those have no gradient)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from datasets.segmentation import SegmentationDataset
from losses import DiceLoss, thin_weighted_bce
from metrics import DiceScore, PixelAccuracy
from models import MaskSegmenter
from stages import SEGMENTATION
from trainers.base import SKIPPED, Losses, Trainer


class SegmentationTrainer(Trainer):
    """``python3 train.py segm``: checkpoints ``model_segm_{epoch}_{iter}.pth`` (key ``model``)."""

    stage = SEGMENTATION

    def make_dataset(self, root: str, anns: Path | None) -> SegmentationDataset:
        cfg = self.cfg
        return SegmentationDataset(root, cfg.img_size, anns, cfg.masked_dir, cfg.binary_dir, cfg.cache_images,
                                   cfg.image_dir if cfg.bare_faces > 0 else None)

    def build(self) -> None:
        cfg = self.cfg
        self.models["model"] = MaskSegmenter(cfg.base_channels, cfg.depth, cfg.arch)
        self.optimizers["model"] = torch.optim.Adam(self.models["model"].parameters(), lr=cfg.lr)
        self.dice_loss = DiceLoss()

    def show_bare_faces(self, batch: dict[str, Any]) -> dict[str, Any]:
        """``bare_faces`` of the examples (drawn per example) shown as their bare face with an
        empty mask: lips, chins and skin are not mask, although the masked photos never show them."""
        share = self.cfg.bare_faces
        if share <= 0:
            return batch
        bare = (torch.rand(batch["mask"].shape[0], generator=self.augmentation_rng()) < share)
        bare = bare.to(batch["mask"].device).view(-1, 1, 1, 1)
        return {**batch, "masked": torch.where(bare, batch["image"], batch["masked"]),
                "mask": batch["mask"] * ~bare}

    def train_step(self, batch: dict[str, Any]) -> Losses:
        batch = self.show_bare_faces(self.to_device(batch))
        batch = self.augment_batch(batch, ("masked",))
        model, opt = self.train_models["model"], self.optimizers["model"]
        with self.autocast():
            logits = model(batch["masked"])
        logits = logits.float()
        bce = thin_weighted_bce(logits, batch["mask"], self.cfg.thin_weight)
        dice = self.dice_loss(torch.sigmoid(logits), batch["mask"])
        loss = bce + self.cfg.lambda_dice * dice
        if not self.step_ok(loss, "segmentation"):
            return SKIPPED
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
