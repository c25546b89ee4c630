import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmdet.registry import TRANSFORMS
from mmdet3dctx.datasets import DeepLesionDataset
from mmdet3dctx.datasets.slice_sampling import decode_hu_png, interpolation_plan, window_hu
from mmdet3dctx.datasets.transforms import LoadDeepLesionSlices
from mmdet3dctx.testing import make_synthetic_deeplesion
from mmdet3dctx.testing.deeplesion_files import write_constant_series, write_slice

W, H = 40, 24  # non-square: catches (H, W) mix-ups
WINDOW = (-1024, 2050)


def expected(hu):
    return np.clip(-50 + (np.asarray(hu, np.float64) + 1024) * 255 / 3074, -50, 205)


@pytest.fixture()
def series(tmp_path):
    """Slices 5..15 of one series, slice i holding 10 * i HU everywhere."""
    write_constant_series(str(tmp_path), '000001_01_01', 5, 15, lambda i: 10 * i, size=(W, H))
    return str(tmp_path / 'Images_png' / '000001_01_01')


def _results(folder, key, interval, srange=(5, 15)):
    return dict(img_path=osp.join(folder, f'{key:03d}.png'), key_slice=key, slice_range=srange,
                slice_interval=interval)


def _load(results, **kwargs):
    cfg = dict(type='LoadDeepLesionSlices', num_slices=7, input_slice_interval=2.0, window=WINDOW,
               out_range=(-50, 205))
    cfg.update(kwargs)
    return TRANSFORMS.build(cfg)(results)


def test_fractional_positions_are_interpolated_per_offset(series):
    # 2 mm from a 2.5 mm series: positions 10 + 0.8 k, so HU = 10 * (10 + 0.8 k) = 100 + 8 k.
    out = _load(_results(series, 10, 2.5))
    img = out['img']
    assert img.dtype == np.float32 and img.shape == (H, W, 7)
    assert out['img_shape'] == (H, W) and out['ori_shape'] == (H, W)
    hu = 100 + 8 * np.arange(-3, 4)
    np.testing.assert_allclose(img[0, 0], expected(hu), atol=1e-4)
    assert (img == img[:1, :1]).all()  # every pixel of a slice alike
    np.testing.assert_allclose(out['slice_positions'], 10 + 0.8 * np.arange(-3, 4), atol=1e-12)
    assert out['slice_interval'] == 2.5 and out['input_slice_interval'] == 2.0


def test_key_slice_is_the_middle(series):
    out = _load(_results(series, 12, 0.7), num_slices=3)
    # 2 mm / 0.7 mm = 2.857 slices: positions 9.143, 12, 14.857
    p = 2.0 / 0.7
    np.testing.assert_allclose(out['img'][0, 0], expected([10 * (12 - p), 120, 10 * (12 + p)]), atol=1e-4)


def test_positions_beyond_the_series_take_the_nearest_end(series):
    out = _load(_results(series, 6, 1.0))  # positions 0, 2, 4 -> 5; 6, 8, 10, 12
    np.testing.assert_allclose(out['img'][0, 0], expected([50, 50, 50, 60, 80, 100, 120]), atol=1e-4)
    out = _load(_results(series, 15, 5.0))  # positions 13.8 .. 16.2: beyond 15 -> 15
    np.testing.assert_allclose(out['img'][0, 0], expected([138, 142, 146, 150, 150, 150, 150]), atol=1e-4)


@pytest.mark.parametrize('interval', [math.nan, 0.0, -2.0, None])
def test_no_interval_repeats_the_key_slice(series, interval):
    out = _load(_results(series, 9, interval))
    np.testing.assert_allclose(out['img'][0, 0], expected([90] * 7), atol=1e-4)
    assert math.isnan(out['input_slice_interval'])


