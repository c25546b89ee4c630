import math
import os.path as osp
import warnings

import numpy as np
import pytest

from mmdet3dctx.datasets.dl_info import load_key_slices
from mmdet3dctx.datasets.slice_sampling import effective_input_slice_interval, nearest_existing_slice
from mmdet3dctx.inference import volume_input_plan, volume_input_spacing, volume_slice_input
from mmdet3dctx.testing import make_synthetic_deeplesion
from mmdet3dctx.io import CTVolume, read_deeplesion_series

IDENTITY = dict(window=(-2000, 2000), out_range=(-2000, 2000))  # HU in, HU out


def test_same_input_as_the_training_loader(tmp_path):
    pytest.importorskip('mmdet')
    from mmdet3dctx.datasets.transforms import LoadDeepLesionSlices
    root = make_synthetic_deeplesion(str(tmp_path / 'dl'), num_patients=3, seed=1, image_size=64)
    infos = load_key_slices(f'{root}/DL_info.csv')
    checked = 0
    for info in infos[:6]:
        series = info['img_path'].rsplit('/', 1)[0]
        vol = read_deeplesion_series(f'{root}/{series}', spacing=(info['slice_interval'], 1, 1))
        first, last = vol.metadata['slice_indices'][0], vol.metadata['slice_indices'][-1]
        if tuple(info['slice_range']) != (first, last):
            continue  # the loader's range comes from the CSV; compare where the folder holds exactly that range
        load = LoadDeepLesionSlices(num_slices=7, input_slice_interval=2.0)
        ref = load(dict(img_path=f'{root}/{info["img_path"]}', key_slice=info['key_slice'],
                        slice_range=info['slice_range'], slice_interval=info['slice_interval']))['img']
        got = volume_slice_input(vol, info['key_slice'] - first, 7, 2.0)
        np.testing.assert_array_equal(got, ref)
        checked += 1
    assert checked >= 2


def test_interpolation_and_clamping_values():
    hu = np.stack([np.full((2, 2), v, np.float32) for v in (0, 100, 200, 300)])
    vol = CTVolume(hu=hu, spacing=(4.0, 1, 1), positions=np.arange(4) * 4.0)
    x = volume_slice_input(vol, 1, 3, input_slice_interval=2.0, window=(0, 1000), out_range=(0, 1000))
    # positions 0.5, 1, 1.5 -> 50, 100, 150 HU
    np.testing.assert_allclose(x[0, 0], [50, 100, 150], rtol=1e-6)
    x = volume_slice_input(vol, 0, 5, input_slice_interval=8.0, window=(0, 1000), out_range=(0, 1000))
    np.testing.assert_allclose(x[0, 0], [0, 0, 0, 200, 300])  # clamped at the first slice
    with pytest.raises(IndexError):
        volume_slice_input(vol, 4, 3)


def test_real_series_neighbours_come_from_positions_in_mm():
    """pydicom's CT2 (slices at -99.5, 103.0, 104.3, 105.5 mm): the "2 mm" neighbours of the slice at 103.0 mm
    were taken from the slice 202 mm away when inputs stepped through slice indices by the median interval."""
    pydicom = pytest.importorskip('pydicom')
    from mmdet3dctx.io import read_dicom_series
    ct2 = osp.join(osp.dirname(pydicom.data.get_testdata_file('CT_small.dcm')), 'dicomdirtests', '77654033', 'CT2')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the gap's warning is tested with the reader
        vol = read_dicom_series(ct2)
    hu = vol.hu.astype(np.float64)
    x = volume_slice_input(vol, 1, 3, input_slice_interval=2.0, **IDENTITY).astype(np.float64)
    # 101.0 mm lies before the run 103.0..105.5 mm: its first slice; 105.0 mm: 0.4 x 104.27 + 0.6 x 105.52 mm
    np.testing.assert_array_equal(x[..., 0], hu[1])
    np.testing.assert_array_equal(x[..., 1], hu[1])
    np.testing.assert_allclose(x[..., 2], 0.4 * hu[2] + 0.6 * hu[3], atol=1e-3)
    assert not np.allclose(x[..., 0], hu[0])
    plan, _ = volume_input_plan(vol, 1, 3, 2.0)
    assert plan[0] == (1, 1, 0.0) and plan[2][:2] == (2, 3) and plan[2][2] == pytest.approx(0.6, abs=1e-4)
    # the lone slice at -99.5 mm has no neighbour within reach: itself three times
    x = volume_slice_input(vol, 0, 3, input_slice_interval=2.0, **IDENTITY)
    for k in range(3):
        np.testing.assert_array_equal(x[..., k], vol.hu[0])


