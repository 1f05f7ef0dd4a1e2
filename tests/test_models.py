"""Network shapes, topologies and the perceptual net's loading rules."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from conftest import tiny_settings
from synthetic import face_triplets
from torch.utils.flop_counter import FlopCounterMode

from configs import Config
from models import Generator, MaskSegmenter, NLayerDiscriminator, PerceptualNet, PerceptualUnavailable
from models import perceptual as perceptual_module
from trainers import ReconstructionTrainer


@pytest.mark.parametrize("arch", ["unet", "flat"])
@pytest.mark.parametrize("hw", [(32, 32), (37, 50)])
def test_shapes_and_ranges(arch, hw):
    x = torch.rand(2, 3, *hw)
    m = (torch.rand(2, 1, *hw) > 0.5).float()
    seg = MaskSegmenter(base_channels=4, depth=2, arch=arch)
    assert seg(x).shape == (2, 1, *hw)
    p = seg.probabilities(x)
    assert p.min() >= 0 and p.max() <= 1
    out = Generator(base_channels=4, depth=2, arch=arch)(x, m)
    assert out.shape == (2, 3, *hw) and out.min() >= 0 and out.max() <= 1


def _gflops(model, *inputs) -> float:
    with FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() / 1e9


def test_real_unet_is_far_cheaper_than_flat_topology():
    """Counted on the meta device (no compute): the published full-resolution topology costs
    > 30x our U-Net for the same channel plan."""
    with torch.device("meta"):
        x, m = torch.rand(1, 3, 128, 128), torch.rand(1, 1, 128, 128)
        unet = _gflops(Generator(arch="unet"), x, m)
        flat = _gflops(Generator(arch="flat"), x, m)
    assert flat / unet > 30, (flat, unet)


def test_generator_conditioning_inputs():
    x, m = torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32)
    g_map = Generator(base_channels=4, depth=2, audio="map", audio_dim=8)
    assert g_map.encoders[0][0][0].in_channels == 5
    assert Generator(base_channels=4, depth=2).encoders[0][0][0].in_channels == 4
    with pytest.raises(ValueError, match="needs audio"):
        g_map(x, m)
    with pytest.raises(ValueError, match="takes no audio"):
        Generator(base_channels=4, depth=2)(x, m, torch.zeros(2, 8))
    assert g_map(x, m, torch.randn(2, 8)).shape == (2, 3, 32, 32)


def test_discriminator_features():
    d = NLayerDiscriminator(num_layers=3)
    scores, feats = d(torch.rand(2, 3, 64, 64), features=True)
    assert scores.shape[:2] == (2, 1) and len(feats) == 4


def test_perceptual_net_is_frozen_and_normalises():
    net = PerceptualNet()
    net.train()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert "mean" in dict(net.named_buffers()) and "std" in dict(net.named_buffers())
    feats = net(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]
    assert [f.shape[-1] for f in feats] == [64, 32, 16, 8]


@pytest.fixture
def offline_vgg(monkeypatch, tmp_path):
    """No cached VGG19 file and no network."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def fail(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    from torchvision.models import VGG19_Weights
    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict", fail)


def test_missing_vgg_weights_is_one_clear_line(offline_vgg, tmp_path):
    with pytest.raises(PerceptualUnavailable) as err:
        PerceptualNet.pretrained()
    msg = str(err.value)
    assert "\n" not in msg and "vgg19" in msg and "perceptual=auto" in msg
    assert str(perceptual_module.vgg19_weights_file()).startswith(str(tmp_path / "hub"))


def test_perceptual_modes_without_weights(offline_vgg, tmp_path, capsys):
    root = face_triplets(tmp_path / "faces", 2, size=32)

    def trainer(mode):
        return ReconstructionTrainer(Config.from_dict(tiny_settings(
            tmp_path, task="facemask", root_dir=str(root), img_size=32, depth=2, perceptual=mode)))

    with pytest.raises(PerceptualUnavailable):
        trainer("vgg")
    auto = trainer("auto")
    assert "feature matching" in capsys.readouterr().out
    assert auto.perceptual is None
    assert "per" in auto.train_step({k: v for k, v in _batch(auto).items()})
    assert "per" not in trainer("none").train_step(_batch(auto))


def _batch(trainer):
    from datasets.base import collate_skip_broken
    return collate_skip_broken([trainer.train_set[i] for i in range(2)])


def test_perceptual_loss_uses_pretrained_weights_when_cached(monkeypatch, tmp_path):
    """With a cached state dict, ``pretrained`` loads it into the slices (no random VGG)."""
    from torchvision.models import VGG19_Weights, vgg19

    from models.perceptual import vgg19_weights_file

    reference = vgg19(weights=None).state_dict()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cached = vgg19_weights_file()  # in the torch cache (its bytes are torchvision's to read)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict",
                        lambda self, **kw: reference)
    net = PerceptualNet.pretrained()
    assert torch.equal(getattr(net.slices[1], "5").weight, reference["features.5.weight"])
    assert torch.equal(getattr(net.slices[3], "21").bias, reference["features.21.bias"])
