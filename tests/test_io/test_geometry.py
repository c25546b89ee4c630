"""One array layout and one LPS geometry whatever the patient position, orientation or file format."""
import numpy as np
import pytest

pydicom = pytest.importorskip('pydicom')
nib = pytest.importorskip('nibabel')

from mmdet3dctx.io import DicomSeriesError, read_dicom_series, read_nifti, volume_to_nifti, write_ct_series  # noqa

Z, H, W = 4, 6, 5
DX, DY, DZ = 0.6, 0.7, 2.5  # column spacing (along x), row spacing (along y), slice step
X0, Y0, Z0 = -100.0, -90.0, 40.0  # LPS centre of voxel (0, 0, 0)


@pytest.fixture(scope='module')
def anatomy():
    """``A[k, i, j]``: k toward superior, i toward posterior, j toward the patient's left; every voxel distinct."""
    return (np.arange(Z * H * W).reshape(Z, H, W) * 7 % 1500 - 500).astype(np.float32)


def write_as(folder, anatomy, position):
    """The same anatomy written as a scanner stores it for a patient position (or a transposed acquisition)."""
    z = Z0 + np.arange(Z) * DZ
    if position == 'HFS':  # rows along +x (left), columns down along +y (posterior)
        stored, iop, corner, ps = anatomy, (1, 0, 0, 0, 1, 0), (X0, Y0), (DY, DX)
    elif position == 'FFP':  # rows along +x, columns along -y: stored upside down; slices written feet first
        stored, iop, corner, ps = anatomy[:, ::-1, :], (1, 0, 0, 0, -1, 0), (X0, Y0 + (H - 1) * DY), (DY, DX)
    elif position == 'HFP':  # rows along -x, columns along -y
        stored, iop, corner, ps = anatomy[:, ::-1, ::-1], (-1, 0, 0, 0, -1, 0), (X0 + (W - 1) * DX,
                                                                                  Y0 + (H - 1) * DY), (DY, DX)
    elif position == 'transposed':  # rows along +y, columns along +x
        stored, iop, corner, ps = anatomy.transpose(0, 2, 1), (0, 1, 0, 1, 0, 0), (X0, Y0), (DX, DY)
    ipp = np.stack([np.full(Z, corner[0]), np.full(Z, corner[1]), z], 1)
    order = list(range(Z))[::-1] if position == 'FFP' else None
    write_ct_series(str(folder), np.ascontiguousarray(stored), ipp, orientation=iop, spacing=ps, order=order,
                    patient_position=position if position != 'transposed' else 'HFS')


@pytest.mark.parametrize('position', ['FFP', 'HFP', 'transposed'])
def test_patient_positions_read_to_the_same_array_and_geometry(tmp_path, anatomy, position):
    write_as(tmp_path / 'hfs', anatomy, 'HFS')
    write_as(tmp_path / position, anatomy, position)
    ref = read_dicom_series(str(tmp_path / 'hfs'))
    vol = read_dicom_series(str(tmp_path / position))
    np.testing.assert_array_equal(ref.hu, anatomy)
    np.testing.assert_array_equal(vol.hu, anatomy)
    assert vol.spacing == pytest.approx((DZ, DY, DX))
    for v in (ref, vol):
        np.testing.assert_allclose(v.origin, [X0, Y0, Z0], atol=1e-6)
        np.testing.assert_allclose(v.direction, np.eye(3), atol=1e-9)
        np.testing.assert_allclose(v.affine, np.array([[DX, 0, 0, X0], [0, DY, 0, Y0], [0, 0, DZ, Z0], [0, 0, 0, 1]]),
                                   atol=1e-6)
    # voxel (k=2, i=3, j=1) in patient space
    np.testing.assert_allclose(vol.to_lps([2], [3], [1])[0], [X0 + DX, Y0 + 3 * DY, Z0 + 2 * DZ], atol=1e-6)


def nifti_of(anatomy, path):
    """The anatomy as a RAS NIfTI (i toward right, j toward anterior, k toward superior)."""
    data = anatomy.transpose(2, 1, 0)[::-1, ::-1, :]
    affine = np.diag([DX, DY, DZ, 1.0])
    affine[:3, 3] = [-X0 - (W - 1) * DX, -Y0 - (H - 1) * DY, Z0]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), affine), str(path))
    return affine


def test_nifti_reads_to_the_same_array_and_geometry_as_dicom(tmp_path, anatomy):
    write_as(tmp_path / 'hfs', anatomy, 'HFS')
    dicom = read_dicom_series(str(tmp_path / 'hfs'))
    affine = nifti_of(anatomy, tmp_path / 'v.nii.gz')
    vol = read_nifti(str(tmp_path / 'v.nii.gz'))
    np.testing.assert_array_equal(vol.hu, dicom.hu)
    np.testing.assert_allclose(vol.affine, dicom.affine, atol=1e-5)
    np.testing.assert_allclose(vol.positions, dicom.positions, atol=1e-5)
    # a label volume written for it lies on the input's own grid
    img = volume_to_nifti(np.ones(vol.hu.shape, np.uint8), vol)
    np.testing.assert_allclose(img.affine, affine, atol=1e-6)
    assert img.shape == (W, H, Z)


