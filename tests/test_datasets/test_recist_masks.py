import math

import numpy as np
import pytest

from mmdet3dctx.datasets.recist_masks import (ellipse_polygon, grabcut_mask, mask_to_polygons, polygon_area,
                                              pseudo_mask, recist_quadrilateral, window_to_uint8)


def test_window_to_uint8_clips_before_casting():
    hu = np.array([-3000, -175, 50, 275, 5000, -200], np.float32)
    out = window_to_uint8(hu, (-175, 275))
    assert out.dtype == np.uint8
    # 50 HU sits at 225/450 = 0.5 of the window: 127.5 rounds to the even 128. -200 HU must be 0, not 250.
    assert out.tolist() == [0, 0, 128, 255, 255, 0]


def test_quadrilateral_order():
    q = recist_quadrilateral([10, 20, 30, 20, 20, 15, 20, 25])
    assert q.tolist() == [[10, 20], [20, 15], [30, 20], [20, 25]]


def test_ellipse_fits_the_axes():
    recist = [10, 20, 30, 20, 20, 15, 20, 25]
    poly = np.asarray(ellipse_polygon(recist, num_points=64)).reshape(-1, 2)
    np.testing.assert_allclose(((poly[:, 0] - 20) / 10)**2 + ((poly[:, 1] - 20) / 5)**2, 1.0, atol=1e-9)
    n = 64
    assert polygon_area(poly.ravel()) == pytest.approx(math.pi * 50 * n / (2 * math.pi) * math.sin(2 * math.pi / n))
    # Rotated by 90 degrees: long axis vertical.
    poly = np.asarray(ellipse_polygon([20, 10, 20, 30, 15, 20, 25, 20])).reshape(-1, 2)
    assert np.ptp(poly[:, 1]) == pytest.approx(20) and np.ptp(poly[:, 0]) == pytest.approx(10, abs=0.2)


def test_ellipse_is_clipped_to_its_box():
    poly = np.asarray(ellipse_polygon([10, 20, 30, 20, 20, 15, 20, 25], bbox=[12, 16, 28, 24])).reshape(-1, 2)
    assert poly[:, 0].min() == 12 and poly[:, 0].max() == 28 and poly[:, 1].min() == 16 and poly[:, 1].max() == 24


def _disk_image(r=8.0, c=(32, 32), size=64):
    ys, xs = np.mgrid[0:size, 0:size]
    hu = np.where((xs - c[0])**2 + (ys - c[1])**2 <= r * r, 60.0, -100.0)
    return hu, (xs - c[0])**2 + (ys - c[1])**2 <= r * r


def test_grabcut_recovers_a_disk_inside_its_box():
    hu, disk = _disk_image()
    recist = [26, 32, 38, 32, 32, 27, 32, 37]  # axes shorter than the disk
    bbox = [21, 22, 43, 42]  # RECIST extent + 5 px
    polys, area, how = pseudo_mask(hu, bbox, recist, (-175, 275), 'grabcut')
    assert how == 'grabcut'
    assert area == disk.sum()
    pts = np.concatenate([np.asarray(p).reshape(-1, 2) for p in polys])
    assert (pts[:, 0] >= bbox[0]).all() and (pts[:, 0] <= bbox[2]).all()
    assert (pts[:, 1] >= bbox[1]).all() and (pts[:, 1] <= bbox[3]).all()
    mask, (x0, y0), found = grabcut_mask(window_to_uint8(hu, (-175, 275)), bbox, recist)
    full = np.zeros_like(disk)
    full[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] = mask
    assert found and (full == disk).all()


def test_grabcut_falls_back_to_the_ellipse():
    hu, _ = _disk_image(size=40, c=(20, 20))
    recist = [14, 20, 26, 20, 20, 15, 20, 25]
    bbox = [0, 0, 39, 39]  # the whole image: no background to learn from
    polys, area, how = pseudo_mask(hu, bbox, recist, (-175, 275), 'grabcut')
    assert how == 'ellipse_fallback'
    assert polys == [ellipse_polygon(recist, bbox)]
    assert area == pytest.approx(polygon_area(polys[0]))


def test_ellipse_method():
    hu, _ = _disk_image()
    polys, area, how = pseudo_mask(hu, [21, 22, 43, 42], [26, 32, 38, 32, 32, 27, 32, 37], (-175, 275), 'ellipse')
    assert how == 'ellipse' and area == pytest.approx(math.pi * 30, rel=0.01)
    with pytest.raises(ValueError, match='method'):
        pseudo_mask(hu, [21, 22, 43, 42], [26, 32, 38, 32, 32, 27, 32, 37], (-175, 275), 'snake')


def test_mask_to_polygons_offset_and_order():
    m = np.zeros((20, 20), bool)
    m[2:5, 2:5] = True
    m[10:18, 10:18] = True
    m[0, 19] = True  # a single pixel: no polygon
    polys = mask_to_polygons(m, offset=(100, 200))
    assert len(polys) == 2
    big = np.asarray(polys[0]).reshape(-1, 2)
    assert big[:, 0].min() == 110 and big[:, 0].max() == 117 and big[:, 1].min() == 210
