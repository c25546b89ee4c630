"""DeepLesion data: CSV reader, dataset, slice loader, transforms and a synthetic generator.

``dl_info``, ``slice_sampling``, ``recist_masks``, ``deeplesion_coco`` and ``synthetic`` are plain
Python/NumPy/OpenCV and import without MMDetection; the dataset and the transforms are registered in
MMDetection's ``DATASETS``/``TRANSFORMS`` when MMDetection is installed.
"""
import importlib.util

from .dl_info import DLInfoError, load_key_slices, read_dl_info
from .synthetic import make_synthetic_deeplesion

__all__ = ['DLInfoError', 'load_key_slices', 'read_dl_info', 'make_synthetic_deeplesion']

if importlib.util.find_spec('mmdet') is not None:
    from .deeplesion import DeepLesionDataset
    from .transforms import LoadDeepLesionSlices, RandomDepthFlip, RandomShiftScaleRotate

    __all__ += ['DeepLesionDataset', 'LoadDeepLesionSlices', 'RandomDepthFlip', 'RandomShiftScaleRotate']
