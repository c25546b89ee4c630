import numpy as np
import pytest

from mmdet3dctx.datasets.dl_info import load_key_slices
from mmdet3dctx.testing import make_synthetic_deeplesion
from mmdet3dctx.inference import volume_slice_input
from mmdet3dctx.io import CTVolume, read_deeplesion_series

pytest.importorskip('mmdet')


def test_same_input_as_the_training_loader(tmp_path):
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
        load = LoadDeepLesionSlices(num_slices=7, slice_interval=2.0)
        ref = load(dict(img_path=f'{root}/{info["img_path"]}', key_slice=info['key_slice'],
                        slice_range=info['slice_range'], slice_interval=info['slice_interval']))['img']
        got = volume_slice_input(vol, info['key_slice'] - first, 7, 2.0)
        np.testing.assert_array_equal(got, ref)
        checked += 1
    assert checked >= 2


def test_interpolation_and_clamping_values():
    hu = np.stack([np.full((2, 2), v, np.float32) for v in (0, 100, 200, 300)])
    vol = CTVolume(hu=hu, spacing=(4.0, 1, 1), positions=np.arange(4) * 4.0)
    x = volume_slice_input(vol, 1, 3, slice_interval=2.0, window=(0, 1000), out_range=(0, 1000))
    # positions 0.5, 1, 1.5 -> 50, 100, 150 HU
    np.testing.assert_allclose(x[0, 0], [50, 100, 150], rtol=1e-6)
    x = volume_slice_input(vol, 0, 5, slice_interval=8.0, window=(0, 1000), out_range=(0, 1000))
    np.testing.assert_allclose(x[0, 0], [0, 0, 0, 200, 300])  # clamped at the first slice
    with pytest.raises(IndexError):
        volume_slice_input(vol, 4, 3)
