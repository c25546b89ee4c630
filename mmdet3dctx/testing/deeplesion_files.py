"""Small DeepLesion trees with values known in closed form."""
import csv
import os
import os.path as osp

import cv2
import numpy as np

from mmdet3dctx.datasets.dl_info import DL_INFO_COLUMNS

DEFAULT_ROW = dict(
    File_name='000001_01_01_010.png',
    Patient_index='1',
    Study_index='1',
    Series_ID='1',
    Key_slice_index='10',
    Measurement_coordinates='21, 31, 41, 31, 31, 26, 31, 36',
    Bounding_boxes='16, 21, 46, 41',
    Lesion_diameters_Pixel_='20, 10',
    Normalized_lesion_location='0.5, 0.5, 0.5',
    Coarse_lesion_type='-1',
    Possibly_noisy='0',
    Slice_range='5, 15',
    Spacing_mm_px_='0.8, 0.8, 2.5',
    Image_size='64, 64',
    DICOM_windows='-175, 275',
    Patient_gender='F',
    Patient_age='62',
    Train_Val_Test='1',
)


def row(key=10, patient=1, study=1, series=1, **overrides):
    """A CSV row (dict of cells) for key slice ``key`` of series ``patient_study_series``."""
    r = dict(DEFAULT_ROW)
    r.update(File_name=f'{patient:06d}_{study:02d}_{series:02d}_{key:03d}.png', Patient_index=str(patient),
             Study_index=str(study), Series_ID=str(series), Key_slice_index=str(key))
    r.update({k: str(v) for k, v in overrides.items()})
    return r


def write_csv(path, rows, columns=DL_INFO_COLUMNS):
    """Write ``rows`` (dicts of cells) with the given header."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, '') for c in columns])
    return path


def write_slice(root, series_name, index, hu):
    """Write one slice (HU array) as a DeepLesion uint16 PNG; returns its path."""
    folder = osp.join(root, 'Images_png', series_name)
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, f'{index:03d}.png')
    assert cv2.imwrite(path, (np.asarray(hu, np.int32) + 32768).astype(np.uint16))
    return path


def write_constant_series(root, series_name, first, last, hu_of_index, size=(64, 64), skip=()):
    """Slices ``first..last`` (minus ``skip``), slice ``i`` filled with ``hu_of_index(i)`` HU."""
    h, w = size[1], size[0]
    for i in range(first, last + 1):
        if i not in skip:
            write_slice(root, series_name, i, np.full((h, w), hu_of_index(i), np.int32))
