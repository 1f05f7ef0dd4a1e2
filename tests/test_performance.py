"""The fast paths give the same results: BatchNorm folding, Conv+ReLU fusion, channels_last,
bf16 autocast on the CPU (issue 7, must-show 3), and the decoded-image cache.

Tolerances, on outputs in [0, 1] (generator image, segmenter probabilities), with the
models' outputs spread out (logits of standard deviation 2) so that a wrong path cannot
hide near 0.5:
- fp32 fast path (folded, fused, channels_last) vs the plain eval model: max |diff| <= 1e-4
  (float rounding: measured 1e-7 generator, 2e-6 segmenter);
- bf16 autocast on the CPU vs fp32: mean |diff| <= 0.01 and max |diff| <= 0.1 (bf16 keeps 8
  significant bits; measured mean 0.001 / 0.005 and max 0.003 / 0.03, generator / segmenter);
- a bf16 training step: losses within 2% of fp32's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_settings
from synthetic import face_triplets
from torch import nn
from torch.utils.data import DataLoader

from configs import Config
from core.device import cpu_bf16_supported
from datasets.base import collate_skip_broken
from datasets.reconstruction import ReconstructionDataset
from helpers_infer import one_torch_thread  # noqa: F401 (autouse fixture)
from inference.morphology import binarize
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from models import Generator, MaskSegmenter
from models.fusion import ConvReLU, conv_relu_fusion_works, fuse_for_inference
from trainers import ReconstructionTrainer

FP32_TOLERANCE = 1e-4
BF16_MEAN_TOLERANCE, BF16_MAX_TOLERANCE = 0.01, 0.1


def trained_looking(model: nn.Module, seed: int, *args: torch.Tensor) -> nn.Module:
    """Initial weights with non-trivial BatchNorm statistics and affine terms (a folded
    BatchNorm that is still the identity would prove nothing), and the output layer scaled
    so that the logits for ``args`` have mean 0 and standard deviation 2 (sigmoids spread
    over [0, 1] instead of all near 0.5)."""
    g = torch.Generator().manual_seed(seed)
    model.eval()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                n = mod.num_features
                mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                mod.weight.copy_(torch.rand(n, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(n, generator=g) * 0.1)
        captured = []
        hook = model.head.register_forward_hook(lambda mod, inp, out: captured.append(out))
        model(*args)
        hook.remove()
        logits = captured[0]
        scale = 2.0 / logits.std()
        model.head.weight.mul_(scale)
        model.head.bias.mul_(scale).sub_(logits.mean() * scale)
    return model


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    # 60x52: not a multiple of 2**depth, so the padding path runs too.
    return torch.rand(2, 3, 60, 52, generator=g), (torch.rand(2, 1, 60, 52, generator=g) > 0.6).float()


@pytest.fixture(scope="module")
def models(inputs) -> tuple[MaskSegmenter, Generator]:
    torch.manual_seed(0)
    x, m = inputs
    return trained_looking(MaskSegmenter(8, 3), 1, x), trained_looking(Generator(16, 3), 2, x, m)


def test_fused_copy_matches_the_eval_model_and_leaves_it_untouched(models, inputs):
    segmenter, generator = models
    x, m = inputs
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    fast_g, fast_s = fuse_for_inference(generator), fuse_for_inference(segmenter)
    # Every BatchNorm is gone from the copies, and on this CPU every Conv->ReLU is one call.
    assert not any(isinstance(mod, nn.BatchNorm2d) for mod in fast_g.modules())
    if conv_relu_fusion_works():
        assert sum(isinstance(mod, ConvReLU) for mod in fast_g.modules()) >= 10
    assert fast_g.head.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        # The generator ends in a sigmoid; the segmenter gives logits.
        for plain, fast, args, squash in ((generator, fast_g, (x, m), nn.Identity()),
                                          (segmenter, fast_s, (x,), torch.sigmoid)):
            want = squash(plain(*args))
            got = squash(fast(*(a.contiguous(memory_format=torch.channels_last) for a in args)))
            assert want.std() > 0.2  # the outputs are spread, not all near 0.5
            assert (got - want).abs().max() <= FP32_TOLERANCE
    # The original keeps its BatchNorm layers and its weights.
    assert any(isinstance(mod, nn.BatchNorm2d) for mod in generator.modules())
    assert all(torch.equal(v, before[k]) for k, v in generator.state_dict().items())


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no bf16 convolutions (cpu_amp runs fp32)")
def test_bf16_autocast_and_channels_last_on_cpu_match_fp32(models, inputs):
    segmenter, generator = models
    x, m = inputs
    reference = MaskReconstructor(segmenter, generator,
                                  ReconstructorSettings(64, fuse=False, channels_last=False))
    fast = MaskReconstructor(segmenter, generator, ReconstructorSettings(64, cpu_amp=True))
    assert fast.amp_dtype == torch.bfloat16
    seen: list[torch.dtype] = []
    fast.generator.head.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    with torch.inference_mode():
        cl = lambda t: t.contiguous(memory_format=torch.channels_last)  # noqa: E731
        pairs = {"generator": (reference.generate(x, m), fast.generate(cl(x), cl(m)))}
        pairs["segmenter"] = (reference.probabilities(x), fast.probabilities(cl(x)))
    assert seen == [torch.bfloat16]  # the bf16 path really ran
    for name, (want, got) in pairs.items():
        assert got.dtype == torch.float32 and want.std() > 0.2
        diff = (got - want).abs()
        assert diff.mean() <= BF16_MEAN_TOLERANCE, (name, float(diff.mean()))
        assert diff.max() <= BF16_MAX_TOLERANCE, (name, float(diff.max()))
        assert diff.max() > 0  # bf16 rounding shows: this is not the fp32 path again


@pytest.mark.skipif(not cpu_bf16_supported(), reason="this CPU has no bf16 convolutions (cpu_amp runs fp32)")
def test_bf16_training_step_on_cpu_matches_fp32(tmp_path):
    """The same first steps from the same weights: losses within 2% of fp32's."""
    root = face_triplets(tmp_path / "faces", 2, size=32)
    losses = {}
    for cpu_amp in (False, True):
        cfg = Config.from_dict(tiny_settings(tmp_path / str(cpu_amp), task="facemask", root_dir=str(root),
                                             img_size=32, depth=2, flip=False, cpu_amp=cpu_amp))
        trainer = ReconstructionTrainer(cfg)
        batch = collate_skip_broken([trainer.train_set[i] for i in range(2)])
        losses[cpu_amp] = [trainer.train_step(batch) for _ in range(2)]
    for fp32, bf16 in zip(*losses.values()):
        for key in ("loss_G", "loss_D", "loss_D2", "rec"):
            assert bf16[key] == pytest.approx(fp32[key], rel=0.02), key
    assert losses[True][0]["loss_G"] != losses[False][0]["loss_G"]  # autocast was on


