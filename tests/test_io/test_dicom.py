import os.path as osp

import numpy as np
import pytest

pydicom = pytest.importorskip('pydicom')
from pydicom.data import get_testdata_file  # noqa: E402

from mmdet3dctx.io import DicomSeriesError, list_dicom_series, read_dicom_series, write_ct_series  # noqa: E402

CT_SMALL = get_testdata_file('CT_small.dcm')
CT2 = osp.join(osp.dirname(CT_SMALL), 'dicomdirtests', '77654033', 'CT2')


def write_series(folder, hu, z_positions, **kwargs):
    """Write a CT series from a ``(Z, H, W)`` HU array with pydicom (:func:`write_ct_series`)."""
    return write_ct_series(str(folder), hu, z_positions, **kwargs)


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
    with pytest.warns(UserWarning, match=r'a gap of 202.50 mm between the slices at -99.48 mm \(.*17106\) and '
                                         r'103.02 mm \(.*17136\)'):
        vol = read_dicom_series(CT2)
    assert vol.num_slices == 4
    np.testing.assert_allclose(vol.positions, [-99.48, 103.02, 104.27, 105.52], atol=1e-4)
    assert vol.slice_interval == pytest.approx(1.25, abs=1e-4)  # median step, the outlier gap ignored
    assert vol.uneven_slices
    assert [osp.basename(f) for f in vol.metadata['files']] == ['17106', '17136', '17166', '17196']
    assert vol.runs() == [(0, 0), (1, 3)] and vol.run_ids().tolist() == [0, 1, 1, 1]
    np.testing.assert_allclose(vol.origin, [-125.0, -128.1, -99.48], atol=1e-4)
    np.testing.assert_array_equal(vol.direction, np.eye(3))
    assert vol.slice_refs[1]['sop_instance_uid'] == str(pydicom.dcmread(osp.join(CT2, '17136')).SOPInstanceUID)


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
    assert read_dicom_series(str(tmp_path)).metadata['series_uid'] == a  # by default the one with most slices
    assert read_dicom_series(str(tmp_path), series_uid=b).num_slices == 2
    assert read_dicom_series(str(tmp_path), series_uid=a).num_slices == 3
    with pytest.raises(DicomSeriesError, match="no series '1.2.3'"):
        read_dicom_series(str(tmp_path), series_uid='1.2.3')


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
    with pytest.raises(DicomSeriesError, match=r'a000.dcm and .*b000.dcm lie at the same slice position 4.000 mm'):
        read_dicom_series(str(tmp_path / 'dup'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DicomSeriesError, match='no DICOM image files found'):
        read_dicom_series(str(tmp_path / 'empty'))


def test_real_mr_file_rejected_with_its_name(tmp_path):
    import shutil
    mr = get_testdata_file('MR_small.dcm')
    shutil.copy(mr, tmp_path / 'mr.dcm')
    with pytest.raises(DicomSeriesError, match=r"mr.dcm: Modality \['MR'\] is not CT"):
        read_dicom_series(str(tmp_path))
    vol = read_dicom_series(str(tmp_path), allow_non_ct=True)
    np.testing.assert_array_equal(vol.hu[0], pydicom.dcmread(mr).pixel_array.astype(np.float32))
