"""The inference pipeline every script and the web app share: find faces -> cut -> segment ->
clean the mask -> generate -> paste back (``inference.paste``).

Each model sees what it saw in training: the region of the input that ``faces``
chooses (a square face crop, or the whole image), resized to its side (the segmenter at
``segm_size``, the generator at ``img_size``). The result is built at the input's own
resolution; inside the mask the seam is feathered (``ReconstructorSettings.feather``) the
same way whether the mask was predicted or given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from configs import Config
from core.audio import AudioSettings
from core.device import autocast, autocast_dtype
from core.images import resize_image
from faces.crop import Region
from faces.track import FaceFinder
from inference.morphology import clean_mask
from inference.paste import Reconstruction, paste
from inference.settings import ReconstructorSettings
from inference.temporal import VideoState, View
from inference.timing import StageTimer
from modelfiles.onnx import OnnxNetwork
from models.fusion import fuse_for_inference

# A face mask covers less than this share of a face crop, and more than the lower bound.
PLAUSIBLE_MASK = (0.02, 0.6)


class MaskReconstructor:
    """Runs both models on batches of photos of any size.

    Args:
        segmenter: ``(B,3,s,s)`` in [0,1] -> ``(B,1,s,s)`` logits (``MaskSegmenter``).
        generator: ``(masked, mask, audio)`` -> ``(B,3,S,S)`` in [0,1] (``Generator``).
        settings: sides, device, mask cleaning, feather, precision (``ReconstructorSettings``).
        audio_encoder: ``(B, n_mels, W)`` audio features -> ``(B, audio_dim)`` embeddings
            (``AudioEncoder``), for an audio-conditioned generator.
        timer: charges the work to the stages "faces", "prepare", "segmentation", "generator",
            "paste".
        faces: which regions of each image to reconstruct (``faces.track.FaceFinder``);
            None: the whole image.
    """

    def __init__(self, segmenter: nn.Module, generator: nn.Module, settings: ReconstructorSettings, *,
                 audio_encoder: nn.Module | None = None, timer: StageTimer | None = None,
                 faces: FaceFinder | None = None) -> None:
        self.settings = settings
        self.device = torch.device(settings.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # batches keep one shape: pick the fastest kernels once
        self.channels_last = settings.channels_last
        self.amp_dtype = autocast_dtype(self.device, settings.amp, settings.cpu_amp)
        self.segmenter = self._ready(segmenter)
        self.generator = self._ready(generator)
        self.audio_encoder = None if audio_encoder is None else audio_encoder.to(self.device).eval()
        self.img_size = settings.img_size
        self.segm_size = settings.segm_size or settings.img_size
        self.timer = timer or StageTimer(self.device)
        self.faces = faces or FaceFinder("none")
        self.video: VideoState | None = None  # a video's frames, held steady (settings.temporal)

    def _ready(self, model: nn.Module | OnnxNetwork) -> nn.Module | OnnxNetwork:
        """A torch network frozen on the device (fused, or in eval mode); an ONNX network runs as
        exported."""
        if isinstance(model, OnnxNetwork):
            return model
        if self.settings.fuse:
            return fuse_for_inference(model, self.device, self.channels_last)
        model = model.to(self.device).eval()
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    @classmethod
    def from_config(cls, cfg: Config, segmenter: nn.Module | OnnxNetwork, generator: nn.Module | OnnxNetwork,
                    device: torch.device | str, timer: StageTimer | None = None,
                    audio_encoder: nn.Module | None = None, img_size: int | None = None,
                    segm_size: int | None = None) -> MaskReconstructor:
        """The pipeline ``cfg`` describes; ``img_size`` / ``segm_size`` default to ``cfg.img_size``."""
        settings = ReconstructorSettings.from_config(cfg, img_size, segm_size, device)
        return cls(segmenter, generator, settings, audio_encoder=audio_encoder, timer=timer,
                   faces=FaceFinder(cfg.faces, detect_every=cfg.detect_every))

    def follow_video(self) -> None:
        """From now on the inputs are consecutive frames of one video: faces are followed and,
        with ``settings.temporal``, each frame is held steady with the ones before."""
        temporal = self.settings.temporal
        self.faces.follow_video(steady=temporal is not None,
                                detect_every=None if temporal is None else temporal.detect_every,
                                whole_every=None if temporal is None else temporal.whole_every)
        self.video = None if temporal is None else VideoState(temporal)

    def stop_following(self) -> None:
        """The inputs are separate photos again."""
        self.faces.stop_following()
        self.video = None

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

    def prepare_views(self, images: Sequence[np.ndarray], views: Sequence[View]) -> torch.Tensor:
        """The generator-side cuts of ``views``: ``(B,3,S,S)`` float in [0,1] on the device."""
        return self.prepare([region.cut(images[i], self.img_size) for i, region in views])

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """The segmenter alone: ``(B,3,s,s)`` -> mask probabilities ``(B,1,s,s)`` (fp32)."""
        with autocast(self.device, self.amp_dtype):
            logits = self.segmenter(x)
        return torch.sigmoid(logits.float())

    def view_probabilities(self, images: Sequence[np.ndarray], views: Sequence[View],
                           x: torch.Tensor) -> torch.Tensor:
        """Mask probabilities ``(B,1,S,S)`` of ``views``, whose generator-side cuts are ``x``
        (``prepare_views``). A segmenter of another side sees its own cuts of the same regions;
        its probabilities are resized to ``S``."""
        if self.segm_size == self.img_size:
            return self.probabilities(x)
        cuts = [region.cut(images[i], self.segm_size) for i, region in views]
        prob = self.probabilities(self.prepare(cuts, self.segm_size))
        return F.interpolate(prob, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def view_masks(self, prob: torch.Tensor, regions: Sequence[Region], threshold: float | None = None,
                   dilate_kernel: int | None = None) -> torch.Tensor:
        """Probabilities ``(B,1,S,S)`` -> cleaned masks ``(B,1,S,S)`` in {0,1}, kept below each
        face's eye line. ``threshold`` / ``dilate_kernel``: other than the settings' (the app)."""
        return self.limit_to_faces(clean_mask(prob, **self.settings.morphology(threshold, dilate_kernel)),
                                   regions)

    def given_view_masks(self, masks: Sequence[np.ndarray], views: Sequence[View]) -> torch.Tensor:
        """``(H,W)`` bool masks at the inputs' resolution -> each view's ``(B,1,S,S)`` {0,1} mask."""
        cuts = [region.cut_mask(masks[i], self.img_size) for i, region in views]
        return self._to_device(torch.from_numpy(np.stack(cuts)[:, None]).float())

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
                 audio: torch.Tensor | None = None, regions: Sequence[list[Region]] | None = None,
                 feather: float | None = None,
                 times: Sequence[float | None] | None = None) -> list[Reconstruction]:
        """Reconstruct a batch of ``(H,W,3)`` uint8 photos (any sizes).

        ``masks``: ``(H,W)`` bool per image (the dataset's ground truth, a mask drawn by hand):
        the segmenter is skipped, the generator paints inside these masks and they are pasted
        as given. ``regions``: per image, the regions to reconstruct (default: those ``faces``
        finds). ``audio``: ``(B, audio_dim)``, one embedding per image. ``feather``: model
        pixels blended inside the mask's edge, whatever the masks' source (None: the settings';
        0: a hard edge, e.g. the true mask, which has no margin of real skin to blend with).
        Following a video with temporal settings (``follow_video``), frames whose faces and
        masks the pipeline finds itself are held steady with the frames before; ``times``:
        each frame's time in seconds where known (frames far apart are not held together).
        """
        if not images:
            return []
        self._check_audio(audio)
        found: Sequence[int | None] = [None] * len(images)
        video = self.video if regions is None and masks is None else None
        if regions is None:
            with self.timer("faces"):
                if video is not None:
                    regions, found = video.regions(self.faces, images, times)
                else:
                    regions, found = zip(*(self.faces.regions(image) for image in images))
        results = [Reconstruction(image.copy(), np.zeros(image.shape[:2], bool), list(rs), n)
                   for image, rs, n in zip(images, regions, found)]
        views = [(i, region) for i, rs in enumerate(regions) for region in rs]
        if not views:
            return results
        with self.timer("prepare"):
            x = self.prepare_views(images, views)
        skip = None
        if masks is None:
            with self.timer("segmentation"):
                skip = None if video is None else video.carried_only(views)
                prob = _on_some(skip, x, 1, lambda run: self.view_probabilities(
                    images, views[run] if isinstance(run, slice) else [views[j] for j in run], x[run]))
                if video is not None:
                    prob = video.probabilities(views, prob, skip)
                small = self.view_masks(prob, [r for _, r in views])
        else:
            with self.timer("prepare"):
                small = self.given_view_masks(masks, views)
        # An audio-conditioned generator paints every frame: its mouth follows the sound even
        # where the face holds still, so only the segmenter's work is carried over.
        self.paint(results, views, x, small, audio, masks, feather, video, None if self.needs_audio else skip)
        return results

    def _check_audio(self, audio: torch.Tensor | None) -> None:
        if audio is None and self.needs_audio:
            raise ValueError("this generator is audio-conditioned: pass per-image audio embeddings")

    @torch.inference_mode()
    def paint(self, results: list[Reconstruction], views: Sequence[View], x: torch.Tensor,
              small: torch.Tensor, audio: torch.Tensor | None = None,
              masks: Sequence[np.ndarray] | None = None, feather: float | None = None,
              video: VideoState | None = None, skip: Sequence[bool] | None = None) -> None:
        """Generate each view's face and paste it into ``results`` (in place; one per image).

        ``x``: the views' cuts ``(B,3,S,S)``; ``small``: their masks ``(B,1,S,S)`` {0,1}, what the
        generator paints; ``masks``: per image, the ``(H,W)`` bool mask pasted through (None:
        ``small`` resized up); ``feather`` as in ``__call__``; ``video``: blends each followed
        face's new paint with what the frames before painted; ``skip``: views the generator
        skips, their paint carried over (``VideoState.carried_only``).
        """
        self._check_audio(audio)
        feather = self.settings.feather_for() if feather is None else feather
        with self.timer("generator"):
            sounds = None if audio is None else audio[[i for i, _ in views]]
            generated = _on_some(skip, x, 3, lambda run: self.generate(
                x[run], small[run], None if sounds is None else sounds[run]))
            if video is not None:
                generated = video.paint(views, generated, small, skip)
        with self.timer("paste"):
            fractions = small.flatten(1).mean(1).tolist()
            for (i, region), face, mask, fraction in zip(views, generated, small, fractions):
                paste(results[i], region, face, mask, None if masks is None else masks[i], feather)
                low = PLAUSIBLE_MASK[0] if region.is_face else 0.0
                results[i].implausible |= fraction > PLAUSIBLE_MASK[1] or 0 < fraction < low

    def limit_to_faces(self, masks: torch.Tensor, regions: Sequence[Region]) -> torch.Tensor:
        """Keep each face crop's mask below its eye line (a face mask never covers the eyes)."""
        limits = [region.lower_face(masks.shape[-1]) for region in regions]
        if all(limit is None for limit in limits):
            return masks
        keep = torch.stack([torch.ones(masks.shape[-2:], dtype=torch.bool) if limit is None
                            else torch.from_numpy(limit)
                            for limit in limits])[:, None].to(masks.device)
        return masks * keep


def _on_some(skip: Sequence[bool] | None, x: torch.Tensor, channels: int,
             model: Callable[[list[int] | slice], torch.Tensor]) -> torch.Tensor:
    """``model(run)`` on the views not in ``skip`` (None: all of them, ``run`` a slice), as one
    batch -> ``(B,channels,S,S)`` like ``x``; the skipped views' rows are zeros (``VideoState``
    fills them with what it carries)."""
    if not skip or not any(skip):
        return model(slice(None))
    out = x.new_zeros((len(skip), channels, *x.shape[-2:]))
    run = [j for j, carried in enumerate(skip) if not carried]
    if run:
        out[run] = model(run)
    return out