def test_missing_neighbour_takes_the_nearest_towards_the_key(series):
    os.remove(osp.join(series, '012.png'))
    os.remove(osp.join(series, '013.png'))
    out = _load(_results(series, 10, 1.0))  # positions 4..16 step 2 -> 5, 6, 8, 10, 12->11, 14, 15
    np.testing.assert_allclose(out['img'][0, 0], expected([50, 60, 80, 100, 110, 140, 150]), atol=1e-4)


def test_missing_key_slice_is_an_error(series):
    with pytest.raises(FileNotFoundError, match='key slice not found: .*020.png'):
        _load(_results(series, 20, 1.0, (5, 25)))


def test_interpolation_of_real_images(tmp_path):
    rng = np.random.default_rng(0)
    slices = {i: rng.integers(-1000, 1000, (H, W)) for i in range(1, 6)}
    for i, hu in slices.items():
        write_slice(str(tmp_path), '000002_01_01', i, hu)
    res = dict(img_path=str(tmp_path / 'Images_png/000002_01_01/003.png'), key_slice=3, slice_range=(1, 5),
               slice_interval=1.5)
    img = _load(res, num_slices=5)['img']  # positions 3 + k * 4/3: 0.333->1, 1.667, 3, 4.333, 5.667->5
    w = 2 / 3
    hu = [slices[1], (1 - w) * slices[1] + w * slices[2], slices[3], (1 - 1 / 3) * slices[4] + 1 / 3 * slices[5],
          slices[5]]
    np.testing.assert_allclose(img, np.stack([expected(h) for h in hu], -1), atol=2e-3)


def test_window_clips(tmp_path):
    write_constant_series(str(tmp_path), '000003_01_01', 1, 3, lambda i: [-3000, 0, 3000][i - 1], size=(W, H))
    res = dict(img_path=str(tmp_path / 'Images_png/000003_01_01/002.png'), key_slice=2, slice_range=(1, 3),
               slice_interval=2.0)
    img = _load(res, num_slices=3, window=(-175, 275), out_range=(0, 1))['img']
    np.testing.assert_allclose(img[0, 0], [0, 175 / 450, 1], atol=1e-6)


def test_raw_adjacent_slices(series):
    out = _load(_results(series, 10, 5.0), num_slices=5, input_slice_interval=None)
    np.testing.assert_allclose(out['img'][0, 0], expected([80, 90, 100, 110, 120]), atol=1e-4)
    assert out['input_slice_interval'] == 5.0


def test_one_slice(series):
    out = _load(_results(series, 10, 5.0), num_slices=1)
    assert out['img'].shape == (H, W, 1)


def test_neighbouring_key_slices_hit_the_cache(series):
    load = LoadDeepLesionSlices(num_slices=3, input_slice_interval=1.0, cache_size=16)
    load(_results(series, 10, 1.0))  # slices 9, 10, 11
    assert (load.cache.hits, load.cache.misses) == (0, 3)
    load(_results(series, 11, 1.0))  # 10, 11 cached; 12 decoded
    assert (load.cache.hits, load.cache.misses) == (2, 4)
    load(_results(series, 11, 1.0))
    assert load.cache.hit_rate == pytest.approx(5 / 9)


def test_bad_arguments():
    for bad in (dict(num_slices=4), dict(num_slices=0), dict(input_slice_interval=0), dict(window=(5, 5))):
        with pytest.raises(ValueError):
            LoadDeepLesionSlices(**bad)


def _reference_stack(plan, slice_hu, window, out_range):
    """The stacking as first written (one float32 conversion per use, window per slice, cv2.merge)."""
    slices = []
    for i0, i1, w in plan:
        a = slice_hu(i0)
        hu = a if w == 0.0 else cv2.addWeighted(a.astype(np.float32), 1.0 - w, slice_hu(i1).astype(np.float32), w,
                                                0.0)
        slices.append(window_hu(hu, window, out_range))
    return slices[0][..., None] if len(slices) == 1 else cv2.merge(slices)


