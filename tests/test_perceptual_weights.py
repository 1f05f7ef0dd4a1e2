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


def test_offline_the_vgg19_refusal_names_no_download(monkeypatch, capsys, tmp_path):
    """Without a network, the weights are refused in one line before anything says it is
    downloading."""
    import socket

    from models.perceptual import load_vgg19_imagenet

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    with pytest.raises(PerceptualUnavailable, match="no network"):
        load_vgg19_imagenet()
    captured = capsys.readouterr()
    assert "Downloading" not in captured.out + captured.err
