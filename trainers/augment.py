"""Random changes to a training batch, so a model learns faces and face masks rather than one
dataset's framing, camera and mask maker (``augment`` config key).

Every sample of a batch gets its own draw, and the image keys of one sample the same draw
(the masked face and its ground truth stay pixel-aligned; the mask moves with them):

- ``flip``: a left-right mirror for half of the samples (the ``flip`` key);
- ``shape``: + a random scale (0.85-1.15), rotation (up to 10 degrees) and shift (up to 8%
  of the side), as faces sit differently in other people's crops;
- ``full``: + brightness, contrast, saturation and hue changes, blur and sensor noise, as
  other cameras and lights see them;
- ``video``: ``shape`` + the face shrunk to the size it has in a video frame and compressed
  there (``trainers.compression``), as a face 50-100 px wide in a compressed video reaches
  the models.

All of it is batched tensor work on the training device; the randomness comes from the
caller's generator (``Trainer.augmentation_rng``), so a resumed run draws what it would have.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from trainers.compression import degrade

AUGMENTS = ("none", "shape", "full", "video")
SCALE, ROTATION_DEG, SHIFT = 0.15, 10.0, 0.08
BRIGHTNESS, CONTRAST, SATURATION, HUE_DEG = 0.25, 0.25, 0.3, 12.0
BLUR_SIGMA, NOISE = 1.5, 0.02


def _uniform(n: int, spread: float, generator: torch.Generator) -> torch.Tensor:
    """``(n,)`` uniform in [-spread, spread]."""
    return (torch.rand(n, generator=generator) * 2 - 1) * spread


def _geometry(images: list[torch.Tensor], masks: list[torch.Tensor], generator: torch.Generator):
    n = images[0].shape[0]
    scale = 1 + _uniform(n, SCALE, generator)
    angle = _uniform(n, math.radians(ROTATION_DEG), generator)
    shift = torch.stack([_uniform(n, SHIFT, generator), _uniform(n, SHIFT, generator)], 1) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images[0].device), list(images[0].shape), align_corners=False)
    warp = lambda x, mode: F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode="reflection",  # noqa: E731
                                         align_corners=False)
    return [warp(x, "bilinear") for x in images], [(warp(m, "bilinear") > 0.5).to(m.dtype) for m in masks]


def _colour(images: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
    n, device = images[0].shape[0], images[0].device
    draw = lambda spread: (1 + _uniform(n, spread, generator)).to(device).view(n, 1, 1, 1)  # noqa: E731
    brightness, contrast, saturation = draw(BRIGHTNESS), draw(CONTRAST), draw(SATURATION)
    hue = _uniform(n, math.radians(HUE_DEG), generator).to(device)
    # Hue: a rotation about the grey axis of RGB space (Rodrigues' formula), one per sample.
    axis = torch.full((3,), 1 / math.sqrt(3), device=device)
    cross = torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], device=device,
                         dtype=torch.float32) / math.sqrt(3)
    rotation = (torch.cos(hue).view(n, 1, 1) * torch.eye(3, device=device)
                + torch.sin(hue).view(n, 1, 1) * cross
                + (1 - torch.cos(hue)).view(n, 1, 1) * torch.outer(axis, axis))
    sigma = torch.rand(n, generator=generator) * BLUR_SIGMA
    noise_level = (torch.rand(n, generator=generator) * NOISE).to(device).view(n, 1, 1, 1)
    noise = torch.randn(images[0].shape, generator=generator).to(device)
    out = []
    for x in images:
        grey = x.mean(dim=(1, 2, 3), keepdim=True)
        y = (x - grey) * contrast + grey * brightness
        luma = y.mean(dim=1, keepdim=True)
        y = (y - luma) * saturation + luma
        y = torch.einsum("nij,njhw->nihw", rotation.to(y.dtype), y)
        y = _blur(y, sigma)
        out.append((y + noise_level * noise).clamp(0, 1))
    return out


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A Gaussian blur of ``sigma`` pixels per sample (7 taps; sigma near 0 leaves it as it is)."""
    n, c = x.shape[:2]
    taps = torch.arange(7, dtype=torch.float32) - 3
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).to(x.device, x.dtype)  # (n, 7)
    weights = kernel.repeat_interleave(c, 0)  # one kernel per (sample, channel)
    flat = F.pad(x.reshape(1, n * c, *x.shape[2:]), (3, 3, 3, 3), mode="reflect")
    flat = F.conv2d(flat, weights.view(n * c, 1, 1, 7), groups=n * c)
    flat = F.conv2d(flat, weights.view(n * c, 1, 7, 1), groups=n * c)
    return flat.view_as(x)


def augment(batch: dict[str, torch.Tensor], image_keys: tuple[str, ...], mask_keys: tuple[str, ...],
            mode: str, flip: bool, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``batch`` with its ``(B,3,H,W)`` images and ``(B,1,H,W)`` masks changed alike per sample."""
    keys = (*image_keys, *mask_keys)
    n = batch[keys[0]].shape[0]
    out = dict(batch)
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(batch[keys[0]].device).view(n, 1, 1, 1)
        for key in keys:
            out[key] = torch.where(mirror, out[key].flip(-1), out[key])
    if mode in ("shape", "full", "video"):
        images, masks = _geometry([out[k] for k in image_keys], [out[k] for k in mask_keys], generator)
        out.update(zip(image_keys, images))
        out.update(zip(mask_keys, masks))
    if mode == "full":
        out.update(zip(image_keys, _colour([out[k] for k in image_keys], generator)))
    if mode == "video":
        out.update(zip(image_keys, degrade([out[k] for k in image_keys], generator)))
    return out
