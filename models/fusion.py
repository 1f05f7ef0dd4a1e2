"""Inference-only rewrites of a trained model: same outputs up to float rounding, less work.

- **BatchNorm folding**: in eval mode a BatchNorm after a convolution is a per-channel
  scale and shift, so it is folded into the convolution's weight and bias
  (``torch.nn.utils.fusion.fuse_conv_bn_eval``): one pass over the activations instead of two.
- **Conv + ReLU in one call** (CPU): oneDNN applies the ReLU while the convolution's output
  is still in cache (a "post-op"), instead of a second pass over memory. This uses the
  oneDNN operator PyTorch registers for its own compiler (``mkldnn::_convolution_pointwise``);
  it is checked against the plain path once per process and skipped when missing or different.

Only containers that run their children in order (``nn.Sequential``) are rewritten, so a
Conv2d is only ever fused with the layer that really follows it.
"""

from __future__ import annotations

import copy
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _pointwise_op():
    ops = getattr(torch.ops, "mkldnn", None)
    return getattr(ops, "_convolution_pointwise", None) if ops is not None else None


class ConvReLU(nn.Module):
    """``relu(conv(x))`` as one oneDNN call; ``(B,Cin,H,W) -> (B,Cout,H',W')``.

    Under CPU autocast the inputs are cast as autocast would cast a plain convolution
    (the fused operator is not on autocast's list, so it would otherwise run in fp32).
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        weight, bias = c.weight, c.bias
        if torch.is_autocast_enabled("cpu"):
            dtype = torch.get_autocast_dtype("cpu")
            x, weight = x.to(dtype), weight.to(dtype)
            bias = bias.to(dtype) if bias is not None else None
        return _pointwise_op()(x, weight, bias, list(c.padding), list(c.stride), list(c.dilation),
                               c.groups, "relu", [], "")


def _fusable(conv: nn.Conv2d) -> bool:
    return (type(conv) is nn.Conv2d and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str))


@cache
def conv_relu_fusion_works() -> bool:
    """True when the oneDNN Conv+ReLU operator exists here and matches conv then ReLU."""
    if _pointwise_op() is None or not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, padding=2, dilation=2).eval()
    x = torch.randn(2, 8, 9, 11, generator=generator)
    try:
        with torch.inference_mode():
            fused = ConvReLU(conv)(x)
            plain = F.relu(conv(x))
    except (RuntimeError, TypeError):
        return False
    return fused.shape == plain.shape and torch.allclose(fused, plain, rtol=1e-4, atol=1e-5)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every eval-mode ``Conv2d -> BatchNorm2d`` pair of an ``nn.Sequential`` in place
    (the BatchNorm becomes ``nn.Identity``). Returns the number folded."""
    folded = 0
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, norm = seq._modules[a], seq._modules[b]
            if type(conv) is nn.Conv2d and type(norm) is nn.BatchNorm2d and norm.track_running_stats:
                seq._modules[a] = fuse_conv_bn_eval(conv, norm)
                seq._modules[b] = nn.Identity()
                folded += 1
    return folded


def fuse_conv_relu(model: nn.Module) -> int:
    """Replace ``Conv2d -> ReLU`` (Identity layers left by folding in between are skipped)
    in every ``nn.Sequential`` with one ``ConvReLU``, in place. Returns the number fused."""
    fused = 0
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = [n for n in seq._modules if not isinstance(seq._modules[n], nn.Identity)]
        for a, b in zip(names, names[1:]):
            conv, act = seq._modules[a], seq._modules[b]
            if isinstance(conv, nn.Conv2d) and _fusable(conv) and type(act) is nn.ReLU:
                seq._modules[a] = ConvReLU(conv)
                seq._modules[b] = nn.Identity()
                fused += 1
    return fused


def fuse_for_inference(model: nn.Module, device: torch.device | str = "cpu",
                       channels_last: bool = True) -> nn.Module:
    """A frozen copy of ``model`` for inference on ``device`` (the original is untouched).

    BatchNorm is folded on every device; Conv+ReLU is fused on the CPU where oneDNN offers
    it; ``channels_last`` stores 4-D weights channels-last, the layout oneDNN and cuDNN
    convolve fastest without reordering. Outputs equal ``model.eval()``'s up to float rounding.
    """
    device = torch.device(device)
    fast = copy.deepcopy(model).to(device).eval().requires_grad_(False)
    fold_batchnorm(fast)
    if device.type == "cpu" and conv_relu_fusion_works():
        fuse_conv_relu(fast)
    if channels_last:
        fast.to(memory_format=torch.channels_last)
    return fast