@pytest.fixture(scope='module')
def synthetic_tree(tmp_path_factory):
    return make_synthetic_deeplesion(str(tmp_path_factory.mktemp('syn')), num_patients=6, seed=2, image_size=96)


@pytest.mark.parametrize('num_slices,input_slice_interval', [(7, 2.0), (3, 2.0), (11, 2.0), (5, None)])
def test_fast_path_equals_opencv_and_the_reference_bit_for_bit(synthetic_tree, num_slices, input_slice_interval):
    infos = DeepLesionDataset(data_root=synthetic_tree, split=None, pipeline=[], skip_noisy=False)
    assert len(infos) >= 10
    kw = dict(num_slices=num_slices, input_slice_interval=input_slice_interval, window=(-175, 275),
              out_range=(-50, 205))
    fast = LoadDeepLesionSlices(png_decoder='auto', **kw)
    reference = LoadDeepLesionSlices(png_decoder='opencv', cache_size=0, **kw)
    intervals = set()
    for i in range(len(infos)):
        info = infos.get_data_info(i)
        intervals.add(info['slice_interval'])
        a = fast(dict(info))
        b = reference(dict(info))
        assert a['img'].dtype == np.float32 and a['img'].flags.c_contiguous
        assert a['img'].tobytes() == b['img'].tobytes(), info['img_path']
        assert a['slice_positions'] == b['slice_positions']
        # The stacking as first written, from slices decoded by OpenCV, neighbours resolved as the loader does.
        folder = osp.dirname(info['img_path'])
        key = info['key_slice']

        def slice_hu(idx):
            step = 1 if idx < key else -1
            while not osp.exists(osp.join(folder, f'{idx:03d}.png')):
                idx += step
            with open(osp.join(folder, f'{idx:03d}.png'), 'rb') as f:
                return decode_hu_png(f.read(), decoder='opencv')

        ref = _reference_stack(interpolation_plan(a['slice_positions']), slice_hu, kw['window'], kw['out_range'])
        assert a['img'].tobytes() == ref.tobytes(), info['img_path']
    assert len(intervals) >= 3  # fractional and integer positions both exercised


def test_cache_hits_return_identical_arrays(series):
    load = LoadDeepLesionSlices(num_slices=3, input_slice_interval=1.0, cache_size=16)
    first = load(_results(series, 10, 1.0))['img'].copy()
    again = load(_results(series, 10, 1.0))
    assert (load.cache.hits, load.cache.misses) == (3, 3)
    assert again['img'].tobytes() == first.tobytes()
    path = osp.join(series, '010.png')
    with open(path, 'rb') as f:
        assert load.cache.get(path, None).tobytes() == decode_hu_png(f.read(), decoder='opencv').tobytes()


def test_corrupt_neighbour_is_an_error_naming_the_file(series):
    path = osp.join(series, '011.png')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r'000001_01_01/011\.png: cannot decode as PNG'):
        _load(_results(series, 10, 1.0), num_slices=3, input_slice_interval=1.0)


def test_png_decoder_option():
    assert "png_decoder='opencv'" in repr(LoadDeepLesionSlices(png_decoder='opencv'))
    with pytest.raises(ValueError, match='png_decoder must be one of'):
        LoadDeepLesionSlices(png_decoder='pillow')


