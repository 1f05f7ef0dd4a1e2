"""What a small face in a compressed video frame looks like, made from a sharp training crop.

A face 50-100 px wide in a 1280x720 video reaches the models upscaled to their crop side, with
the codec's 8x8 block artefacts at the frame's scale. A segmenter trained on sharp 256 px crops
has not seen that. ``degrade`` makes it: each sample is shrunk by 1, 2 or 4 (its face at its
own resolution in the frame), passed through a JPEG-like codec there (YCbCr, chroma at half
resolution, 8x8 block DCT quantised with the standard JPEG tables scaled to a random quality:
H.264's intra blocks share those artefacts), and scaled back up. Batched: one pass per shrink
level, never one per sample.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LEVELS = (1, 2, 4)
QUALITY = (15.0, 85.0)

# The JPEG standard's example quantisation tables (ITU-T T.81, Annex K), quality 50.
_LUMA_TABLE = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
               14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
               18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
               49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_CHROMA_TABLE = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
                 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32
_TO_YCBCR = [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]


def _dct_matrix() -> torch.Tensor:
    """``(8,8)`` orthonormal DCT-II: row k is the k-th cosine."""
    k, n = torch.arange(8.0)[:, None], torch.arange(8.0)[None]
    scale = torch.where(k == 0, math.sqrt(1 / 8), math.sqrt(2 / 8))
    return scale * torch.cos(math.pi * (2 * n + 1) * k / 16)


def quality_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B,)`` JPEG qualities in [1,100] -> luma and chroma tables ``(B,8,8)``, scaled as the
    IJG encoder (libjpeg, OpenCV's) scales them."""
    quality = quality.clamp(1, 100)
    scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality).view(-1, 1, 1)
    tables = []
    for base in (_LUMA_TABLE, _CHROMA_TABLE):
        table = torch.tensor(base, dtype=torch.float32).view(1, 8, 8)
        tables.append(torch.floor((table * scale + 50) / 100).clamp(1, 255))
    return tables[0], tables[1]


def _quantise_blocks(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``(B,1,H,W)`` a plane centred on 0 (0-255 scale), H and W multiples of 8, through 8x8
    block DCT quantisation with ``(B,8,8)`` tables."""
    b, _, h, w = plane.shape
    dct = _dct_matrix().to(plane)
    blocks = plane.view(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)  # (B, h/8, w/8, 8, 8)
    coefficients = dct @ blocks @ dct.T
    table = table.to(plane).view(b, 1, 1, 8, 8)
    blocks = dct.T @ (torch.round(coefficients / table) * table) @ dct
    return blocks.permute(0, 1, 3, 2, 4).reshape(b, 1, h, w)


def jpeg_like(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """``(B,3,H,W)`` RGB in [0,1] as a JPEG of ``(B,)`` ``quality`` (4:2:0) would decode."""
    _, _, h, w = images.shape
    pad_h, pad_w = -h % 16, -w % 16
    x = F.pad(images, (0, pad_w, 0, pad_h), mode="replicate") * 255
    to_ycbcr = torch.tensor(_TO_YCBCR).to(x)
    ycbcr = torch.einsum("ij,bjhw->bihw", to_ycbcr, x)
    luma_table, chroma_table = quality_tables(quality)
    luma = _quantise_blocks(ycbcr[:, :1] - 128, luma_table) + 128
    chroma = F.avg_pool2d(ycbcr[:, 1:], 2)
    chroma = torch.cat([_quantise_blocks(chroma[:, c:c + 1], chroma_table) for c in range(2)], 1)
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    rgb = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_ycbcr), torch.cat([luma, chroma], 1))
    return (rgb[..., :h, :w] / 255).clamp(0, 1)


def degrade(images: list[torch.Tensor], generator: torch.Generator) -> list[torch.Tensor]:
    """Each ``(B,3,H,W)`` batch in [0,1] shrunk by a random level of ``LEVELS`` per sample,
    JPEG-like compressed there at a random quality in ``QUALITY`` and scaled back up; the
    images of one sample get the same draw. H and W must be multiples of 4."""
    n = images[0].shape[0]
    level = torch.tensor(LEVELS)[torch.randint(len(LEVELS), (n,), generator=generator)]
    low, high = QUALITY
    quality = low + torch.rand(n, generator=generator) * (high - low)
    out = [x.clone() for x in images]
    for factor in LEVELS:
        chosen = (level == factor).nonzero().flatten().to(images[0].device)
        if chosen.numel() == 0:
            continue
        for x, y in zip(images, out):
            small = F.avg_pool2d(x[chosen], factor) if factor > 1 else x[chosen]
            small = jpeg_like(small, quality[chosen.cpu()])
            y[chosen] = (F.interpolate(small, scale_factor=factor, mode="bilinear", align_corners=False)
                         if factor > 1 else small).to(y.dtype)
    return out