def ramp_volume(positions):
    """Slice ``k`` filled with its position in mm (so an input slice's value is where it was taken)."""
    positions = np.asarray(positions, np.float64)
    hu = np.stack([np.full((2, 3), p, np.float32) for p in positions])
    return CTVolume(hu=hu, spacing=(float(np.median(np.diff(positions))), 1, 1), positions=positions)


def test_a_gap_splits_the_series_into_runs():
    vol = ramp_volume([0, 2, 4, 10, 12])  # 6 mm step > 1.5 x the 2 mm median: a gap
    assert vol.runs() == [(0, 2), (3, 4)]
    x = volume_slice_input(vol, 2, 5, input_slice_interval=2.0, **IDENTITY)
    np.testing.assert_array_equal(x[0, 0], [0, 2, 4, 4, 4])  # 6 and 8 mm: the run's end, never 10 mm
    x = volume_slice_input(vol, 3, 5, input_slice_interval=2.0, **IDENTITY)
    np.testing.assert_array_equal(x[0, 0], [10, 10, 10, 12, 12])
    x = volume_slice_input(vol, 2, 3, input_slice_interval=None, **IDENTITY)  # adjacent slices, within the run
    np.testing.assert_array_equal(x[0, 0], [2, 4, 4])


def test_uneven_steps_interpolated_at_the_wanted_positions():
    vol = ramp_volume([0.0, 1.0, 2.5, 4.0, 5.0])  # median 1.25; the 1.5 mm steps are not gaps
    assert vol.runs() == [(0, 4)] and vol.uneven_slices
    x = volume_slice_input(vol, 1, 5, input_slice_interval=1.0, **IDENTITY)
    np.testing.assert_allclose(x[0, 0], [0.0, 0.0, 1.0, 2.0, 3.0], atol=1e-5)
    x = volume_slice_input(vol, 3, 3, input_slice_interval=0.25, **IDENTITY)
    np.testing.assert_allclose(x[0, 0], [3.75, 4.0, 4.25], atol=1e-5)


def test_training_and_inference_share_the_missing_slice_and_spacing_rules():
    existing = {3, 4, 7}
    assert [nearest_existing_slice(i, 4, existing.__contains__) for i in (1, 2, 3, 5, 6, 7, 9)] == [3, 3, 3, 4, 4, 7, 7]
    assert effective_input_slice_interval(2.0, 5.0) == 2.0 and effective_input_slice_interval(None, 5.0) == 5.0
    for bad in (math.nan, 0.0, -1.0, None):
        assert math.isnan(effective_input_slice_interval(2.0, bad))
    vol = ramp_volume([0, 5, 10])
    assert volume_input_spacing(vol, 2.0) == 2.0 and volume_input_spacing(vol, None) == 5.0
    # a DeepLesion volume with a missing number: the nearest existing slice towards the key slice
    dl = CTVolume(hu=np.stack([np.full((2, 2), n, np.float32) for n in (3, 4, 7)]), spacing=(2.0, 1, 1),
                  positions=np.array([3, 4, 7]) * 2.0, metadata=dict(slice_indices=[3, 4, 7]))
    x = volume_slice_input(dl, 1, 5, input_slice_interval=2.0, **IDENTITY)
    np.testing.assert_array_equal(x[0, 0], [3, 3, 4, 4, 4])  # numbers 2 (clamped: 3), 3, 4, 5 and 6 (missing: 4)


def test_loaders_agree_on_nan_and_zero_intervals(tmp_path):
    pytest.importorskip('mmdet')
    import cv2
    from mmdet3dctx.datasets.transforms import LoadDeepLesionSlices
    from mmdet3dctx.inference import LoadCTVolumeSlices
    folder = tmp_path / 'Images_png' / '000001_01_01'
    folder.mkdir(parents=True)
    for i in (1, 2, 3):
        cv2.imwrite(str(folder / f'{i:03d}.png'), np.full((4, 4), 32768 + 10 * i, np.uint16))
    for interval in (math.nan, 0.0):
        out = LoadDeepLesionSlices(num_slices=3, input_slice_interval=2.0)(dict(
            img_path=str(folder / '002.png'), key_slice=2, slice_range=(1, 3), slice_interval=interval))
        assert math.isnan(out['input_slice_interval'])
    vol = read_deeplesion_series(str(folder), spacing=(5.0, 1, 1))
    got = LoadCTVolumeSlices(num_slices=3, input_slice_interval=2.0)(dict(volume=vol, key_index=1))
    ref = LoadDeepLesionSlices(num_slices=3, input_slice_interval=2.0)(dict(
        img_path=str(folder / '002.png'), key_slice=2, slice_range=(1, 3), slice_interval=5.0))
    assert got['input_slice_interval'] == ref['input_slice_interval'] == 2.0
    np.testing.assert_array_equal(got['img'], ref['img'])
