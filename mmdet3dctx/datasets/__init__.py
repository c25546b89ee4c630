"""DeepLesion data: CSV reader, dataset, slice loader and transforms (the synthetic tree: ``mmdet3dctx.testing``).

``dl_info``, ``slice_sampling``, ``recist_masks`` and ``deeplesion_coco`` are plain Python/NumPy/OpenCV and import
without MMDetection; the dataset and the transforms are registered in MMDetection's ``DATASETS``/``TRANSFORMS``
when MMDetection is installed.
"""
from .. import HAS_MMDET
from .dl_info import DLInfoError, load_key_slices, read_dl_info

__all__ = ['DLInfoError', 'load_key_slices', 'read_dl_info']

if HAS_MMDET:
    from .deeplesion import DeepLesionDataset
    from .transforms import LoadDeepLesionSlices, RandomDepthFlip, RandomShiftScaleRotate

    __all__ += ['DeepLesionDataset', 'LoadDeepLesionSlices', 'RandomDepthFlip', 'RandomShiftScaleRotate']
