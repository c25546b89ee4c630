"""Reading a CT series from a folder of DICOM files (pydicom)."""
import os
import os.path as osp
import warnings
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

from .ct_volume import CTVolume

#: orientation assumed where ImageOrientationPatient is missing: a plain axial slice
AXIAL = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


class DicomSeriesError(ValueError):
    """A DICOM folder that cannot be read as one CT series; the message names the files or tags at fault."""


def _dcmread(path, **kwargs):
    import pydicom
    from pydicom.errors import InvalidDicomError
    try:
        return pydicom.dcmread(path, **kwargs)
    except InvalidDicomError:
        return None


def _floats(ds, tag, n=None) -> Optional[np.ndarray]:
    from pydicom.multival import MultiValue
    value = ds.get(tag)
    if value is None or value == '':
        return None
    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    try:
        arr = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if n is not None and arr.shape[0] != n:
        return None
    return arr


def list_dicom_series(directory: str) -> Dict[str, List[str]]:
    """DICOM files under ``directory`` (not recursive) grouped by ``SeriesInstanceUID``; other files skipped."""
    if not osp.isdir(directory):
        raise DicomSeriesError(f'{directory}: not a directory')
    series = defaultdict(list)
    for name in sorted(os.listdir(directory)):
        path = osp.join(directory, name)
        if not osp.isfile(path):
            continue
        ds = _dcmread(path, stop_before_pixels=True)
        if ds is None or 'Rows' not in ds:  # not DICOM, or no image (a DICOMDIR, a report)
            continue
        series[str(ds.get('SeriesInstanceUID', 'unknown-series'))].append(path)
    return dict(series)


