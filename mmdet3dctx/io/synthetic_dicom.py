"""Writing a CT series as DICOM files from an HU array (pydicom), for tests and benchmarks."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np


def write_ct_series(folder: str, hu: np.ndarray, z_positions: Sequence[float], series_uid: Optional[str] = None,
                    order: Optional[Sequence[int]] = None, slope: float = 1.0, intercept: float = -1024.0,
                    spacing=(0.7, 0.6), drop=(), modality: str = 'CT', orientation=(1, 0, 0, 0, 1, 0),
                    prefix: str = 'im', origin_xy=(-100.0, -90.0), study_uid: Optional[str] = None,
                    description: str = 'synthetic CT', patient_position: Optional[str] = None,
                    image_type=('ORIGINAL', 'PRIMARY', 'AXIAL'), patient_id: Optional[str] = None) -> str:
    """Write slice ``i`` of ``hu`` ``(Z, H, W)`` as it is stored (rows and columns as given) with
    ``ImagePositionPatient = (*origin_xy, z_positions[i])``, files written in ``order``.

    ``z_positions`` may also be ``(Z, 3)`` full positions. ``spacing`` is ``PixelSpacing`` (row spacing, column
    spacing); tags in ``drop`` are removed; ``patient_id`` replaces the template's ``PatientID``. Returns the
    series UID.
    """
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid
    os.makedirs(folder, exist_ok=True)
    series_uid = series_uid or generate_uid()
    template = pydicom.dcmread(get_testdata_file('CT_small.dcm'))
    ipps = np.asarray(z_positions, np.float64)
    if ipps.ndim == 1:
        ipps = np.stack([np.full(len(ipps), origin_xy[0]), np.full(len(ipps), origin_xy[1]), ipps], 1)
    order = range(len(ipps)) if order is None else order
    for k, i in enumerate(order):
        ds = template.copy()
        stored = np.round((np.asarray(hu[i], np.float64) - intercept) / slope).astype(np.int16)
        ds.Rows, ds.Columns = stored.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = stored.tobytes()
        ds.SeriesInstanceUID = series_uid
        if study_uid:
            ds.StudyInstanceUID = study_uid
        if patient_id:
            ds.PatientID = patient_id
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality = modality
        ds.SeriesDescription = description
        ds.ImageType = list(image_type)
        ds.ImagePositionPatient = [float(v) for v in ipps[i]]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = [float(v) for v in spacing]
        ds.SliceLocation = float(ipps[i][2])
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.InstanceNumber = i + 1
        if patient_position:
            ds.PatientPosition = patient_position
        for tag in drop:
            if tag in ds:
                delattr(ds, tag)
        ds.save_as(osp.join(folder, f'{prefix}{k:03d}.dcm'), enforce_file_format=True)
    return series_uid
