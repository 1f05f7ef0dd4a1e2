"""The inference pipeline both scripts share: segment -> clean mask -> generate -> composite.

Each model sees every image at its own side (as in training: the segmenter at
``segm_size``, the generator at ``img_size``). The result is built at the input's own
resolution: the generated face and the mask are resized back and pasted into the original
pixels, so everything outside the mask is byte-identical to the input, whatever its size
or aspect ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from configs import Config
from core.audio import AudioSettings
from core.device import autocast, autocast_dtype
from core.images import resize_image, resize_mask
from inference.morphology import clean_mask
from inference.timing import StageTimer
from models.fusion import fuse_for_inference


@dataclass
class Reconstruction:
    """One image's result at the input's resolution."""

    image: np.ndarray  # (H,W,3) uint8: input outside the mask, generated face inside
    mask: np.ndarray  # (H,W) bool: the mask used (predicted and cleaned, or the given one)

    @property
    def mask_found(self) -> bool:
        return bool(self.mask.any())


class MaskReconstructor:
    """Runs both models on batches of photos of any size.

    Args:
        segmenter: ``(B,3,S,S)`` in [0,1] -> ``(B,1,S,S)`` logits (``MaskSegmenter``).
        generator: ``(masked, mask, audio)`` -> ``(B,3,S,S)`` in [0,1] (``Generator``).
        audio_encoder: ``(B, n_mels, W)`` audio features -> ``(B, audio_dim)`` embeddings
            (``AudioEncoder``), for an audio-conditioned generator.
        img_size: ``S``, the side the generator works at (and the masks are cleaned at).
        segm_size: the side the segmenter works at (None: ``S``); its probabilities are
            resized to ``S``.
        device: where the models run.
        amp: bf16 autocast on CUDA; on the CPU only with ``cpu_amp`` as well (an option:
            faster on CPUs with AVX512-BF16 or AMX, outputs differ from fp32 by about 1e-2).
        channels_last: channels-last activations and weights (CPU and CUDA: the layout
            oneDNN and cuDNN convolve fastest).
        fuse: run frozen copies with BatchNorm folded into the convolutions (and Conv+ReLU
            fused on the CPU), ``models.fusion``: the same outputs up to float rounding.
        timer: charges the work to the stages "prepare", "segmentation", "generator", "paste".
    """

    def __init__(self, segmenter: nn.Module, generator: nn.Module, img_size: int,
                 device: torch.device | str = "cpu", threshold: float = 0.5,
                 erode_kernel: int = 3, erode_iters: int = 1, dilate_kernel: int = 7,
                 dilate_iters: int = 1, amp: bool = True, channels_last: bool = True,
                 timer: StageTimer | None = None, audio_encoder: nn.Module | None = None,
                 cpu_amp: bool = False, fuse: bool = True, segm_size: int | None = None) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # batches keep one shape: pick the fastest kernels once
        self.channels_last = channels_last
        self.amp_dtype = autocast_dtype(self.device, amp, cpu_amp)
        if fuse:
            self.segmenter = fuse_for_inference(segmenter, self.device, channels_last)
            self.generator = fuse_for_inference(generator, self.device, channels_last)
        else:
            self.segmenter = segmenter.to(self.device).eval()
            self.generator = generator.to(self.device).eval()
            if channels_last:
                self.segmenter.to(memory_format=torch.channels_last)
                self.generator.to(memory_format=torch.channels_last)
        self.audio_encoder = None if audio_encoder is None else audio_encoder.to(self.device).eval()
        self.img_size = img_size
        self.segm_size = segm_size or img_size
        self.morphology = {"threshold": threshold, "erode_kernel": erode_kernel,
                           "erode_iters": erode_iters, "dilate_kernel": dilate_kernel,
                           "dilate_iters": dilate_iters}
        self.timer = timer or StageTimer(self.device)

    @classmethod
    def from_config(cls, cfg: Config, segmenter: nn.Module, generator: nn.Module,
                    device: torch.device | str, timer: StageTimer | None = None,
                    audio_encoder: nn.Module | None = None, img_size: int | None = None,
                    segm_size: int | None = None) -> MaskReconstructor:
        """The pipeline ``cfg`` describes; ``img_size`` / ``segm_size`` default to ``cfg.img_size``."""
        return cls(segmenter, generator, img_size or cfg.img_size, device, cfg.threshold,
                   cfg.erode_kernel, cfg.erode_iters, cfg.dilate_kernel, cfg.dilate_iters, cfg.amp,
                   cfg.channels_last, timer, audio_encoder, cfg.cpu_amp, segm_size=segm_size)

    @property
    def needs_audio(self) -> bool:
        return getattr(self.generator, "audio", "none") != "none"

    @property
    def audio_settings(self) -> AudioSettings | None:
        """The audio features the encoder was trained on (None without an encoder)."""
        return None if self.audio_encoder is None else self.audio_encoder.features

    @torch.inference_mode()
    def embed_audio(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, W)`` audio features -> ``(B, audio_dim)`` embeddings on the device."""
        if self.audio_encoder is None:
            raise ValueError("this reconstructor has no audio encoder")
        with autocast(self.device, self.amp_dtype):
            return self.audio_encoder(features.to(self.device)).float()

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # --- the stages, at the models' sides -----------------------------------------------
    def prepare(self, images: Sequence[np.ndarray], size: int | None = None) -> torch.Tensor:
        """``(H,W,3)`` uint8 images of any sizes -> ``(B,3,size,size)`` (default ``S``) float in
        [0,1] on the device, resized exactly as the training data was (``core.images.resize_image``)."""
        batch = np.stack([resize_image(im, size or self.img_size) for im in images])
        return self._to_device(torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """``(B,3,s,s)`` -> the segmenter's mask probabilities ``(B,1,s,s)`` (fp32)."""
        with autocast(self.device, self.amp_dtype):
            logits = self.segmenter(x)
        return torch.sigmoid(logits.float())

    def segment(self, x: torch.Tensor, images: Sequence[np.ndarray] | None = None) -> torch.Tensor:
        """Cleaned masks ``(B,1,S,S)`` float in {0,1} (threshold, erode, dilate) for the
        prepared batch ``x`` ``(B,3,S,S)``. A segmenter trained at another side sees the
        original ``images`` resized to its side, and its probabilities are resized to ``S``."""
        if self.segm_size != self.img_size and images is not None:
            prob = self.probabilities(self.prepare(images, self.segm_size))
            prob = F.interpolate(prob, size=x.shape[-2:], mode="bilinear", align_corners=False)
        else:
            prob = self.probabilities(x)
        return clean_mask(prob, **self.morphology)

    def generate(self, x: torch.Tensor, mask: torch.Tensor,
                 audio: torch.Tensor | None = None) -> torch.Tensor:
        """Raw generator output ``(B,3,S,S)`` in [0,1] for masked faces and their masks.

        ``audio``: per-image embeddings ``(B, audio_dim)`` for an audio-conditioned
        generator (the hook for video conditioning; None for the image-only model).
        """
        with autocast(self.device, self.amp_dtype):
            out = self.generator(x, mask, audio)
        return out.float().clamp_(0, 1)

    # --- back to the input's resolution --------------------------------------------------
    def paste(self, original: np.ndarray, generated: torch.Tensor,
              mask: torch.Tensor | np.ndarray) -> Reconstruction:
        """Composite one image at its own resolution.

        Args:
            original: ``(H,W,3)`` uint8, the input photo.
            generated: ``(3,S,S)`` in [0,1], the generator's face.
            mask: ``(1,S,S)`` {0,1} tensor (predicted; resized up here) or ``(H,W)`` bool
                array already at the input's resolution (a ground-truth mask).
        Returns:
            the composite, exactly ``original`` wherever the full-resolution mask is 0.
        """
        h, w = original.shape[:2]
        if isinstance(mask, np.ndarray):
            full_mask = torch.from_numpy(mask).to(self.device)
        else:
            # Bilinear then 0.5 keeps the mask's outline smooth when scaling up.
            full_mask = F.interpolate(mask[None].float(), size=(h, w), mode="bilinear",
                                      align_corners=False)[0, 0] > 0.5
        face = generated[None]
        if face.shape[-2:] != (h, w):
            face = F.interpolate(face, size=(h, w), mode="bilinear", align_corners=False)
        face = (face[0].clamp(0, 1) * 255).round_().to(torch.uint8).permute(1, 2, 0)
        source = torch.from_numpy(original).to(self.device)
        composite = torch.where(full_mask[..., None], face, source)
        return Reconstruction(composite.cpu().numpy(), full_mask.cpu().numpy())

    # --- the whole chain -----------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None,
                 audio: torch.Tensor | None = None) -> list[Reconstruction]:
        """Reconstruct a batch of ``(H,W,3)`` uint8 masked faces (any sizes).

        With ``masks`` (``(H,W)`` bool per image, e.g. the dataset's ground truth) the
        segmenter is skipped and those masks are used: the generator alone is evaluated.
        """
        if not images:
            return []
        if audio is None and self.needs_audio:
            raise ValueError("this generator is audio-conditioned: pass per-image audio embeddings")
        with self.timer("prepare"):
            x = self.prepare(images)
        if masks is None:
            with self.timer("segmentation"):
                small = self.segment(x, images)
        else:
            with self.timer("prepare"):
                small = self._to_device(torch.from_numpy(
                    np.stack([resize_mask(m, self.img_size) for m in masks])[:, None]).float())
        with self.timer("generator"):
            generated = self.generate(x, small, audio)
        with self.timer("paste"):
            return [self.paste(image, generated[i], small[i] if masks is None else masks[i])
                    for i, image in enumerate(images)]
