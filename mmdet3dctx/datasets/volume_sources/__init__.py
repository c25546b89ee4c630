"""Readers of labelled CT volume datasets as users hold them, each listing its cases for the preparation
(:func:`~mmdet3dctx.datasets.prepare_volume_dataset`): the Decathlon / nnU-Net layout (``msd``), DICOM studies with
a SEG (``dicom_seg``), sphere or box tables in LPS mm for MetaImage/NRRD/NIfTI volumes (``box_table``)."""
from .base import LoadedCase, SourceCase, SourceListing, VolumeDatasetError
from .box_table import list_box_table_cases, read_box_table
from .dicom_seg import list_dicom_seg_cases, read_seg_masks
from .msd import list_msd_cases, read_dataset_json

#: the source formats and their listing functions
SOURCE_FORMATS = ('msd', 'dicom-seg', 'boxes')

__all__ = ['VolumeDatasetError', 'LoadedCase', 'SourceCase', 'SourceListing', 'list_msd_cases', 'read_dataset_json',
           'list_dicom_seg_cases', 'read_seg_masks', 'list_box_table_cases', 'read_box_table', 'SOURCE_FORMATS']
