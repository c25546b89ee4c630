import math

import cv2
import numpy as np
import pytest

from mmdet3dctx.datasets.slice_sampling import (SliceCache, decode_hu_png, interpolation_plan, slice_offsets,
                                                slice_positions, window_hu)


def test_offsets():
    assert slice_offsets(1).tolist() == [0]
    assert slice_offsets(7).tolist() == [-3, -2, -1, 0, 1, 2, 3]
    for bad in (0, 2, 8, -1):
        with pytest.raises(ValueError, match='odd'):
            slice_offsets(bad)


def test_positions_normalise_the_interval():
    # 2 mm inputs from a 5 mm series: steps of 0.4 slice.
    pos = slice_positions(10, 7, 2.0, 5.0, (0, 100))
    np.testing.assert_allclose(pos, [8.8, 9.2, 9.6, 10.0, 10.4, 10.8, 11.2], atol=1e-12)
    # 2 mm inputs from a 1 mm series: every second slice.
    np.testing.assert_allclose(slice_positions(10, 3, 2.0, 1.0, (0, 100)), [8, 10, 12])
    # 2 mm from 0.625 mm: 3.2 slices apart.
    np.testing.assert_allclose(slice_positions(50, 3, 2.0, 0.625, (0, 100)), [46.8, 50, 53.2])


def test_positions_clamp_at_series_ends():
    np.testing.assert_allclose(slice_positions(6, 7, 2.0, 1.0, (5, 15)), [5, 5, 5, 6, 8, 10, 12])
    np.testing.assert_allclose(slice_positions(14, 5, 2.0, 1.0, (5, 15)), [10, 12, 14, 15, 15])
    # The key slice alone.
    np.testing.assert_allclose(slice_positions(7, 3, 2.0, 1.0, (7, 7)), [7, 7, 7])


@pytest.mark.parametrize('interval', [math.nan, 0.0, -1.0, None])
def test_positions_repeat_key_without_interval(interval):
    np.testing.assert_allclose(slice_positions(9, 5, 2.0, interval, (0, 20)), [9] * 5)


def test_positions_raw_neighbours():
    np.testing.assert_allclose(slice_positions(9, 5, None, 5.0, (8, 20)), [8, 8, 9, 10, 11])


def test_interpolation_weights_per_offset():
    plan = interpolation_plan([8.8, 9.2, 9.6, 10.0, 10.4, 10.8, 11.2])
    expected = [(8, 9, 0.8), (9, 10, 0.2), (9, 10, 0.6), (10, 10, 0.0), (10, 11, 0.4), (10, 11, 0.8),
                (11, 12, 0.2)]
    for (i0, i1, w), (e0, e1, ew) in zip(plan, expected):
        assert (i0, i1) == (e0, e1)
        assert w == pytest.approx(ew, abs=1e-9)
    assert interpolation_plan([5.0 + 1e-9]) == [(5, 5, 0.0)]


def test_window_hu_closed_form():
    hu = np.array([-2000, -1024, 0, 513, 2050, 3000], np.int16)
    out = window_hu(hu, (-1024, 2050), (-50, 205))
    assert out.dtype == np.float32
    expected = np.clip(-50 + (hu.astype(np.float64) + 1024) * 255 / 3074, -50, 205)
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert out[0] == -50 and out[-1] == 205
    np.testing.assert_allclose(window_hu(np.array([-175, 50, 275]), (-175, 275), (0, 1)), [0, 0.5, 1], atol=1e-6)
    with pytest.raises(ValueError, match='low < high'):
        window_hu(hu, (10, 10), (0, 1))


def test_decode_hu_png_is_exact():
    hu = np.array([[-32768, -1024, -1], [0, 1, 32767]], np.int32)
    ok, buf = cv2.imencode('.png', (hu + 32768).astype(np.uint16))
    assert ok
    out = decode_hu_png(buf.tobytes())
    assert out.dtype == np.int16
    np.testing.assert_array_equal(out, hu)


def test_decode_rejects_8bit():
    ok, buf = cv2.imencode('.png', np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match='x.png: expected a single-channel 16-bit PNG'):
        decode_hu_png(buf.tobytes(), 'x.png')


def test_slice_cache_lru_and_counters():
    loads = []

    def load(p):
        loads.append(p)
        return np.full(1, len(loads))

    cache = SliceCache(2)
    assert math.isnan(cache.hit_rate)
    cache.get('a', load)
    cache.get('b', load)
    cache.get('a', load)  # hit; 'b' is now least recent
    cache.get('c', load)  # evicts 'b'
    cache.get('b', load)  # miss
    assert loads == ['a', 'b', 'c', 'b']
    assert (cache.hits, cache.misses) == (1, 4)
    assert cache.hit_rate == pytest.approx(0.2)
    assert 'a' not in cache and 'b' in cache and len(cache) == 2
    off = SliceCache(0)
    off.get('a', load)
    off.get('a', load)
    assert off.misses == 2 and len(off) == 0
