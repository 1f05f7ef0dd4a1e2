"""Datasets, the data layout, image loading, and (``datasets.prepare``) dataset preparation."""

from datasets.images import ImageReadError, load_image, load_mask
from datasets.layout import DatasetError
from datasets.reconstruction import ReconstructionDataset
from datasets.segmentation import SegmentationDataset, collate_skip_broken

__all__ = ["DatasetError", "ImageReadError", "ReconstructionDataset", "SegmentationDataset",
           "collate_skip_broken", "load_image", "load_mask"]
