"""Networks: segmenter, generator, discriminator, perceptual net, audio encoder.

Every trained network records a ``spec`` (its kind and constructor arguments) that
checkpoints keep, so ``build_model(spec)`` rebuilds it without the training config.
"""

from typing import Any

from torch import nn

from models.audio import AUDIO_ENCODER, AudioEncoder
from models.discriminator import NLayerDiscriminator
from models.generator import Generator, composite
from models.perceptual import PerceptualNet, PerceptualUnavailable
from models.segmenter import MaskSegmenter
from models.unet import UNet

MODELS: dict[str, type[nn.Module]] = {"segm": MaskSegmenter, "generator": Generator,
                                      "audio_encoder": AudioEncoder}


def build_model(kind: str, spec: dict[str, Any]) -> nn.Module:
    """The network ``kind`` (a key of ``MODELS``) with the constructor arguments in ``spec``
    (its ``kind`` entry, if any, is ignored). TypeError / ValueError for arguments it lacks."""
    if kind not in MODELS:
        raise ValueError(f"no model kind '{kind}' (known: {', '.join(MODELS)})")
    return MODELS[kind](**{k: v for k, v in spec.items() if k != "kind"})


__all__ = ["AUDIO_ENCODER", "MODELS", "AudioEncoder", "Generator", "MaskSegmenter", "NLayerDiscriminator",
           "PerceptualNet", "PerceptualUnavailable", "UNet", "build_model", "composite"]
