"""Reading CT studies as they come: DICOM study folders, NIfTI volumes, DeepLesion series folders, into one
:class:`CTVolume` (HU, ``(Z, H, W)`` in one layout, geometry in LPS mm); :func:`read_volume` detects the format and
calls its reader. MetaImage and NRRD volumes (SimpleITK): :func:`read_itk_volume`."""
from .ct_volume import GAP_FACTOR, CTVolume
from .deeplesion_series import read_deeplesion_series
from .dicom import (DicomSeriesError, SeriesInfo, SkippedFile, choose_series, list_dicom_series, read_dicom_series,
                    scan_dicom_study)
from .itk_volume import read_itk_volume
from .nifti import nifti_in_volume_layout, read_nifti, volume_to_nifti
from .synthetic_dicom import write_ct_series
from .volume_geometry import VolumeGeometry, slice_run_ids, slice_runs, voxel_lps
from .volume_reader import VOLUME_FORMATS, detect_volume_format, read_volume

__all__ = ['CTVolume', 'GAP_FACTOR', 'read_dicom_series', 'list_dicom_series', 'scan_dicom_study', 'choose_series',
           'SeriesInfo', 'SkippedFile', 'DicomSeriesError', 'read_nifti', 'volume_to_nifti', 'nifti_in_volume_layout',
           'read_itk_volume', 'read_deeplesion_series', 'write_ct_series', 'read_volume', 'detect_volume_format',
           'VOLUME_FORMATS', 'VolumeGeometry', 'slice_runs', 'slice_run_ids', 'voxel_lps']
