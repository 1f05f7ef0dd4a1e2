"""``arch: light``: shapes, cost, the fast path, its configs, and counting GFLOPs on ONNX graphs."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from configs import load_config
from modelfiles.onnx_cost import graph_macs, onnx_gflops
from models import Generator, MaskSegmenter
from models.fusion import fuse_for_inference
from models.light import InvertedResidual

LIGHT_BUDGET = 6.0  # GFLOPs per face for the light pipeline: segmenter at 128 + generator at 256


def _gflops(build, *shapes) -> float:
    with torch.device("meta"):
        model = build()
        inputs = [torch.rand(s) for s in shapes]
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(*inputs)
    return counter.get_total_flops() / 1e9


@pytest.mark.parametrize("hw", [(32, 32), (37, 50)])
def test_light_models_keep_shapes_and_ranges(hw):
    x = torch.rand(2, 3, *hw)
    m = (torch.rand(2, 1, *hw) > 0.5).float()
    seg = MaskSegmenter(base_channels=4, depth=2, arch="light")
    assert seg(x).shape == (2, 1, *hw) and seg.spec["arch"] == "light"
    gen = Generator(base_channels=4, depth=2, arch="light", fill="smooth", residual=True)
    out = gen(x, m)
    assert out.shape == (2, 3, *hw) and 0 <= out.min() and out.max() <= 1
    film = Generator(base_channels=4, depth=2, arch="light", audio="film", audio_dim=8)
    assert film(x, m, torch.randn(2, 8)).shape == (2, 3, *hw)
    # The light levels really are inverted residuals, with a depthwise 3x3 inside.
    blocks = [b for b in gen.modules() if isinstance(b, InvertedResidual)]
    assert blocks and all(b.body[3].groups == b.body[3].in_channels > 1 for b in blocks)


def test_the_light_pipeline_fits_its_budget():
    """Counted on the meta device: the light configs' segmenter at 128 plus generator at 256 cost
    at most 6 GFLOPs per face (about 5.6), over 6x less than the default pair at 256 (about 39)."""
    seg_cfg, gen_cfg = load_config("segm_light"), load_config("facemask_light")
    assert (seg_cfg.arch, gen_cfg.arch, seg_cfg.img_size, gen_cfg.img_size) == ("light", "light", 128, 256)
    seg = _gflops(lambda: MaskSegmenter(seg_cfg.base_channels, seg_cfg.depth, "light"), (1, 3, 128, 128))
    gen = _gflops(lambda: Generator(gen_cfg.base_channels, gen_cfg.depth, "light"),
                  (1, 3, 256, 256), (1, 1, 256, 256))
    default = (_gflops(lambda: MaskSegmenter(16, 4), (1, 3, 256, 256))
               + _gflops(lambda: Generator(32, 4), (1, 3, 256, 256), (1, 1, 256, 256)))
    assert seg + gen <= LIGHT_BUDGET, (seg, gen)
    assert default / (seg + gen) > 6, (default, seg + gen)
    params = sum(p.numel() for p in Generator(gen_cfg.base_channels, gen_cfg.depth, "light").parameters())
    assert params < 2_000_000, params


def test_the_fast_path_folds_and_matches_the_light_generator():
    torch.manual_seed(0)
    gen = Generator(base_channels=8, depth=3, arch="light").eval()
    for module in gen.modules():  # trained-looking statistics, so folding has something to fold
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    fast = fuse_for_inference(gen, "cpu", channels_last=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    x, m = torch.rand(2, 3, 48, 48), (torch.rand(2, 1, 48, 48) > 0.5).float()
    with torch.inference_mode():
        assert (fast(x, m) - gen(x, m)).abs().max() < 1e-4


def _tiny_graph(batch: str | int = "N"):
    """x (batch,3,10,10) -> Conv 3->8 3x3 -> depthwise Conv 8 groups 3x3 -> Flatten -> MatMul (800x5)
    -> Gemm (5x4, transB): known multiply-adds."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def init(name, *shape):
        return numpy_helper.from_array(np.zeros(shape, np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], pads=[1, 1, 1, 1], group=8),
             helper.make_node("Flatten", ["b"], ["c"]),
             helper.make_node("MatMul", ["c", "w3"], ["d"]),
             helper.make_node("Gemm", ["d", "w4"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                            [batch, 3, 10, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
                              [init("w1", 8, 3, 3, 3), init("w2", 8, 1, 3, 3), init("w3", 800, 5),
                               init("w4", 4, 5)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_onnx_gflops_counts_a_tiny_graph_exactly():
    conv = 8 * 100 * 3 * 9 + 8 * 100 * 1 * 9  # C_out * H*W * C_in/groups * 3*3
    matmul, gemm = 800 * 5, 5 * 4
    macs = graph_macs(_tiny_graph())
    assert macs == {"Conv": conv, "MatMul": matmul, "Gemm": gemm}
    assert onnx_gflops(_tiny_graph(), batch=3) == pytest.approx(3 * 2 * (conv + matmul + gemm) / 1e9)
    assert onnx_gflops(_tiny_graph(batch=2)) == pytest.approx(2 * 2 * (conv + matmul + gemm) / 1e9)


def test_the_light_table_shows_the_quality_benchmarks_scores_where_they_were_measured():
    """fp32 rows at 256 px (the side the quality benchmark trains at) carry each pair's held-out
    scores; int8 rows and other sides do not (their quality is not what was measured)."""
    from benchmarks.light_speed import report_light

    times = {"segmentation": 0.01, "generator": 0.02, "end to end": 0.04}
    costs = {"segm side": 128, "params M": [1.0, 1.5], "GFLOPs": [1.9, 3.8]}
    runs = {f"{name}, {runtime}": times for name in ("default", "light")
            for runtime in ("torch fp32", "onnxruntime fp32", "onnxruntime int8")}
    scores = {"e2e_psnr": 18.5, "e2e_ssim": 0.68, "dice": 0.896}
    light_dice = scores["dice"] + 0.001
    quality = {"results": {f"{split}: {recipe}": {"split": split, "recipe": recipe, **scores,
                                                  "dice": light_dice if recipe == "light" else scores["dice"]}
                           for split in ("people", "block") for recipe in ("default", "light")}}
    lines = report_light({"light": {256: {"costs": {"default": costs, "light": costs}, "times": runs},
                                    512: {"costs": {"default": costs, "light": costs}, "times": runs}},
                          "quality": quality})
    rows = [line for line in lines if line.startswith("| 256") or line.startswith("| 512")]
    assert len(rows) == 12 and "new people: Dice" in lines[3]
    for row in rows:
        measured = row.startswith("| 256") and "fp32" in row
        assert ("18.50 / 0.680" in row) == measured, row
        assert ("0.897" in row) == (measured and "| light" in row), row
