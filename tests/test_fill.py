"""The generator's first guess for the hole (models.fill) and the residual generator."""

from __future__ import annotations

import torch

from models import Generator
from models.fill import BAND, RIM, fill_hole, smooth_fill


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
