"""The ``video`` augmentation: faces shrunk to their size in a frame and compressed there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.data import astronaut

from trainers.augment import augment
from trainers.compression import degrade, jpeg_like


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.mark.parametrize("quality", [20, 50, 80])
def test_the_codec_decodes_as_a_real_jpeg_does(quality):
    """Ours against OpenCV's JPEG at the same quality: far closer to it than the original is
    (measured: 44-46 dB against 30-35 dB)."""
    photo = np.ascontiguousarray(astronaut()[:256, :256])
    _, encoded = cv2.imencode(".jpg", photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    real = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1]
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    ours = (jpeg_like(x, torch.tensor([float(quality)]))[0].permute(1, 2, 0).numpy() * 255).round()
    assert psnr(ours, real) > psnr(photo, real) + 8
    assert psnr(ours, photo) < 40  # and it did change the photo


def faces(n: int) -> torch.Tensor:
    photo = torch.from_numpy(np.ascontiguousarray(astronaut()[:256, 96:352])).permute(2, 0, 1).float() / 255
    return photo[None].repeat(n, 1, 1, 1)


def test_one_draw_per_sample_shared_by_its_images():
    x = faces(12)
    first, second = degrade([x, x.clone()], torch.Generator().manual_seed(0))
    assert torch.equal(first, second)
    assert first.shape == x.shape and first.min() >= 0 and first.max() <= 1
    # Shrunk samples lose their fine detail, by different amounts: the draws differ per sample.
    detail = (first - torch.nn.functional.avg_pool2d(first, 3, 1, 1)).abs().mean((1, 2, 3))
    assert detail.max() > 2 * detail.min()
    again, _ = degrade([x, x], torch.Generator().manual_seed(0))
    assert torch.equal(again, first)


def test_video_moves_the_mask_as_shape_does():
    x = faces(4)
    mask = torch.zeros(4, 1, 256, 256)
    mask[..., 150:230, 70:190] = 1
    batch = {"masked": x, "mask": mask}
    video = augment(batch, ("masked",), ("mask",), "video", True, torch.Generator().manual_seed(1))
    shape = augment(batch, ("masked",), ("mask",), "shape", True, torch.Generator().manual_seed(1))
    assert torch.equal(video["mask"], shape["mask"])  # the geometry is drawn first, alike
    assert not torch.equal(video["masked"], shape["masked"])
    assert psnr(video["masked"].numpy() * 255, shape["masked"].numpy() * 255) > 20  # the same faces
