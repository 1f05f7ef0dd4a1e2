"""Datasets, the data layout, image loading, and (``datasets.prepare``) dataset preparation."""

import sys

if sys.argv[:1] == ["-m"]:  # "python3 -m datasets.prepare": move to the project's .venv first
    try:
        import cli
    except ImportError:
        pass
    else:
        cli.use_project_venv()

from datasets.images import ImageReadError, load_image, load_mask
from datasets.layout import DatasetError
from datasets.reconstruction import ReconstructionDataset
from datasets.segmentation import SegmentationDataset, collate_skip_broken

__all__ = ["DatasetError", "ImageReadError", "ReconstructionDataset", "SegmentationDataset",
           "collate_skip_broken", "load_image", "load_mask"]