def test_label_volume_of_a_dicom_study_has_its_ras_affine(tmp_path, anatomy):
    write_as(tmp_path / 'ffp', anatomy, 'FFP')
    vol = read_dicom_series(str(tmp_path / 'ffp'))
    labels = np.zeros(vol.hu.shape, np.uint8)
    labels[2, 3, 1] = 7
    img = volume_to_nifti(labels, vol)
    ijk = np.argwhere(np.asarray(img.dataobj) == 7)[0]
    ras = img.affine @ np.r_[ijk, 1]
    np.testing.assert_allclose(ras[:3], [-(X0 + DX), -(Y0 + 3 * DY), Z0 + 2 * DZ], atol=1e-5)


def test_oblique_nifti_stays_in_patient_space(tmp_path):
    data = np.random.default_rng(0).normal(size=(5, 4, 3)).astype(np.float32)
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # i toward anterior, j toward left
    affine = np.eye(4)
    affine[:3, :3] = rot * [0.8, 0.9, 2.0]
    affine[:3, 3] = [10, 20, 30]
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / 'r.nii'))
    vol = read_nifti(str(tmp_path / 'r.nii'))
    assert vol.spacing == pytest.approx((2.0, 0.8, 0.9))  # H along the former i (0.8 mm), W along j (0.9 mm)
    assert vol.hu.shape == (3, 5, 4)
    for k, i, j in [(0, 0, 0), (2, 4, 3), (1, 3, 1)]:
        # find the source voxel with the same value and compare their world positions
        src = np.argwhere(data == vol.hu[k, i, j])[0]
        ras = affine @ np.r_[src, 1]
        np.testing.assert_allclose(vol.to_lps([k], [i], [j])[0], [-ras[0], -ras[1], ras[2]], atol=1e-5)


def test_coronal_and_sagittal_acquisitions_refused(tmp_path):
    hu = np.zeros((3, 4, 4), np.float32)
    ipp = np.array([[0.0, y, 0.0] for y in (0.0, 2.0, 4.0)])
    write_ct_series(str(tmp_path / 'cor'), hu, ipp, orientation=(1, 0, 0, 0, 0, -1))
    with pytest.raises(DicomSeriesError, match=r'im000.dcm: ImageOrientationPatient .* is a coronal acquisition; '
                                               r'.*reslice the series to axial'):
        read_dicom_series(str(tmp_path / 'cor'))
    ipp = np.array([[x, 0.0, 0.0] for x in (0.0, 2.0, 4.0)])
    write_ct_series(str(tmp_path / 'sag'), hu, ipp, orientation=(0, 1, 0, 0, 0, -1))
    with pytest.raises(DicomSeriesError, match='is a sagittal acquisition'):
        read_dicom_series(str(tmp_path / 'sag'))


def test_gantry_tilt_named(tmp_path, anatomy):
    ipp = np.stack([np.full(Z, X0), Y0 + np.arange(Z) * 0.9, Z0 + np.arange(Z) * DZ], 1)  # y drifts 0.9 mm a slice
    write_ct_series(str(tmp_path / 'tilt'), anatomy, ipp, spacing=(DY, DX))
    with pytest.warns(UserWarning, match=r'the slices shift by 2.70 mm in plane from .*im000.dcm to .*im003.dcm '
                                         r'\(gantry tilt\?\)'):
        vol = read_dicom_series(str(tmp_path / 'tilt'))
    np.testing.assert_allclose(vol.positions, Z0 + np.arange(Z) * DZ)
    np.testing.assert_array_equal(vol.hu, anatomy)


def test_volume_geometry_places_voxels_and_splits_runs_as_the_volume():
    from mmdet3dctx.io import CTVolume, VolumeGeometry
    positions = np.array([0., 2., 4., 10., 12.])
    direction = np.array([[1., 0., 0.], [0., 0., 1.], [0., -1., 0.]])
    vol = CTVolume(np.zeros((5, 3, 4), np.float32), (2., 0.7, 0.8), positions, origin=np.array([5., -3., 1.]),
                   direction=direction)
    geo = VolumeGeometry.from_record(dict(spacing=[2., 0.7, 0.8], positions=positions.tolist(),
                                          origin=[5., -3., 1.], direction=direction.tolist()))
    k, i, j = [0, 2.5, 4], [0, 1.5, 2], [3, 0.25, 1]
    np.testing.assert_array_equal(geo.to_lps(k, i, j), vol.to_lps(k, i, j))
    assert geo.runs() == vol.runs() == [(0, 2), (3, 4)]
    np.testing.assert_array_equal(geo.run_ids(), vol.run_ids())
    np.testing.assert_array_equal(vol.geometry.to_lps(k, i, j), vol.to_lps(k, i, j))
