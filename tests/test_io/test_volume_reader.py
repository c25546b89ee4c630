"""read_volume: the format of each input detected from its path, the reader's options, and errors naming the path."""
import numpy as np
import pytest

from mmdet3dctx.io import (VOLUME_FORMATS, DicomSeriesError, detect_volume_format, read_deeplesion_series,
                           read_dicom_series, read_nifti, read_volume, write_ct_series)

HU = np.round(np.random.default_rng(0).normal(0, 100, size=(3, 8, 8))).astype(np.float32)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """One input of each format holding ``HU``: a DICOM study (two series), a NIfTI file, a DeepLesion folder."""
    import cv2
    nib = pytest.importorskip('nibabel')
    root = tmp_path_factory.mktemp('inputs')
    thin = write_ct_series(str(root / 'study' / 'SE1'), HU, np.arange(3) * 2.0, description='thin')
    thick = write_ct_series(str(root / 'study' / 'SE2'), HU[:2], np.arange(2) * 5.0, description='thick')
    affine = np.diag([-0.7, -0.7, 2.0, 1.0])  # LPS-stored voxels: the volume's own layout
    nib.save(nib.Nifti1Image(np.ascontiguousarray(HU.transpose(2, 1, 0)), affine), str(root / 'ct.nii.gz'))
    series = root / 'Images_png' / '000001_01_01'
    series.mkdir(parents=True)
    for k, s in enumerate(HU, start=1):
        cv2.imwrite(str(series / f'{k:03d}.png'), (s + 32768).astype(np.uint16))
    return dict(dicom=str(root / 'study'), nifti=str(root / 'ct.nii.gz'), deeplesion=str(series), thin=thin,
                thick=thick)


def test_each_format_is_detected_and_read(inputs):
    assert VOLUME_FORMATS == ('dicom', 'nifti', 'deeplesion', 'itk')
    for fmt in ('dicom', 'nifti', 'deeplesion'):
        assert detect_volume_format(inputs[fmt]) == fmt
    dicom = read_volume(inputs['dicom'])
    np.testing.assert_array_equal(dicom.hu, HU)
    assert dicom.metadata['series_uid'] == inputs['thin'] and dicom.spacing[0] == pytest.approx(2.0)
    np.testing.assert_array_equal(dicom.hu, read_dicom_series(inputs['dicom']).hu)
    nifti = read_volume(inputs['nifti'])
    np.testing.assert_array_equal(nifti.hu, HU)
    np.testing.assert_array_equal(nifti.hu, read_nifti(inputs['nifti']).hu)
    assert nifti.spacing == pytest.approx((2.0, 0.7, 0.7))
    deeplesion = read_volume(inputs['deeplesion'], spacing=(5.0, 0.8, 0.8))
    np.testing.assert_array_equal(deeplesion.hu, HU)
    np.testing.assert_array_equal(deeplesion.positions, [5.0, 10.0, 15.0])
    np.testing.assert_array_equal(deeplesion.hu, read_deeplesion_series(inputs['deeplesion'], (5.0, 0.8, 0.8)).hu)


def test_reader_options_and_explicit_format(inputs):
    thick = read_volume(inputs['dicom'], series_uid=inputs['thick'])
    np.testing.assert_array_equal(thick.hu, HU[:2])
    assert thick.metadata['series_uid'] == inputs['thick']
    # None means the reader's default: the same call whatever the format
    assert read_volume(inputs['nifti'], series_uid=None, spacing=None, dl_info=None).hu.shape == HU.shape
    np.testing.assert_array_equal(read_volume(inputs['dicom'] + '/SE1', format='dicom').hu, HU)
    with pytest.raises(ValueError, match=r'ct\.nii\.gz: series_uid do\(es\) not apply to nifti input \(its reader '
                       r'takes no option\)'):
        read_volume(inputs['nifti'], series_uid=inputs['thick'])
    with pytest.raises(ValueError, match=r'study: dl_info, spacing do\(es\) not apply to dicom input \(its reader '
                       r'takes only series_uid, allow_non_ct\)'):
        read_volume(inputs['dicom'], spacing=(1, 1, 1), dl_info='DL_info.csv')
    with pytest.raises(ValueError, match=r"000001_01_01: unknown format 'png'; choose from auto, dicom, nifti, "
                       r'deeplesion, itk'):
        read_volume(inputs['deeplesion'], format='png')
    with pytest.raises(ValueError, match=r'000001_01_01: pass spacing=\(z, y, x\)'):
        read_volume(inputs['deeplesion'])
    with pytest.raises(DicomSeriesError, match=r'ct\.nii\.gz: no DICOM image files found'):
        read_volume(inputs['nifti'], format='dicom')


def test_missing_and_garbage_inputs_name_the_path(tmp_path):
    for fmt in ('auto', ) + VOLUME_FORMATS:
        with pytest.raises(FileNotFoundError, match=r'missing\.nii\.gz: no such folder or file \(a DICOM folder or '
                           r'file, a \.nii/\.nii\.gz file, a MetaImage or NRRD file'):
            read_volume(str(tmp_path / 'missing.nii.gz'), format=fmt)
    with pytest.raises(FileNotFoundError, match=r'missing: no such folder or file'):
        detect_volume_format(str(tmp_path / 'missing'))
    (tmp_path / 'garbage.nii.gz').write_bytes(b'\x1f\x8b not a gzip stream of a NIfTI header')
    assert detect_volume_format(str(tmp_path / 'garbage.nii.gz')) == 'nifti'
    with pytest.raises(ValueError, match=r'garbage\.nii\.gz: not a readable NIfTI image'):
        read_volume(str(tmp_path / 'garbage.nii.gz'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DicomSeriesError, match=r'empty: no DICOM image files found'):
        read_volume(str(tmp_path / 'empty'))


def test_metaimage_and_nrrd_are_detected_and_read_as_read_itk_volume_reads_them(tmp_path):
    sitk = pytest.importorskip('SimpleITK')
    from mmdet3dctx.io import read_itk_volume
    for name in ('ct.mhd', 'ct.nrrd'):
        img = sitk.GetImageFromArray(HU.astype(np.int16))
        img.SetSpacing((0.7, 0.7, 2.0))
        img.SetOrigin((-10.0, 20.0, 5.0))
        path = str(tmp_path / name)
        sitk.WriteImage(img, path)
        assert detect_volume_format(path) == 'itk'
        vol = read_volume(path)
        np.testing.assert_array_equal(vol.hu, read_itk_volume(path).hu)
        np.testing.assert_array_equal(vol.hu, HU)
        assert vol.spacing == pytest.approx((2.0, 0.7, 0.7))
        np.testing.assert_allclose(vol.to_lps([1], [2], [3])[0], img.TransformIndexToPhysicalPoint((3, 2, 1)))
