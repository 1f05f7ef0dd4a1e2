"""Inference: load both models, reconstruct photos, folders, datasets and videos.

``inference.pipeline.MaskReconstructor`` is the chain (its settings: ``inference.settings``);
``inference.runner`` runs it over an input for ``infer.py``, ``infer_jpgs.py`` and the web app;
``inference.command`` is the command line the two scripts share.
"""

from inference.morphology import clean_mask, dilate, erode
from inference.paste import Reconstruction
from inference.pipeline import MaskReconstructor
from inference.settings import ReconstructorSettings
from modelfiles.load import load_model, load_models

__all__ = ["MaskReconstructor", "Reconstruction", "ReconstructorSettings", "clean_mask", "dilate", "erode",
           "load_model", "load_models"]
