"""MetaImage/NRRD volumes (SimpleITK) read into CTVolume's layout: every voxel lands where SimpleITK places it in LPS,
whatever axes the file stores reversed or swapped; NIfTI label volumes laid out as read_nifti lays out images."""
import itertools

import numpy as np
import pytest

from mmdet3dctx.io import nifti_in_volume_layout, read_itk_volume, read_nifti

sitk = pytest.importorskip('SimpleITK')


def _write(path, arr, direction, spacing=(0.7, 0.8, 2.5), origin=(10.0, -20.0, 30.0)):
    img = sitk.GetImageFromArray(arr)
    img.SetDirection(np.asarray(direction, np.float64).ravel().tolist())
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    sitk.WriteImage(img, path)
    return img


@pytest.mark.parametrize('suffix', ['mhd', 'nrrd'])
def test_every_axis_order_and_flip_lands_on_simpleitks_lps_points(tmp_path, suffix):
    arr = np.random.default_rng(0).permutation(5 * 6 * 7).reshape(5, 6, 7).astype(np.int16)  # distinct values
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            direction = np.zeros((3, 3))
            for a, p in enumerate(perm):
                direction[p, a] = signs[a]
            path = str(tmp_path / f'v.{suffix}')
            img = _write(path, arr, direction)
            vol = read_itk_volume(path)
            # the layout: W toward +x (left), H toward +y (posterior), Z toward +z (superior)
            assert np.all(np.diag(vol.direction) > 0)
            np.testing.assert_allclose(vol.spacing, [(0.7, 0.8, 2.5)[perm.index(p)] for p in (2, 1, 0)])
            for idx in [(0, 0, 0), (6, 5, 4), (3, 2, 1), (6, 0, 4)]:
                k, i, j = np.argwhere(vol.hu == img[idx])[0]
                np.testing.assert_allclose(vol.to_lps(k, i, j)[0], img.TransformIndexToPhysicalPoint(idx),
                                           atol=1e-6)


def test_luna_like_identity_volume_keeps_its_array(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    _write(str(tmp_path / 'a.mhd'), arr, np.eye(3), spacing=(0.6, 0.6, 1.25), origin=(-150.0, -160.0, -300.0))
    vol = read_itk_volume(str(tmp_path / 'a.mhd'))
    np.testing.assert_array_equal(vol.hu, arr)
    np.testing.assert_allclose(vol.origin, [-150, -160, -300])
    np.testing.assert_allclose(vol.positions, [-300, -298.75])
    assert vol.metadata['source'] == 'itk'


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.mhd'):
        read_itk_volume(str(tmp_path / 'missing.mhd'))
    _write(str(tmp_path / 'b.mhd'), np.zeros((2, 3, 4), np.int16), np.eye(3))
    (tmp_path / 'b.raw').write_bytes(b'\0' * 7)  # truncated data file
    with pytest.raises(ValueError, match='b.mhd: not a readable MetaImage'):
        read_itk_volume(str(tmp_path / 'b.mhd'))


def test_nifti_label_layout_matches_read_nifti(tmp_path):
    nib = pytest.importorskip('nibabel')
    data = np.random.default_rng(1).integers(0, 5, size=(4, 3, 5)).astype(np.uint8)
    affine = np.array([[0.0, 0.9, 0.0, -10], [-0.8, 0.0, 0.0, 20], [0.0, 0.0, -2.0, 40], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / 'l.nii.gz'))
    vol = read_nifti(str(tmp_path / 'l.nii.gz'))
    labels, origin, direction, zooms = nifti_in_volume_layout(nib.load(str(tmp_path / 'l.nii.gz')), as_float=False)
    assert labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, vol.hu.astype(np.uint8))
    np.testing.assert_allclose(origin, vol.origin)
    np.testing.assert_allclose(direction, vol.direction)


def test_truncated_nifti_names_the_file(tmp_path):
    nib = pytest.importorskip('nibabel')
    nib.save(nib.Nifti1Image(np.zeros((20, 20, 20), np.int16), np.eye(4)), str(tmp_path / 't.nii.gz'))
    raw = (tmp_path / 't.nii.gz').read_bytes()
    (tmp_path / 't.nii.gz').write_bytes(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match='t.nii.gz: '):
        read_nifti(str(tmp_path / 't.nii.gz'))
