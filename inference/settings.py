"""How the inference pipeline runs, beyond its two models: one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from configs import Config


@dataclass(frozen=True)
class TemporalSettings:
    """How a video's frames are held steady (``inference.temporal``); each part can be left out.

    Attributes:
        mask_decay: weight in [0,1) of a face's running mean of the segmenter's probabilities
            (in its crop's coordinates) against this frame's (0: this frame's alone).
        paint_weight: weight in [0,1) of the previous frame's painted pixels (in the crop's
            coordinates, where both frames' masks are) against the generator's new ones (0: new only).
        paint_tolerance: gray levels (> 0): where the new paint differs from the previous by
            ``d``, the weight is ``paint_weight * exp(-(d / paint_tolerance)^2)``, so real change
            (a moving mouth) is not held back.
        detect_every: search the frame for faces every N-th frame (``detect_every`` of the
            config applies without temporal stabilisation): in between, each face's crop
            follows its own measured motion, so searches are needed only for faces that come
            into view and against slow drift.
        whole_every: a search (every ``detect_every``-th frame) looks at the whole frame, for
            faces coming into view, once this many frames have passed since the last whole one
            (and whenever no face is followed or one was lost); the others look only around the
            followed faces' crops (``faces.detect.find_faces_near``).
        model_every: run the models on a followed face every N-th frame (1: every frame); in
            between, its mask and painted face are those of the frame before, carried by its
            measured motion (``VideoState.carried_only``). An audio-conditioned generator runs
            on every frame whatever this is (its mouth follows the sound).
        max_gap: seconds; a frame shown more than this after the one before is a cut (a video
            prepared at a few frames per second, or a selection of its frames, is not held
            together).
        cut: mean absolute change, in gray levels (0-255), between consecutive frames shrunk to
            64 px wide above which the shot is taken to have changed: every face is found anew
            and nothing is carried over.
    The crop itself always follows the face's measured motion at sub-pixel precision
    (``faces.follow.SteadyTrack``).
    """

    mask_decay: float = 0.6
    paint_weight: float = 0.8
    paint_tolerance: float = 20.0
    detect_every: int = 12
    whole_every: int = 36
    model_every: int = 2
    max_gap: float = 0.1
    cut: float = 30.0

    def __post_init__(self) -> None:
        for name in ("mask_decay", "paint_weight"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"temporal_{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("detect_every", "whole_every", "model_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"temporal_{name} must be at least 1, got {getattr(self, name)}")
        if not self.paint_tolerance > 0:
            raise ValueError(f"temporal_paint_tolerance must be > 0, got {self.paint_tolerance}")

    @classmethod
    def from_config(cls, cfg: Config) -> TemporalSettings | None:
        """None with ``temporal=off`` (each frame on its own)."""
        if cfg.temporal == "off":
            return None
        return cls(cfg.temporal_mask_decay, cfg.temporal_paint_weight, cfg.temporal_paint_tolerance,
                   cfg.temporal_detect_every, cfg.temporal_whole_every, cfg.temporal_model_every,
                   cfg.temporal_max_gap, cfg.temporal_cut)


@dataclass(frozen=True)
class ReconstructorSettings:
    """The settings of one ``MaskReconstructor``.

    Attributes:
        img_size: ``S``, the side the generator works at (and the masks are cleaned at).
        segm_size: the side the segmenter works at (None: ``S``); its probabilities are
            resized to ``S``.
        device: where the models run.
        threshold, erode_kernel, erode_iters, dilate_kernel, dilate_iters: how the segmenter's
            probabilities become a mask (``inference.morphology.clean_mask``).
        feather: model pixels inside the mask's edge over which the generated face is blended
            with the input (0: a hard edge). None: the margin the dilation grew the mask by,
            ``dilate_kernel // 2 * dilate_iters``, i.e. the real skin the dilation took in.
            Applied to every mask alike, predicted or given (``feather_for``).
        amp: bf16 autocast on CUDA; on the CPU only with ``cpu_amp`` as well (an option:
            faster on CPUs with AVX512-BF16 or AMX, outputs differ from fp32 by about 1e-2).
        channels_last: channels-last activations and weights (CPU and CUDA: the layout
            oneDNN and cuDNN convolve fastest).
        fuse: run frozen copies with BatchNorm folded into the convolutions (and Conv+ReLU
            fused on the CPU), ``models.fusion``: the same outputs up to float rounding.
        temporal: how video frames are held steady (None: each frame reconstructed on its own).
    """

    img_size: int
    segm_size: int | None = None
    device: torch.device | str = "cpu"
    threshold: float = 0.5
    erode_kernel: int = 3
    erode_iters: int = 1
    dilate_kernel: int = 7
    dilate_iters: int = 1
    feather: float | None = None
    amp: bool = True
    cpu_amp: bool = False
    channels_last: bool = True
    fuse: bool = True
    temporal: TemporalSettings | None = None

    @classmethod
    def from_config(cls, cfg: Config, img_size: int | None = None, segm_size: int | None = None,
                    device: torch.device | str | None = None) -> ReconstructorSettings:
        """The settings ``cfg`` describes; ``img_size`` / ``segm_size`` default to ``cfg.img_size``,
        ``device`` to ``cfg.device``."""
        return cls(img_size=img_size or cfg.img_size, segm_size=segm_size, device=device or cfg.device,
                   threshold=cfg.threshold, erode_kernel=cfg.erode_kernel, erode_iters=cfg.erode_iters,
                   dilate_kernel=cfg.dilate_kernel, dilate_iters=cfg.dilate_iters, amp=cfg.amp,
                   cpu_amp=cfg.cpu_amp, channels_last=cfg.channels_last,
                   temporal=TemporalSettings.from_config(cfg))

    def morphology(self, threshold: float | None = None, dilate_kernel: int | None = None) -> dict[str, Any]:
        """``clean_mask``'s keyword arguments, with ``threshold`` / ``dilate_kernel`` replaced
        where given (the web app's sliders)."""
        return {"threshold": self.threshold if threshold is None else threshold,
                "erode_kernel": self.erode_kernel, "erode_iters": self.erode_iters,
                "dilate_kernel": self.dilate_kernel if dilate_kernel is None else dilate_kernel,
                "dilate_iters": self.dilate_iters}

    def feather_for(self, dilate_kernel: int | None = None) -> float:
        """The feather, in model pixels, for a mask dilated by ``dilate_kernel`` (default: the
        configured one): ``feather`` when set, else the margin that dilation added."""
        if self.feather is not None:
            return self.feather
        kernel = self.dilate_kernel if dilate_kernel is None else dilate_kernel
        return kernel // 2 * self.dilate_iters
