import os
import os.path as osp

import numpy as np
import pytest

pydicom = pytest.importorskip('pydicom')
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from mmdet3dctx.io import DicomSeriesError, list_dicom_series, read_dicom_series  # noqa: E402

CT_SMALL = get_testdata_file('CT_small.dcm')
CT2 = osp.join(osp.dirname(CT_SMALL), 'dicomdirtests', '77654033', 'CT2')


def write_series(folder, hu, z_positions, series_uid=None, order=None, slope=1.0, intercept=-1024.0,
                 spacing=(0.7, 0.6), drop=(), modality='CT', orientation=(1, 0, 0, 0, 1, 0), prefix='im'):
    """Write a CT series from a ``(Z, H, W)`` HU array with pydicom, files in the given order."""
    os.makedirs(folder, exist_ok=True)
    series_uid = series_uid or generate_uid()
    order = range(len(z_positions)) if order is None else order
    for k, i in enumerate(order):
        ds = pydicom.dcmread(CT_SMALL)
        stored = np.round((hu[i] - intercept) / slope).astype(np.int16)
        ds.Rows, ds.Columns = stored.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = stored.tobytes()
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.Modality = modality
        ds.ImagePositionPatient = [-100.0, -90.0, float(z_positions[i])]
        ds.ImageOrientationPatient = list(orientation)
        ds.PixelSpacing = list(spacing)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.InstanceNumber = i + 1
        for tag in drop:
            if tag in ds:
                delattr(ds, tag)
        ds.save_as(osp.join(folder, f'{prefix}{k:03d}.dcm'))
    return series_uid


def volume(z=5, h=6, w=7):
    rng = np.random.default_rng(0)
    return rng.integers(-1000, 1500, size=(z, h, w)).astype(np.float32)


def test_real_scanner_file_ct_small(tmp_path):
    import shutil
    shutil.copy(CT_SMALL, tmp_path / 'a.dcm')
    vol = read_dicom_series(str(tmp_path))
    ds = pydicom.dcmread(CT_SMALL)
    assert vol.hu.shape == (1, 128, 128)
    np.testing.assert_array_equal(vol.hu[0], ds.pixel_array.astype(np.float32) - 1024)
    assert vol.spacing[1:] == (float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1]))
    assert vol.spacing[0] == pytest.approx(float(ds.SliceThickness))


def test_real_series_with_uneven_positions():
    vol = read_dicom_series(CT2)
    assert vol.num_slices == 4
    np.testing.assert_allclose(vol.positions, [-99.48, 103.02, 104.27, 105.52], atol=1e-4)
    assert vol.slice_interval == pytest.approx(1.25, abs=1e-4)  # median step, the outlier gap ignored
    assert vol.uneven_slices
    assert [osp.basename(f) for f in vol.metadata['files']] == ['17106', '17136', '17166', '17196']


def test_shuffled_files_sorted_by_position_and_hu(tmp_path):
    hu = volume()
    z = np.array([10.0, 12.5, 15.0, 17.5, 20.0])
    write_series(tmp_path / 's', hu, z, order=[3, 0, 4, 2, 1], slope=2.0, intercept=-1000.0)
    vol = read_dicom_series(str(tmp_path / 's'))
    np.testing.assert_allclose(vol.positions, z)
    np.testing.assert_allclose(vol.hu, np.round((hu + 1000) / 2) * 2 - 1000)
    assert vol.spacing == pytest.approx((2.5, 0.7, 0.6))
    assert not vol.uneven_slices


def test_missing_optional_tags(tmp_path):
    hu = volume(3)
    write_series(tmp_path / 's', hu, [0.0, 5.0, 10.0], order=[2, 1, 0],
                 drop=('RescaleSlope', 'RescaleIntercept', 'ImageOrientationPatient', 'Modality'), intercept=0.0)
    vol = read_dicom_series(str(tmp_path / 's'))
    np.testing.assert_array_equal(vol.hu, hu)  # slope 1, intercept 0 assumed
    assert vol.slice_interval == 5.0


def test_missing_positions_fall_back_to_instance_number(tmp_path):
    hu = volume(3)
    write_series(tmp_path / 's', hu, [0.0, 3.0, 6.0], order=[1, 2, 0], drop=('ImagePositionPatient', 'SliceLocation'))
    with pytest.warns(UserWarning, match='InstanceNumber'):
        vol = read_dicom_series(str(tmp_path / 's'))
    np.testing.assert_array_equal(vol.hu, hu)


def test_two_series_in_one_folder(tmp_path):
    a = write_series(tmp_path, volume(3), [0, 1, 2], prefix='a')
    b = write_series(tmp_path, volume(2) + 5, [0, 1], prefix='b')
    (tmp_path / 'notes.txt').write_text('not dicom')
    groups = list_dicom_series(str(tmp_path))
    assert sorted(len(v) for v in groups.values()) == [2, 3]
    with pytest.raises(DicomSeriesError, match='holds 2 series'):
        read_dicom_series(str(tmp_path))
    assert read_dicom_series(str(tmp_path), series_uid=b).num_slices == 2
    assert read_dicom_series(str(tmp_path), series_uid=a).num_slices == 3


def test_rejections_name_the_file(tmp_path):
    write_series(tmp_path / 'mr', volume(2), [0, 1], modality='MR')
    with pytest.raises(DicomSeriesError, match=r'im00\d\.dcm: Modality \[.MR.\] is not CT'):
        read_dicom_series(str(tmp_path / 'mr'))
    uid = write_series(tmp_path / 'mix', volume(1), [0], prefix='a')
    write_series(tmp_path / 'mix', volume(1), [1], series_uid=uid, orientation=(1, 0, 0, 0, 0, -1), prefix='b')
    with pytest.raises(DicomSeriesError, match=r'b000.dcm: ImageOrientationPatient .*mixed orientations'):
        read_dicom_series(str(tmp_path / 'mix'))
    uid = write_series(tmp_path / 'dup', volume(1), [4.0], prefix='a')
    write_series(tmp_path / 'dup', volume(1), [4.0], series_uid=uid, prefix='b')
    with pytest.raises(DicomSeriesError, match='same slice position'):
        read_dicom_series(str(tmp_path / 'dup'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DicomSeriesError, match='no DICOM files'):
        read_dicom_series(str(tmp_path / 'empty'))


def test_real_mr_file_rejected_with_its_name(tmp_path):
    import shutil
    mr = get_testdata_file('MR_small.dcm')
    shutil.copy(mr, tmp_path / 'mr.dcm')
    with pytest.raises(DicomSeriesError, match=r"mr.dcm: Modality \['MR'\] is not CT"):
        read_dicom_series(str(tmp_path))
    vol = read_dicom_series(str(tmp_path), allow_non_ct=True)
    np.testing.assert_array_equal(vol.hu[0], pydicom.dcmread(mr).pixel_array.astype(np.float32))
