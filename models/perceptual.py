"""Frozen VGG19 feature extractor for the perceptual loss."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

# ImageNet statistics the VGG weights were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# relu1_2, relu2_2, relu3_3, relu4_3 of torchvision's vgg19().features.
SLICES = ((0, 4), (4, 9), (9, 16), (16, 23))
DOWNLOAD_TIMEOUT_S = 20


class PerceptualUnavailable(RuntimeError):
    """The VGG19 ImageNet weights could not be had; the message says how to get them."""

    def __init__(self, reason: str, url: str, target: Path) -> None:
        self.reason, self.url, self.target = reason, url, target
        super().__init__(f"VGG19 ImageNet weights are not cached at {target} and could not be "
                         f"downloaded ({reason}); copy {url} there, or train with perceptual=auto "
                         "(feature-matching fallback) or perceptual=none")

    def notice(self) -> str:
        """The line ``perceptual=auto`` prints when it falls back."""
        return (f"no VGG19 ImageNet weights ({self.reason}), so the perceptual term is discriminator "
                f"feature matching; for VGG19, copy {self.url} to {self.target} (or run once online)")


def vgg19_weights_file() -> Path:
    """Where torchvision's weights API keeps the VGG19 ImageNet file."""
    from torchvision.models import VGG19_Weights

    name = VGG19_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def load_vgg19_imagenet(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The VGG19 ImageNet state dict: from ``path`` when given (checked), else from the torch
    cache, downloading it once if needed.

    Raises ``PerceptualUnavailable`` (one line, with the fix) when it cannot be had.
    Never falls back to random weights.
    """
    from torchvision.models import VGG19_Weights

    weights = VGG19_Weights.IMAGENET1K_V1
    if path is not None:
        return _local_vgg19(Path(path), weights.url)
    target = vgg19_weights_file()
    host = urlparse(weights.url).hostname or ""
    if not target.exists() and not _resolves(host):
        # torchvision prints "Downloading: URL" before it finds out there is no network.
        raise PerceptualUnavailable(f"{host} cannot be reached: no network", weights.url, target)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # fail fast offline instead of hanging
    try:
        return weights.get_state_dict(progress=not target.exists(), check_hash=False)
    except Exception as err:  # noqa: BLE001 - any failure means the same thing to the user
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise PerceptualUnavailable(reason[:120], weights.url, target) from None
    finally:
        socket.setdefaulttimeout(previous)


def _resolves(host: str) -> bool:
    """Whether ``host``'s name resolves (an offline machine answers at once)."""
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


def _local_vgg19(path: Path, url: str) -> dict[str, torch.Tensor]:
    """A VGG19 state dict from a file, refused in one line unless it is one."""
    if not path.is_file():
        raise PerceptualUnavailable(f"perceptual_weights={path} is not a file", url, path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - damaged bytes make the unpickler raise anything
        raise PerceptualUnavailable(f"{path} cannot be read ({type(err).__name__})", url, path) from None
    expected = {f"features.{i}.weight" for i in (0, 2, 5, 7, 10, 12, 14, 16, 19, 21)}
    if not isinstance(state, dict) or not expected <= set(state) or \
            tuple(state["features.0.weight"].shape) != (64, 3, 3, 3):
        raise PerceptualUnavailable(f"{path} is not a VGG19 state dict", url, path)
    return state


class PerceptualNet(nn.Module):
    """VGG19 activations at relu1_2, relu2_2, relu3_3, relu4_3; frozen, always in eval mode.

    ``forward``: ``(B,3,H,W)`` in [0,1] -> list of 4 feature maps. Build it with
    ``PerceptualNet.pretrained()``; ``PerceptualNet()`` alone has random weights and
    exists for tests of the plumbing.
    """

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import vgg19

        features = vgg19(weights=None).features[: SLICES[-1][1]]
        self.slices = nn.ModuleList(features[a:b] for a, b in SLICES)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def pretrained(cls, path: str | Path | None = None) -> PerceptualNet:
        """With the ImageNet weights (``path``: a local file of them; None: the torch cache)."""
        net = cls()
        state = load_vgg19_imagenet(path)
        # Our slices are numbered 0..3 and hold features[a:b]; map "features.N.*" onto them.
        mapped = {}
        for key, value in state.items():
            parts = key.split(".")
            if parts[0] != "features" or int(parts[1]) >= SLICES[-1][1]:
                continue
            index = int(parts[1])
            s = next(i for i, (a, b) in enumerate(SLICES) if a <= index < b)
            mapped[f"slices.{s}.{index}.{parts[2]}"] = value
        net.load_state_dict({**mapped, "mean": net.mean, "std": net.std})
        return net

    def train(self, mode: bool = True) -> PerceptualNet:
        return super().train(False)  # BatchNorm-free, but keep it frozen whatever the trainer does

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for block in self.slices:
            x = block(x)
            out.append(x)
        return out
