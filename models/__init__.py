"""Networks: segmenter, generator, discriminator, perceptual net (and the audio encoder)."""

from models.audio import AUDIO_ENCODER, AudioEncoder
from models.discriminator import NLayerDiscriminator
from models.generator import Generator, composite
from models.perceptual import PerceptualNet, PerceptualUnavailable
from models.segmenter import MaskSegmenter
from models.unet import UNet

__all__ = ["AUDIO_ENCODER", "AudioEncoder", "Generator", "MaskSegmenter", "NLayerDiscriminator",
           "PerceptualNet", "PerceptualUnavailable", "UNet", "composite"]
