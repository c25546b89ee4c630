"""DeepLesion data: CSV reader, dataset, slice loader and transforms (the synthetic tree: ``mmdet3dctx.testing``).

Volume datasets: ``prepare_volumes`` (with ``volume_sources``, ``volume_index``, ``volume_split``) writes the
index and cache that training and 3D evaluation read.

``dl_info``, ``slice_sampling``, ``recist_masks`` and ``deeplesion_coco`` are plain Python/NumPy/OpenCV and import
without MMDetection; the dataset and the transforms are registered in MMDetection's ``DATASETS``/``TRANSFORMS``
when MMDetection is installed.
"""
from .. import HAS_MMDET
from .dl_info import DLInfoError, load_key_slices, read_dl_info
from .prepare_volumes import detect_source_format, format_prepare_summary, prepare_volume_dataset
from .volume_sources import VolumeDatasetError

__all__ = ['DLInfoError', 'load_key_slices', 'read_dl_info']
# CT volume datasets (the Decathlon / nnU-Net layout, DICOM SEG studies, sphere/box tables) prepared for training
__all__ += ['prepare_volume_dataset', 'detect_source_format', 'format_prepare_summary', 'VolumeDatasetError']

if HAS_MMDET:
    from .deeplesion import DeepLesionDataset
    from .transforms import LoadDeepLesionSlices, LoadVolumeSlices, RandomDepthFlip, RandomShiftScaleRotate
    from .volume_lesion import VolumeLesionDataset

    __all__ += ['DeepLesionDataset', 'LoadDeepLesionSlices', 'RandomDepthFlip', 'RandomShiftScaleRotate',
                'VolumeLesionDataset', 'LoadVolumeSlices']
