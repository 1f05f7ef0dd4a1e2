"""The generator's first guess for the hole (models.fill) and the residual generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_settings
from synthetic import face_triplets

from models import Generator
from models.fill import BAND, RIM, fill_hole, smooth_fill
from models.generator import PRIOR_SIDE


def _hole(b: int = 2, side: int = 40) -> torch.Tensor:
    m = torch.zeros(b, 1, side, side)
    m[:, :, 12:30, 8:33] = 1
    return m


def test_smooth_fill_keeps_the_outside_and_fills_a_flat_image_exactly():
    m = _hole()
    flat = torch.full((2, 3, 40, 40), 0.3)
    flat[1] = 0.8
    assert torch.allclose(smooth_fill(flat, m), flat, atol=1e-6)
    x = torch.rand(2, 3, 40, 40)
    filled = smooth_fill(x, m)
    assert torch.equal(filled * (1 - m), x * (1 - m))
    assert filled.min() >= 0 and filled.max() <= 1


def test_smooth_fill_takes_the_colours_around_the_hole_not_the_far_ones_or_the_rim():
    m = _hole(1)
    x = torch.zeros(1, 3, 40, 40)  # dark far away (hair, background)
    grown = torch.nn.functional.max_pool2d(m, 2 * (RIM + BAND) + 1, stride=1, padding=RIM + BAND)
    x = x + grown * 0.6  # skin-coloured band around the hole
    rim = torch.nn.functional.max_pool2d(m, 2 * RIM + 1, stride=1, padding=RIM) - m
    x = torch.where(rim > 0, torch.ones_like(x), x)  # a white drawn rim, as a mask's edge has
    inside = smooth_fill(x, m)[m.expand(1, 3, -1, -1) > 0]
    assert (inside - 0.6).abs().max() < 0.05, (inside.min(), inside.max())


def test_smooth_fill_without_surroundings_is_grey():
    ones = torch.ones(1, 1, 16, 16)
    assert torch.allclose(smooth_fill(torch.rand(1, 3, 16, 16), ones), torch.full((1, 3, 16, 16), 0.5))


def test_white_fill_is_the_published_input():
    x, m = torch.rand(2, 3, 40, 40), _hole()
    assert torch.equal(fill_hole(x, m, "white"), x * (1 - m) + m)


def test_an_untrained_residual_generator_returns_its_fill():
    torch.manual_seed(0)
    x, m = torch.rand(2, 3, 32, 32) * 0.8 + 0.1, _hole(2, 32)
    g = Generator(base_channels=4, depth=2, fill="smooth", residual=True).eval()
    with torch.no_grad():
        assert torch.allclose(g(x, m), smooth_fill(x, m), atol=1e-5)
    assert g.spec["fill"] == "smooth" and g.spec["residual"] is True
    # Checkpoints written before these arguments rebuild as they were trained.
    assert Generator().fill == "white" and not Generator().residual


def test_prior_fill_is_the_mean_face_in_the_colours_around_the_hole():
    m = _hole(1)
    truth = torch.rand(1, 3, 40, 40) * 0.5 + 0.2
    prior = (truth - torch.tensor([0.1, -0.05, 0.02]).view(1, 3, 1, 1))  # the same face, another light
    filled = fill_hole(truth * (1 - m), m, "prior", prior)
    assert torch.equal(filled * (1 - m), truth * (1 - m))
    assert torch.allclose(filled, truth, atol=1e-5)
    with pytest.raises(ValueError, match="mean face"):
        fill_hole(truth, m, "prior")


def test_the_prior_is_the_training_faces_mean_and_travels_with_the_checkpoint(tmp_path):
    from configs import Config
    from modelfiles.load import load_model
    from stages import RECONSTRUCTION
    from trainers import ReconstructionTrainer

    root = face_triplets(tmp_path / "faces", 3, size=32)
    cfg = Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=32,
                                         depth=2, fill="prior", residual=True, val_anns="none"))
    trainer = ReconstructionTrainer(cfg)
    faces = torch.stack([trainer.train_set[i]["image"] for i in range(len(trainer.train_set))])
    expected = F.interpolate(faces.mean(0, keepdim=True), size=(PRIOR_SIDE, PRIOR_SIDE), mode="area")
    assert torch.allclose(trainer.models["G"].prior, expected, atol=1e-5)
    loaded = load_model(cfg, RECONSTRUCTION, trainer.save()).model
    assert torch.equal(loaded.prior, trainer.models["G"].prior)
    x, m = faces[:1], _hole(1, 32)
    with torch.no_grad():  # untrained and residual: the output is the shifted mean face
        assert torch.allclose(loaded.eval()(x, m), fill_hole(x, m, "prior", expected), atol=2e-3)


def test_the_prior_takes_its_colour_above_the_mask_not_below_or_beside_it():
    m = _hole(1)
    prior = torch.full((1, 3, 40, 40), 0.5)
    x = torch.full((1, 3, 40, 40), 0.7)  # skin
    x[:, :, 30:] = 0.05  # a dark neck or beard under the mask
    x[:, :, :, :9] = 0.1  # dark hair beside it
    inside = fill_hole(x, m, "prior", prior)[m.expand(1, 3, -1, -1) > 0]
    assert (inside - 0.7).abs().max() < 1e-5
