"""Inference: load both models, reconstruct photos, folders, datasets and videos.

``inference.pipeline.MaskReconstructor`` is the chain; ``inference.command`` is the command
line that ``infer.py`` and ``infer_jpgs.py`` share.
"""

from inference.morphology import clean_mask, dilate, erode
from inference.pipeline import MaskReconstructor, Reconstruction
from modelfiles.load import load_model, load_models

__all__ = ["MaskReconstructor", "Reconstruction", "clean_mask", "dilate", "erode", "load_model",
           "load_models"]
