"""The inference pipeline every script shares: find faces -> cut -> segment -> clean the
mask -> generate -> composite -> paste back.

Each model sees what it saw in training: the region of the input that ``inference.faces``
chooses (a square face crop, or the whole image), resized to its side (the segmenter at
``segm_size``, the generator at ``img_size``). The result is built at the input's own
resolution: each region's generated face and mask are resized back and pasted into the
original pixels, so everything outside the mask is byte-identical to the input, whatever
its size or aspect ratio. Inside the mask the seam is feathered over the margin the
dilation added (never reaching outside the mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from configs import Config
from core.audio import AudioSettings
from core.device import autocast, autocast_dtype
from core.images import resize_image, resize_mask
from inference.faces import FaceFinder, Region
from inference.morphology import clean_mask
from inference.timing import StageTimer
from modelfiles.onnx import OnnxNetwork
from models.fusion import fuse_for_inference

# A face mask covers less than this share of a face crop, and more than the lower bound.
PLAUSIBLE_MASK = (0.02, 0.6)


def _ready(network: nn.Module | OnnxNetwork, device: torch.device, channels_last: bool,
           fuse: bool) -> nn.Module | OnnxNetwork:
    """A torch network frozen on ``device`` (fused, or in eval mode); an ONNX network runs as exported."""
    if isinstance(network, OnnxNetwork):
        return network
    if fuse:
        return fuse_for_inference(network, device, channels_last)
    network = network.to(device).eval()
    return network.to(memory_format=torch.channels_last) if channels_last else network


@dataclass
class Reconstruction:
    """One image's result at the input's resolution."""

    image: np.ndarray  # (H,W,3) uint8: input outside the mask, generated face inside
    mask: np.ndarray  # (H,W) bool: the mask used (predicted and cleaned, or the given one)
    regions: list[Region] = field(default_factory=list)  # what the models saw (faces or the whole)
    faces_found: int | None = None  # faces detected (None: faces=none, not searched)
    implausible: bool = False  # a region's mask area is unlike a face mask's

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
        timer: charges the work to the stages "faces", "prepare", "segmentation", "generator",
            "paste".
        faces: which regions of each image to reconstruct (``inference.faces.FaceFinder``);
            None: the whole image.
    """

    def __init__(self, segmenter: nn.Module | OnnxNetwork, generator: nn.Module | OnnxNetwork,
                 img_size: int, device: torch.device | str = "cpu", threshold: float = 0.5,
                 erode_kernel: int = 3, erode_iters: int = 1, dilate_kernel: int = 7,
                 dilate_iters: int = 1, amp: bool = True, channels_last: bool = True,
                 timer: StageTimer | None = None, audio_encoder: nn.Module | None = None,
                 cpu_amp: bool = False, fuse: bool = True, segm_size: int | None = None,
                 faces: FaceFinder | None = None) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # batches keep one shape: pick the fastest kernels once
        self.channels_last = channels_last
        self.amp_dtype = autocast_dtype(self.device, amp, cpu_amp)
        self.segmenter = _ready(segmenter, self.device, channels_last, fuse)
        self.generator = _ready(generator, self.device, channels_last, fuse)
        self.audio_encoder = None if audio_encoder is None else audio_encoder.to(self.device).eval()
        self.img_size = img_size
        self.segm_size = segm_size or img_size
        self.morphology = {"threshold": threshold, "erode_kernel": erode_kernel,
                           "erode_iters": erode_iters, "dilate_kernel": dilate_kernel,
                           "dilate_iters": dilate_iters}
        self.timer = timer or StageTimer(self.device)
        self.faces = faces or FaceFinder("none")
        # The dilation grew the mask past the face mask's edge onto real skin: the seam is
        # blended over that margin.
        self.feather = dilate_kernel // 2 * dilate_iters

    @classmethod
    def from_config(cls, cfg: Config, segmenter: nn.Module | OnnxNetwork, generator: nn.Module | OnnxNetwork,
                    device: torch.device | str, timer: StageTimer | None = None,
                    audio_encoder: nn.Module | None = None, img_size: int | None = None,
                    segm_size: int | None = None) -> MaskReconstructor:
        """The pipeline ``cfg`` describes; ``img_size`` / ``segm_size`` default to ``cfg.img_size``."""
        return cls(segmenter, generator, img_size or cfg.img_size, device, cfg.threshold,
                   cfg.erode_kernel, cfg.erode_iters, cfg.dilate_kernel, cfg.dilate_iters, cfg.amp,
                   cfg.channels_last, timer, audio_encoder, cfg.cpu_amp, segm_size=segm_size,
                   faces=FaceFinder(cfg.faces, detect_every=cfg.detect_every))

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

    def segment(self, x: torch.Tensor, cuts: Sequence[np.ndarray] | None = None) -> torch.Tensor:
        """Cleaned masks ``(B,1,S,S)`` float in {0,1} (threshold, erode, dilate) for the
        prepared batch ``x`` ``(B,3,S,S)``; see ``segment_probabilities``."""
        return clean_mask(self.segment_probabilities(x, cuts), **self.morphology)

    def segment_probabilities(self, x: torch.Tensor,
                              cuts: Sequence[np.ndarray] | None = None) -> torch.Tensor:
        """Mask probabilities ``(B,1,S,S)`` for the prepared batch ``x``. A segmenter trained at
        another side sees the ``cuts`` resized to its side; its probabilities are resized to ``S``."""
        if self.segm_size != self.img_size and cuts is not None:
            prob = self.probabilities(self.prepare(cuts, self.segm_size))
            return F.interpolate(prob, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.probabilities(x)

    def view_probabilities(self, x: torch.Tensor, images: Sequence[np.ndarray],
                           views: Sequence[tuple[int, Region]]) -> torch.Tensor:
        """Mask probabilities ``(B,1,S,S)`` of ``views`` (image index, region), whose prepared
        batch is ``x``; a segmenter of another side gets its own cuts of the same regions."""
        cuts = ([region.cut(images[i], self.segm_size) for i, region in views]
                if self.segm_size != self.img_size else None)
        return self.segment_probabilities(x, cuts)

    def generate(self, x: torch.Tensor, mask: torch.Tensor,
                 audio: torch.Tensor | None = None) -> torch.Tensor:
        """Raw generator output ``(B,3,S,S)`` in [0,1] for masked faces and their masks.

        ``audio``: per-image embeddings ``(B, audio_dim)`` for an audio-conditioned
        generator (None for the image-only model).
        """
        with autocast(self.device, self.amp_dtype):
            out = self.generator(x, mask, audio)
        return out.float().clamp_(0, 1)

    # --- the whole chain -----------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None = None,
                 audio: torch.Tensor | None = None,
                 regions: Sequence[list[Region]] | None = None) -> list[Reconstruction]:
        """Reconstruct a batch of ``(H,W,3)`` uint8 photos (any sizes).

        ``regions``: per image, the regions to reconstruct (default: those ``faces`` finds).
        With ``masks`` (``(H,W)`` bool per image, e.g. the dataset's ground truth) the
        segmenter is skipped and those masks are used: the generator alone is evaluated.
        ``audio``: ``(B, audio_dim)``, one embedding per image.
        """
        if not images:
            return []
        if audio is None and self.needs_audio:
            raise ValueError("this generator is audio-conditioned: pass per-image audio embeddings")
        found: list[int | None] = [None] * len(images)
        if regions is None:
            with self.timer("faces"):
                regions, found = zip(*(self.faces.regions(image) for image in images))
        views = [(i, region) for i, rs in enumerate(regions) for region in rs]
        results = [Reconstruction(image.copy(), np.zeros(image.shape[:2], bool), list(rs), n)
                   for image, rs, n in zip(images, regions, found)]
        if not views:
            return results
        size = self.img_size
        with self.timer("prepare"):
            x = self.prepare([region.cut(images[i], size) for i, region in views])
        if masks is None:
            with self.timer("segmentation"):
                small = clean_mask(self.view_probabilities(x, images, views), **self.morphology)
                small = self.limit_to_faces(small, [region for _, region in views])
        else:
            with self.timer("prepare"):
                small = self._to_device(torch.from_numpy(np.stack(
                    [resize_mask(region.cut_mask(masks[i]), size) for i, region in views])[:, None]).float())
        with self.timer("generator"):
            generated = self.generate(x, small, None if audio is None else audio[[i for i, _ in views]])
        with self.timer("paste"):
            fractions = small.flatten(1).mean(1).tolist()
            for (i, region), face, mask, fraction in zip(views, generated, small, fractions):
                truth = None if masks is None else masks[i]
                paste(results[i], region, face, mask, truth, 0 if masks is not None else self.feather)
                low = PLAUSIBLE_MASK[0] if region.is_face else 0.0
                results[i].implausible |= fraction > PLAUSIBLE_MASK[1] or 0 < fraction < low
        return results

    def limit_to_faces(self, masks: torch.Tensor, regions: Sequence[Region]) -> torch.Tensor:
        """Keep each face crop's mask below its eye line (a face mask never covers the eyes)."""
        limits = [region.lower_face(masks.shape[-1]) for region in regions]
        if all(limit is None for limit in limits):
            return masks
        keep = torch.stack([torch.ones(masks.shape[-2:], dtype=torch.bool) if limit is None else limit
                            for limit in limits])[:, None].to(masks.device)
        return masks * keep