def _files(folder):
    return sorted(osp.relpath(osp.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def test_disk_cache_hits_return_identical_arrays_and_write_only_in_its_folder(series, tmp_path):
    data_files = _files(str(tmp_path / 'Images_png'))
    cache_dir = str(tmp_path.parent / (tmp_path.name + '_decoded'))
    first = LoadDeepLesionSlices(num_slices=3, input_slice_interval=1.0, decode_cache_dir=cache_dir)
    a = first(_results(series, 10, 1.0))['img'].copy()
    assert (first.disk_cache.hits, first.disk_cache.misses) == (0, 3)
    assert len([f for f in _files(cache_dir) if f.endswith('.npy')]) == 3
    assert not [f for f in _files(cache_dir) if f.endswith('.tmp')]
    assert _files(str(tmp_path / 'Images_png')) == data_files  # nothing written into the data tree
    # Another worker (empty LRU) reads the raw arrays back: same input bit for bit.
    second = LoadDeepLesionSlices(num_slices=3, input_slice_interval=1.0, decode_cache_dir=cache_dir)
    b = second(_results(series, 10, 1.0))['img']
    assert (second.disk_cache.hits, second.disk_cache.misses) == (3, 0)
    assert second.disk_cache.hit_rate == 1.0
    assert b.tobytes() == a.tobytes()
    path = osp.join(series, '010.png')
    with open(path, 'rb') as f:
        ref = decode_hu_png(f.read(), decoder='opencv')
    entry = second.disk_cache.entry(path)
    assert np.load(entry).dtype == np.int16 and np.load(entry).tobytes() == ref.tobytes()


def test_disk_cache_decodes_a_changed_png_and_an_unreadable_entry_again(series, tmp_path):
    from mmdet3dctx.testing.deeplesion_files import write_slice
    cache_dir = str(tmp_path.parent / (tmp_path.name + '_decoded'))
    load = LoadDeepLesionSlices(num_slices=1, decode_cache_dir=cache_dir, cache_size=0)
    assert load(_results(series, 10, 1.0))['img'][0, 0, 0] == pytest.approx(expected(100)[()], abs=1e-4)
    path = write_slice(str(tmp_path), '000001_01_01', 10, np.full((H, W), 500))
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    assert load(_results(series, 10, 1.0))['img'][0, 0, 0] == pytest.approx(expected(500)[()], abs=1e-4)
    assert (load.disk_cache.hits, load.disk_cache.misses) == (0, 2)
    with open(load.disk_cache.entry(path), 'wb') as f:
        f.write(b'garbage')
    assert load(_results(series, 10, 1.0))['img'][0, 0, 0] == pytest.approx(expected(500)[()], abs=1e-4)
    assert load.disk_cache.misses == 3
    assert load(_results(series, 10, 1.0))['img'][0, 0, 0] == pytest.approx(expected(500)[()], abs=1e-4)
    assert load.disk_cache.hits == 1


def test_disk_cache_inside_the_data_tree_is_refused(series, tmp_path):
    load = LoadDeepLesionSlices(num_slices=3, decode_cache_dir=str(tmp_path / 'cache'))
    with pytest.raises(ValueError, match='lies inside the data tree'):
        load(_results(series, 10, 1.0))
    assert not osp.exists(tmp_path / 'cache')


@pytest.mark.parametrize('num_slices', [1, 7])
def test_samples_do_not_share_memory_through_the_workspace(series, num_slices):
    load = LoadDeepLesionSlices(num_slices=num_slices, input_slice_interval=1.0)
    a = load(_results(series, 10, 2.5))['img']
    kept = a.copy()
    b = load(_results(series, 12, 1.0))['img']
    assert not np.shares_memory(a, b)
    assert a.tobytes() == kept.tobytes() and b.tobytes() != kept.tobytes()
    buffers = [buf for ws in load._workspaces.values() for buf in ws.values()]
    assert buffers
    for buf in buffers:
        assert not np.shares_memory(a, buf) and not np.shares_memory(b, buf)


def test_threads_get_their_own_workspace(series):
    from concurrent.futures import ThreadPoolExecutor
    load = LoadDeepLesionSlices(num_slices=7, input_slice_interval=2.0)
    keys = [6, 8, 10, 12, 14] * 8
    ref = {k: load(_results(series, k, 0.7))['img'].tobytes() for k in set(keys)}
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda k: load(_results(series, k, 0.7))['img'].tobytes(), keys))
    assert outs == [ref[k] for k in keys]
