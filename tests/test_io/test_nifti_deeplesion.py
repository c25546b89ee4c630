import numpy as np
import pytest

from mmdet3dctx.io import read_deeplesion_series, read_nifti

nib = pytest.importorskip('nibabel')


def test_nifti_ras_to_axial_convention(tmp_path):
    data = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)  # (i: R, j: A, k: S)
    affine = np.diag([0.8, 0.7, 2.5, 1.0])
    affine[:3, 3] = [-10, -20, 30]
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / 'v.nii.gz'))
    vol = read_nifti(str(tmp_path / 'v.nii.gz'))
    assert vol.hu.shape == (2, 3, 4)  # (Z, H, W)
    assert vol.spacing == pytest.approx((2.5, 0.7, 0.8))
    # W runs toward the patient's left (decreasing i), H toward posterior (decreasing j)
    assert vol.hu[0, 0, 0] == data[3, 2, 0] and vol.hu[1, 2, 3] == data[0, 0, 1]
    np.testing.assert_allclose(vol.positions, [30.0, 32.5])


def test_nifti_in_lps_orientation_gives_the_same_volume(tmp_path):
    data = np.random.default_rng(0).normal(size=(4, 3, 2)).astype(np.float32)
    ras = np.diag([1.0, 1.0, 2.0, 1.0])
    nib.save(nib.Nifti1Image(data, ras), str(tmp_path / 'ras.nii'))
    lps_data = data[::-1, ::-1, :].copy()  # same voxels stored with i -> left, j -> posterior
    lps = np.diag([-1.0, -1.0, 2.0, 1.0])
    lps[:2, 3] = [3.0, 2.0]
    nib.save(nib.Nifti1Image(lps_data, lps), str(tmp_path / 'lps.nii'))
    np.testing.assert_array_equal(read_nifti(str(tmp_path / 'ras.nii')).hu, read_nifti(str(tmp_path / 'lps.nii')).hu)


def test_nifti_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such NIfTI'):
        read_nifti(str(tmp_path / 'missing.nii'))
    (tmp_path / 'bad.nii').write_bytes(b'not nifti')
    with pytest.raises(ValueError, match='bad.nii: not a readable NIfTI'):
        read_nifti(str(tmp_path / 'bad.nii'))


def test_deeplesion_series_folder(tmp_path):
    import cv2
    folder = tmp_path / 'Images_png' / '000001_01_01'
    folder.mkdir(parents=True)
    hu = np.array([[[-1000, 0], [40, 1000]], [[-500, 10], [20, 30]], [[1, 2], [3, 4]]], dtype=np.int32)
    for idx, s in zip((3, 4, 6), hu):
        cv2.imwrite(str(folder / f'{idx:03d}.png'), (s + 32768).astype(np.uint16))
    vol = read_deeplesion_series(str(folder), spacing=(5.0, 0.8, 0.8))
    np.testing.assert_array_equal(vol.hu, hu.astype(np.float32))
    np.testing.assert_array_equal(vol.positions, [15.0, 20.0, 30.0])  # the gap keeps its distance
    assert vol.metadata['slice_indices'] == [3, 4, 6]
    with pytest.raises(ValueError, match='pass spacing'):
        read_deeplesion_series(str(folder))


def test_deeplesion_series_spacing_from_dl_info(tmp_path):
    from mmdet3dctx.testing import make_synthetic_deeplesion
    from mmdet3dctx.datasets.dl_info import read_dl_info
    root = make_synthetic_deeplesion(str(tmp_path / 'dl'), num_patients=2, seed=0, image_size=64)
    row = read_dl_info(f'{root}/DL_info.csv')[0]
    series = row['File_name'].rsplit('_', 1)[0]
    vol = read_deeplesion_series(f'{root}/Images_png/{series}', dl_info=f'{root}/DL_info.csv')
    sx, sy, sz = row['Spacing_mm_px_']
    assert vol.spacing == pytest.approx((sz, sy, sx))
    assert vol.hu.shape[1:] == (64, 64)