def read_dicom_series(directory: str, series_uid: Optional[str] = None, allow_non_ct: bool = False) -> CTVolume:
    """Read one CT series from a DICOM folder into a :class:`CTVolume`.

    Files are grouped by ``SeriesInstanceUID`` (a folder with several series needs ``series_uid``), sorted by
    ``ImagePositionPatient`` projected on the slice normal (``InstanceNumber`` where positions are missing),
    converted to HU with ``RescaleSlope``/``RescaleIntercept`` (1 and 0 where missing); the in-plane spacing
    comes from ``PixelSpacing``, the slice spacing from the position steps (``SpacingBetweenSlices`` or
    ``SliceThickness`` for a single slice). Non-DICOM files in the folder are skipped.

    Args:
        directory (str): folder of the series' files.
        series_uid (str, optional): which series to read when the folder holds several.
        allow_non_ct (bool): read a series whose ``Modality`` is not CT (the values are then not HU).

    Raises:
        DicomSeriesError: no DICOM files, several series and no ``series_uid``, a non-CT modality, mixed
            orientations or image sizes, two slices at one position; the message names files and tags.
    """
    groups = list_dicom_series(directory)
    if not groups:
        raise DicomSeriesError(f'{directory}: no DICOM files found')
    if series_uid is None:
        if len(groups) > 1:
            listing = ', '.join(f'{uid} ({len(files)} files)' for uid, files in groups.items())
            raise DicomSeriesError(f'{directory} holds {len(groups)} series; choose one with series_uid: {listing}')
        series_uid = next(iter(groups))
    if series_uid not in groups:
        raise DicomSeriesError(f'{directory}: no series {series_uid!r}; found {sorted(groups)}')
    files = groups[series_uid]
    datasets = [_dcmread(f) for f in files]

    modalities = {str(ds.get('Modality', '')) for ds in datasets} - {''}
    if modalities and modalities != {'CT'} and not allow_non_ct:
        bad = next(f for f, ds in zip(files, datasets) if str(ds.get('Modality', '')) not in ('', 'CT'))
        raise DicomSeriesError(f'{bad}: Modality {sorted(modalities)} is not CT; this reader makes HU volumes '
                               'from CT series only (allow_non_ct=True reads it anyway, without HU)')

    orientations = []
    for f, ds in zip(files, datasets):
        iop = _floats(ds, 'ImageOrientationPatient', 6)
        orientations.append(AXIAL if iop is None else iop)
    ref = orientations[0]
    for f, iop in zip(files, orientations):
        if np.abs(iop - ref).max() > 1e-3:
            raise DicomSeriesError(f'{f}: ImageOrientationPatient {iop.round(4).tolist()} differs from '
                                   f'{ref.round(4).tolist()} of {files[0]} (mixed orientations in one series)')
    normal = np.cross(ref[:3], ref[3:])

    shapes = {(int(ds.Rows), int(ds.Columns)) for ds in datasets}
    if len(shapes) > 1:
        raise DicomSeriesError(f'{directory}: series {series_uid} mixes image sizes {sorted(shapes)}')

    ipps = [_floats(ds, 'ImagePositionPatient', 3) for ds in datasets]
    if all(p is not None for p in ipps):
        positions = np.array([float(np.dot(p, normal)) for p in ipps])
        how = 'ImagePositionPatient'
    else:
        missing = [f for f, p in zip(files, ipps) if p is None]
        inst = [_floats(ds, 'InstanceNumber', 1) for ds in datasets]
        loc = [_floats(ds, 'SliceLocation', 1) for ds in datasets]
        if all(v is not None for v in loc):
            positions, how = np.array([v[0] for v in loc]), 'SliceLocation'
        elif all(v is not None for v in inst):
            positions, how = np.array([v[0] for v in inst]), 'InstanceNumber'
        else:
            raise DicomSeriesError(f'{missing[0]}: no ImagePositionPatient, SliceLocation or InstanceNumber to '
                                   'order the slices by')
        if len(files) > 1:
            warnings.warn(f'{directory}: ImagePositionPatient missing in {len(missing)} files; slices ordered '
                          f'by {how}')

    order = np.argsort(positions, kind='stable')
    positions = positions[order]
    if len(positions) > 1:
        dup = np.flatnonzero(np.diff(positions) < 1e-4)
        if dup.size:
            a, b = files[order[dup[0]]], files[order[dup[0] + 1]]
            raise DicomSeriesError(f'{a} and {b} lie at the same slice position {positions[dup[0]]:.3f} mm')

    slices = []
    for i in order:
        ds = datasets[i]
        try:
            pixels = ds.pixel_array.astype(np.float32)
        except Exception as e:  # a missing decoder, truncated pixel data, ...
            raise DicomSeriesError(f'{files[i]}: cannot decode PixelData ({e})') from e
        slope = _floats(ds, 'RescaleSlope', 1)
        intercept = _floats(ds, 'RescaleIntercept', 1)
        slices.append(pixels * (1.0 if slope is None else slope[0]) + (0.0 if intercept is None else intercept[0]))
    hu = np.stack(slices)

    ps = _floats(datasets[0], 'PixelSpacing', 2)
    if ps is None:
        warnings.warn(f'{files[0]}: no PixelSpacing; assuming 1 mm pixels')
        ps = np.array([1.0, 1.0])
    if len(positions) > 1 and how != 'InstanceNumber':
        dz = float(np.median(np.diff(positions)))
    else:
        dz_tag = _floats(datasets[0], 'SpacingBetweenSlices', 1)
        if dz_tag is None:
            dz_tag = _floats(datasets[0], 'SliceThickness', 1)
        dz = float(dz_tag[0]) if dz_tag is not None and dz_tag[0] > 0 else 1.0
        if how == 'InstanceNumber':
            positions = (positions - positions[0]) * dz
    metadata = dict(source='dicom', directory=directory, files=[files[i] for i in order], series_uid=series_uid,
                    modality=sorted(modalities)[0] if modalities else None, orientation=ref.tolist(),
                    ordered_by=how, study_uid=str(datasets[0].get('StudyInstanceUID', '')) or None,
                    series_description=str(datasets[0].get('SeriesDescription', '')) or None)
    return CTVolume(hu=hu, spacing=(dz, float(ps[0]), float(ps[1])), positions=positions, metadata=metadata)
