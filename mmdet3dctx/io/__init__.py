"""Reading CT studies as they come: DICOM series, NIfTI volumes, DeepLesion series folders, into one
:class:`CTVolume` (HU, ``(Z, H, W)``, spacing in mm)."""
from .ct_volume import CTVolume
from .deeplesion_series import read_deeplesion_series
from .dicom import DicomSeriesError, list_dicom_series, read_dicom_series
from .nifti import read_nifti

__all__ = ['CTVolume', 'read_dicom_series', 'list_dicom_series', 'DicomSeriesError', 'read_nifti',
           'read_deeplesion_series']
