"""perceptual_weights=PATH: a VGG19 file copied by hand is used, anything else refused in one line."""

from __future__ import annotations

import pytest
import torch

from models import PerceptualNet, PerceptualUnavailable


def test_a_local_vgg19_file_is_loaded_and_a_wrong_one_refused(tmp_path):
    from torchvision.models import vgg19

    torch.manual_seed(0)
    reference = vgg19(weights=None).state_dict()
    good = tmp_path / "vgg19.pth"
    torch.save(reference, good)
    net = PerceptualNet.pretrained(good)
    assert torch.equal(net.slices[0][0].weight, reference["features.0.weight"])
    assert torch.equal(net.slices[3][21 - 16].weight, reference["features.21.weight"])  # relu4_3's conv

    wrong = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, wrong)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    for path, says in ((wrong, "is not a VGG19 state dict"), (broken, "cannot be read"),
                       (tmp_path / "missing.pth", "is not a file")):
        with pytest.raises(PerceptualUnavailable, match=says) as err:
            PerceptualNet.pretrained(path)
        assert "\n" not in str(err.value)
