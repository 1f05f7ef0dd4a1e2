"""Pasting a followed face's crop back: only the box its mask reaches is warped, and that
changes no pixel against warping the whole crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

import inference.paste as paste_module
from faces.crop import Pose, Region
from inference.paste import Reconstruction, paste


def _pasted(image: np.ndarray, region: Region, face: torch.Tensor, mask: torch.Tensor,
            feather: float) -> np.ndarray:
    result = Reconstruction(image.copy(), np.zeros(image.shape[:2], bool), [region])
    paste(result, region, face, mask, None, feather)
    return np.dstack([result.image, result.mask])


@pytest.mark.parametrize("angle, feather", [(0.0, 0.0), (0.3, 3.0), (-1.1, 3.0)])
def test_the_mask_box_pastes_what_the_whole_crop_does(monkeypatch: pytest.MonkeyPatch, angle: float,
                                                      feather: float) -> None:
    image = data.astronaut()
    rng = np.random.default_rng(0)
    size = 64
    face = torch.from_numpy(rng.random((3, size, size), dtype=np.float32))
    mask = torch.zeros(1, size, size)
    mask[0, 30:55, 12:50] = 1
    mask[0, 20:24, 2:6] = 1  # a stray blob far from the rest: the box holds both
    # near the image's edge, so the crop reaches past it
    region = Region(0, 0, 1, 1, pose=Pose(1, 40.3, 210.7, 150.2, angle))
    fast = _pasted(image, region, face, mask, feather)
    monkeypatch.setattr(paste_module, "_mask_bounds", lambda pose, small: pose.bounds())
    whole = _pasted(image, region, face, mask, feather)
    assert fast[..., 3].sum() > 1000  # the mask was pasted
    np.testing.assert_array_equal(fast, whole)


def test_an_empty_mask_pastes_nothing() -> None:
    image = data.astronaut()
    region = Region(0, 0, 1, 1, pose=Pose(1, 240.0, 150.0, 160.0, 0.2))
    pasted = _pasted(image, region, torch.zeros(3, 64, 64), torch.zeros(1, 64, 64), 3.0)
    np.testing.assert_array_equal(pasted[..., :3], image)
    assert not pasted[..., 3].any()