def test_preloaded_cache_serves_dataloader_workers_without_the_files(tmp_path):
    root = face_triplets(tmp_path / "faces", 5, size=24)
    dataset = ReconstructionDataset(root, 24, cache_images=True)
    expected = [dataset[i]["masked"] for i in range(5)]  # also fills the cache: clear it
    dataset.cache.clear()
    nbytes = dataset.preload()
    assert len(dataset.cache) == 5 and nbytes == 5 * 24 * 24 * 7
    for folder in ("image", "image_masked", "image_binary"):
        for path in (root / folder).iterdir():
            path.unlink()
    # Forked workers inherit the main process's cache: every item still loads.
    loader = DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=collate_skip_broken)
    batches = list(loader)
    assert sum(len(b["name"]) for b in batches) == 5
    got = torch.cat([b["masked"] for b in batches])
    assert torch.equal(got, torch.stack(expected))


def test_trainer_preloads_when_cache_images_is_on(tmp_path):
    root = face_triplets(tmp_path / "faces", 3, size=16)
    cfg = Config.from_dict(tiny_settings(tmp_path, task="facemask", root_dir=str(root), img_size=16,
                                         depth=2, cache_images=True, val_dir=str(root)))
    trainer = ReconstructionTrainer(cfg)
    assert len(trainer.train_set.cache) == 3 and len(trainer.val_set.cache) == 3
    assert np.array_equal(trainer.train_set.cache[0]["mask"], trainer.val_set.cache[0]["mask"])


def test_benchmark_counts_and_baselines():
    """The suite's FLOP counts (meta device: nothing is computed) and its published threshold
    loop: the same mask as ours, and the published topology costs >= 60x our generator."""
    from benchmarks.baselines import classical_inpainters, published_threshold_loop
    from benchmarks.speed import default_models, gflops

    prob = torch.rand(2, 1, 5, 7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(published_threshold_loop(prob), binarize(prob, 0.5))
    (_, ours), (_, flat) = default_models(), default_models("flat")
    assert gflops(ours, 512) == pytest.approx(126, abs=1)
    assert gflops(flat, 512) / gflops(ours, 512) >= 60
    image = np.full((16, 16, 3), 200, np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[5:9, 5:9] = True
    image[hole] = 0
    for name, inpaint in classical_inpainters().items():
        filled = np.asarray(inpaint(image, hole), dtype=float)
        scale = 255 if filled.max() > 1.5 else 1  # skimage returns floats in [0, 1]
        assert filled[hole].mean() * 255 / scale > 150, name  # the hole takes its surroundings' grey