def full_resolution(region: Region, mask: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
    """A region's ``(1,S,S)`` {0,1} model-side mask at the resolution of the input of ``shape``,
    the part of it inside the image (``Region.visible``; the region must reach into it):
    bilinear, then 0.5, so the outline stays smooth."""
    inside = region.visible(shape)[1]
    up = F.interpolate(mask[None].float(), size=(region.height, region.width), mode="bilinear",
                       align_corners=False)[0, 0] > 0.5
    return up[inside].cpu().numpy()


def paste(result: Reconstruction, region: Region, generated: torch.Tensor, mask: torch.Tensor,
          truth_mask: np.ndarray | None = None, feather: float = 0.0) -> None:
    """Paste one region's generated face into ``result`` (in place), at full resolution.

    Args:
        result: the image being built (starts as a copy of the input).
        region: where the model's ``(S,S)`` view sits in the input.
        generated: ``(3,S,S)`` in [0,1], the generator's face.
        mask: ``(1,S,S)`` {0,1}, the cleaned mask it painted (resized up here: bilinear, then
            0.5, so the outline stays smooth).
        truth_mask: ``(H,W)`` bool at the input's resolution, used instead of ``mask``.
        feather: model pixels inside the mask's edge over which the face is blended with the
            input (0: a hard edge). Outside the mask every pixel stays the input's.
    """
    shown = region.visible(result.image.shape)
    if shown is None:
        return
    (top, bottom, left, right), inside = shown
    size = (region.height, region.width)
    face = F.interpolate(generated[None], size=size, mode="bilinear", align_corners=False)[0]
    face = (face[(slice(None), *inside)].clamp(0, 1) * 255).round_().to(torch.uint8)
    face = face.permute(1, 2, 0).cpu().numpy()
    m = (truth_mask[top:bottom, left:right] if truth_mask is not None
         else full_resolution(region, mask, result.image.shape))
    target = result.image[top:bottom, left:right]
    pixels = feather * region.width / generated.shape[-1]
    if pixels >= 1 and m.any():
        alpha = np.clip(cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2, 3) / pixels, 0, 1)[..., None]
        blended = (target * (1 - alpha) + face * alpha + 0.5).astype(np.uint8)
    else:
        blended = face
    target[m] = blended[m]
    result.mask[top:bottom, left:right] |= m
