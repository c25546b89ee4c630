"""DeepLesion data: CSV reader, dataset, slice loader, transforms and a synthetic generator.

``dl_info`` and ``synthetic`` are plain Python/NumPy and import without MMDetection; the dataset and the
transforms are registered in MMDetection's ``DATASETS``/``TRANSFORMS`` when MMDetection is installed.
"""
import importlib.util

from .dl_info import DLInfoError, load_key_slices, read_dl_info

__all__ = ['DLInfoError', 'load_key_slices', 'read_dl_info']

if importlib.util.find_spec('mmdet') is not None:
    pass
