"""Stage 2: the two-discriminator GAN that reconstructs the face under the mask.

G is trained by its adversarial terms, computed from the fake it just made (not a detached
copy), and the mask discriminator D2 sees ``ground_truth*m`` as real and ``composite*m`` as
fake: both judge the face painted in the hole (docs/differences.md lists how this differs
from the published training).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core.audio import AudioSettings
from datasets.reconstruction import ReconstructionDataset
from losses import LSGANLoss, PerceptualLoss, SSIMLoss, feature_matching_loss
from metrics import masked_l1, psnr, ssim
from models import (
    AUDIO_ENCODER,
    AudioEncoder,
    Generator,
    NLayerDiscriminator,
    PerceptualNet,
    PerceptualUnavailable,
    composite,
)
from stages import RECONSTRUCTION
from trainers.base import SKIPPED, Losses, Trainer

log = logging.getLogger(__name__)


PRIOR_FACES = 512  # at most this many training faces, spread evenly, make the mean face


def mean_face(dataset: ReconstructionDataset) -> torch.Tensor:
    """``(1,3,H,W)`` in [0,1]: the mean of the training set's unmasked faces (at most
    ``PRIOR_FACES`` of them), the hole's first guess with ``fill: prior``. Recomputed on every
    start from the same data, so a resumed run gets the same one (its checkpoint keeps it too)."""
    count = len(dataset)
    n = min(count, PRIOR_FACES)
    picks = sorted({round(i * (count - 1) / max(n - 1, 1)) for i in range(n)})
    total, used = None, 0
    for index in picks:
        item = dataset[index]
        if item is None:
            continue
        total = item["image"].double() if total is None else total + item["image"]
        used += 1
    if total is None:
        raise ValueError("fill: prior needs at least one readable training face for its mean face")
    return (total / used).float().unsqueeze(0)


class ReconstructionTrainer(Trainer):
    """``python3 train.py facemask``: checkpoints ``model_{epoch}_{iter}.pth`` (keys G, D, D2,
    and ``audio_encoder`` for the audio-conditioned proposed model)."""

    stage = RECONSTRUCTION

    def build(self) -> None:
        cfg = self.cfg
        self.models["G"] = Generator(cfg.base_channels, cfg.depth, cfg.arch, cfg.audio, cfg.audio_dim,
                                    cfg.fill, cfg.residual)
        if cfg.fill == "prior":
            self.models["G"].set_prior(mean_face(self.train_set))
        for name in ("D", "D2"):
            self.models[name] = NLayerDiscriminator(base_channels=cfg.d_base_channels,
                                                    num_layers=cfg.d_num_layers)
        if cfg.audio != "none":
            # Built after G, D, D2 so those start from the same weights as with audio: none
            # (same seed), which keeps the audio ablation a fair comparison.
            self.models[AUDIO_ENCODER] = AudioEncoder(cfg.n_mels, cfg.audio_dim,
                                                      features=self.audio_settings.as_dict())
        betas = (0.5, 0.999)  # the usual GAN setting: less momentum keeps G and D in step
        for name in ("G", "D", "D2"):
            params = list(self.models[name].parameters())
            if name == "G" and AUDIO_ENCODER in self.models:
                # The encoder learns only through G's loss: one optimizer steps both.
                params += list(self.models[AUDIO_ENCODER].parameters())
            self.optimizers[name] = torch.optim.Adam(params, lr=cfg.lr, betas=betas)
        self.adversarial = LSGANLoss(cfg.real_label, cfg.fake_label)
        self.ssim_loss = SSIMLoss()
        self.perceptual = self.make_perceptual()

    @property
    def audio_settings(self) -> AudioSettings | None:
        """The audio features this run uses (None with ``audio: none``)."""
        return None if self.cfg.audio == "none" else AudioSettings.from_config(self.cfg)

    def make_dataset(self, root: str, anns: Path | None) -> ReconstructionDataset:
        cfg = self.cfg
        return ReconstructionDataset(root, cfg.img_size, cfg.image_dir, cfg.masked_dir,
                                     cfg.binary_dir, anns, cfg.cache_images, self.audio_settings)

    def make_perceptual(self) -> PerceptualLoss | None:
        """VGG19 perceptual loss, or None for feature matching (``perceptual`` config)."""
        mode = self.cfg.perceptual
        if mode == "none" or self.cfg.lambda_per == 0:
            return None
        try:
            net = PerceptualNet.pretrained(self.cfg.perceptual_weights)
        except PerceptualUnavailable as err:
            if mode == "vgg":
                raise
            self.info(f"notice: {err.notice()}")
            return None
        return PerceptualLoss(net.to(self.device))

    def audio_embedding(self, batch: dict[str, Any], training: bool = False) -> torch.Tensor | None:
        """The audio conditioning ``(B, audio_dim)`` for a device batch (None without audio).

        ``training``: run the (DDP-wrapped) training copy of the encoder so its gradient
        is synchronised; otherwise the plain module.
        """
        if AUDIO_ENCODER not in self.models:
            return None
        encoder = self.train_models[AUDIO_ENCODER] if training else self.models[AUDIO_ENCODER]
        return encoder(batch["audio"])

    def generator_loss_terms(self, out: torch.Tensor, comp: torch.Tensor,
                             batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """G's loss terms (unweighted). The discriminators are frozen and used unwrapped:
        their weights get no gradient here and DDP does not sync them."""
        gt, m = batch["image"], batch["mask"]
        D, D2 = self.models["D"], self.models["D2"]
        terms: dict[str, torch.Tensor] = {}
        with self.autocast():
            fake_whole, fake_feats = D(comp, features=True)
            fake_mask, fake_feats2 = D2(comp * m, features=True)
        terms["adv_D"] = self.adversarial(fake_whole, real=True)
        terms["adv_D2"] = self.adversarial(fake_mask, real=True)
        terms["rec"] = F.smooth_l1_loss(out.float(), gt) + self.ssim_loss(out.float(), gt)
        if self.cfg.hole_weight:
            # The composite keeps the input outside the mask: what G paints there is never
            # seen, so the inside of the mask gets this much more of the reconstruction loss.
            hole = masked_l1(out.float(), gt, m).nan_to_num(0.0).mean()
            terms["rec"] = terms["rec"] + self.cfg.hole_weight * hole.float()
        if self.perceptual is not None:
            with self.autocast():
                terms["per"] = self.perceptual(comp, gt)
        elif self.cfg.perceptual != "none" and self.cfg.lambda_per:
            with torch.no_grad(), self.autocast():
                _, real_feats = D(gt, features=True)
                _, real_feats2 = D2(gt * m, features=True)
            terms["per"] = (feature_matching_loss(fake_feats, real_feats)
                            + feature_matching_loss(fake_feats2, real_feats2))
        return terms

    def train_step(self, batch: dict[str, Any]) -> Losses:
        cfg = self.cfg
        batch = self.augment_batch(self.to_device(batch), ("image", "masked"))
        gt, masked, m = batch["image"], batch["masked"], batch["mask"]
        G, D, D2 = self.train_models["G"], self.train_models["D"], self.train_models["D2"]
        opt = self.optimizers

        with self.autocast():
            out = G(masked, m, self.audio_embedding(batch, training=True))
        comp = composite(masked, out.float(), m)

        # Discriminators: real = ground truth (whole / masked region), fake = composite.
        # Real and fake go through in one batch (norms are per-sample, so this is exact).
        fake = comp.detach()
        with self.autocast():
            s_real, s_fake = D(torch.cat([gt, fake])).chunk(2)
            s2_real, s2_fake = D2(torch.cat([gt * m, fake * m])).chunk(2)
        loss_d = self.adversarial(s_real, True) + self.adversarial(s_fake, False)
        loss_d2 = self.adversarial(s2_real, True) + self.adversarial(s2_fake, False)
        d_ok = self.step_ok(loss_d + loss_d2, "discriminator")
        if d_ok:
            opt["D"].zero_grad(set_to_none=True)
            opt["D2"].zero_grad(set_to_none=True)
            (loss_d + loss_d2).backward()
            opt["D"].step()
            opt["D2"].step()

        # Generator: reconstruction + perceptual + both adversarial terms, not detached.
        for p in (*self.models["D"].parameters(), *self.models["D2"].parameters()):
            p.requires_grad_(False)
        try:
            terms = self.generator_loss_terms(out, comp, batch)
        finally:
            for p in (*self.models["D"].parameters(), *self.models["D2"].parameters()):
                p.requires_grad_(True)
        loss_g = (cfg.lambda_rc * terms["rec"] + cfg.lambda_G * (terms["adv_D"] + terms["adv_D2"])
                  + cfg.lambda_per * terms.get("per", torch.zeros((), device=gt.device)))
        if not self.step_ok(loss_g, "generator"):
            return SKIPPED
        opt["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        opt["G"].step()
        with torch.no_grad():
            l1_mask = masked_l1(comp, gt, m).nanmean()
        return {"loss_G": loss_g.item(), "loss_D": loss_d.item(), "loss_D2": loss_d2.item(),
                **{k: v.item() for k, v in terms.items()}, "l1_mask": float(l1_mask)}

    def reconstruct(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw generator output and composite for a device batch (in eval mode)."""
        with self.autocast():
            out = self.models["G"](batch["masked"], batch["mask"], self.audio_embedding(batch))
        out = out.float()
        return out, composite(batch["masked"], out, batch["mask"])

    def validate(self) -> dict[str, float]:
        if self.val_set is None:
            return {}
        sums: dict[str, float] = {"psnr_mask": 0.0, "ssim_mask": 0.0, "l1_mask": 0.0, "psnr": 0.0}
        count = 0
        with self.evaluating():
            for batch in self.val_batches():
                _, comp = self.reconstruct(batch)
                gt, m = batch["image"], batch["mask"]
                has_mask = m.flatten(1).sum(1) > 0
                sums["psnr"] += float(psnr(comp, gt).sum())
                sums["psnr_mask"] += float(psnr(comp, gt, m)[has_mask].sum())
                sums["ssim_mask"] += float(ssim(comp, gt, m)[has_mask].sum())
                sums["l1_mask"] += float(masked_l1(comp, gt, m)[has_mask].sum())
                count += int(has_mask.sum())
        return {k: v / max(count, 1) for k, v in sums.items()}

    def sample_columns(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """The published five columns: masked input | input with its hole filled | raw generator
        output | composite | ground truth."""
        out, comp = self.reconstruct(batch)
        masked, m = batch["masked"], batch["mask"]
        return [masked, self.models["G"].fill_hole(masked, m), out, comp, batch["image"]]
