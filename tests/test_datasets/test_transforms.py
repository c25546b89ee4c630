import math
import random

import cv2
import numpy as np
import pytest

from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmdet3dctx.datasets.transforms import RandomShiftScaleRotate, warp_affine_nd

D = 7


def _fixed(t, **params):
    p = dict(angle=0.0, scale=1.0, dx=0.0, dy=0.0)
    p.update(params)
    t._sample = lambda: p
    return t


def _point_image(x, y, h=64, w=64):
    img = np.zeros((h, w, D), np.float32)
    img[y, x] = np.arange(1, D + 1)
    return img


def _results(img, boxes=((20, 20, 40, 40), ), masks=None):
    res = dict(img=img, img_shape=img.shape[:2], gt_bboxes=HorizontalBoxes(np.asarray(boxes, np.float32)),
               gt_bboxes_labels=np.zeros(len(boxes), np.int64), gt_ignore_flags=np.zeros(len(boxes), bool))
    if masks is not None:
        res['gt_masks'] = masks
    return res


def test_identity_keeps_everything():
    rng = np.random.default_rng(0)
    img = rng.random((64, 48, D)).astype(np.float32)
    t = TRANSFORMS.build(dict(type='RandomShiftScaleRotate', shift_limit=0, scale_limit=0, rotate_limit=0, prob=1))
    out = t(_results(img.copy()))
    np.testing.assert_array_equal(out['img'], img)
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[20, 20, 40, 40]], atol=1e-5)


def test_rotation_moves_every_slice_alike_and_keeps_slices_apart():
    t = _fixed(RandomShiftScaleRotate(prob=1.0, interpolation='nearest'), angle=90.0)
    out = t(_results(_point_image(10, 20)))
    m = RandomShiftScaleRotate.get_matrix(64, 64, 90.0, 1.0, 0, 0)
    x, y = m @ [10, 20, 1]
    # 90 degrees counter-clockwise about (31.5, 31.5): (10, 20) -> (20, 53)
    assert (x, y) == pytest.approx((20, 53))
    np.testing.assert_array_equal(out['img'][53, 20], np.arange(1, D + 1))
    assert np.count_nonzero(out['img']) == D


def test_border_value_reaches_every_slice():
    img = np.ones((32, 32, D), np.float32)
    t = _fixed(RandomShiftScaleRotate(prob=1.0, border_value=-50.0), dx=0.25)  # 8 px to the right
    out = t(dict(img=img))
    np.testing.assert_array_equal(out['img'][:, :8], -50.0)  # all 7 channels, not OpenCV's cycled 4-vector
    np.testing.assert_array_equal(out['img'][:, 8:], 1.0)


@pytest.mark.parametrize('interp', [cv2.INTER_LINEAR, cv2.INTER_NEAREST, cv2.INTER_CUBIC])
@pytest.mark.parametrize('channels', [1, 3, 7, 9])
def test_warp_affine_nd_equals_per_channel(interp, channels):
    rng = np.random.default_rng(1)
    img = rng.random((20, 30, channels)).astype(np.float32)
    m = RandomShiftScaleRotate.get_matrix(30, 20, 12.0, 1.1, 0.03, -0.02)
    out = warp_affine_nd(img, m, interp, -5.0)
    ref = np.stack([cv2.warpAffine(img[..., c].copy(), m, (30, 20), flags=interp, borderValue=-5.0)
                    for c in range(channels)], -1)
    assert out.shape == img.shape
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_ellipse_boxes_do_not_grow_under_rotation():
    img = np.zeros((64, 64, D), np.float32)
    ellipse = _fixed(RandomShiftScaleRotate(prob=1.0), angle=45.0)
    corners = _fixed(RandomShiftScaleRotate(prob=1.0, bbox_mode='corners'), angle=45.0)
    box = (21.5, 21.5, 41.5, 41.5)  # a 20 px square centred on the image centre (31.5, 31.5)
    np.testing.assert_allclose(ellipse(_results(img, (box, )))['gt_bboxes'].numpy(), [box], atol=1e-4)
    h = 10 * math.sqrt(2)
    np.testing.assert_allclose(corners(_results(img, (box, )))['gt_bboxes'].numpy(),
                               [[31.5 - h, 31.5 - h, 31.5 + h, 31.5 + h]], atol=1e-4)
    # A 20x10 box turned by 90 degrees becomes 10x20.
    out = _fixed(RandomShiftScaleRotate(prob=1.0), angle=90.0)(_results(img, ((21.5, 26.5, 41.5, 36.5), )))
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[26.5, 21.5, 36.5, 41.5]], atol=1e-4)


def test_scale_and_shift_of_boxes():
    t = _fixed(RandomShiftScaleRotate(prob=1.0), scale=1.2, dx=0.1, dy=-0.05)
    out = t(_results(np.zeros((100, 200, D), np.float32), ((89.5, 39.5, 109.5, 59.5), )))
    # centre (99.5, 49.5) is the image centre: stays, then shifts by (20, -5); size 20 -> 24
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[107.5, 32.5, 131.5, 56.5]], atol=1e-4)


def test_masks_follow_the_image():
    img = np.zeros((64, 64, D), np.float32)
    img[20:30, 10:20] = 1.0
    bm = np.zeros((1, 64, 64), np.uint8)
    bm[0, 20:30, 10:20] = 1
    poly = PolygonMasks([[np.array([10, 20, 19, 20, 19, 29, 10, 29], np.float64)]], 64, 64)
    t = _fixed(RandomShiftScaleRotate(prob=1.0, interpolation='nearest'), angle=90.0)
    out = t(_results(img, ((10, 20, 19, 29), ), BitmapMasks(bm, 64, 64)))
    np.testing.assert_array_equal(out['gt_masks'].masks[0].astype(bool), out['img'][..., 0] > 0.5)
    out = t(_results(img, ((10, 20, 19, 29), ), poly))
    pts = out['gt_masks'].masks[0][0].reshape(-1, 2)
    m = RandomShiftScaleRotate.get_matrix(64, 64, 90.0, 1.0, 0, 0)
    np.testing.assert_allclose(pts, np.array([[10, 20], [19, 20], [19, 29], [10, 29]]) @ m[:, :2].T + m[:, 2])


def test_boxes_pushed_out_are_dropped_with_labels_and_masks():
    img = np.zeros((64, 64, D), np.float32)
    bm = BitmapMasks(np.zeros((2, 64, 64), np.uint8), 64, 64)
    res = _results(img, ((0, 10, 6, 20), (30, 30, 40, 40)), bm)
    res['gt_bboxes_labels'] = np.array([3, 5])
    out = _fixed(RandomShiftScaleRotate(prob=1.0), dx=-0.25)(res)  # 16 px to the left
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[14, 30, 24, 40]], atol=1e-4)
    assert out['gt_bboxes_labels'].tolist() == [5] and len(out['gt_masks']) == 1 and len(out['gt_ignore_flags']) == 1


def test_probability():
    img = np.random.default_rng(0).random((16, 16, D)).astype(np.float32)
    out = RandomShiftScaleRotate(prob=0.0)(dict(img=img.copy()))
    assert out['shift_scale_rotate'] is None
    np.testing.assert_array_equal(out['img'], img)
    random.seed(0)
    t = RandomShiftScaleRotate(prob=0.8)
    applied = sum(t(dict(img=img.copy()))['shift_scale_rotate'] is not None for _ in range(500))
    assert 360 < applied < 440


def test_depth_flip():
    img = np.arange(2 * 3 * D, dtype=np.float32).reshape(2, 3, D)
    out = TRANSFORMS.build(dict(type='RandomDepthFlip', prob=1.0))(dict(img=img.copy()))
    np.testing.assert_array_equal(out['img'], img[..., ::-1])
    assert out['depth_flip'] is True and out['img'][..., D // 2].tolist() == img[..., D // 2].tolist()
    out = TRANSFORMS.build(dict(type='RandomDepthFlip', prob=0.0))(dict(img=img.copy()))
    np.testing.assert_array_equal(out['img'], img)
    assert out['depth_flip'] is False


def test_mmdet_flip_resize_pad_handle_many_slices():
    """MMDetection's own transforms work on (H, W, D > 4) images: no plugin needed for them."""
    rng = np.random.default_rng(0)
    img = rng.random((30, 40, 11)).astype(np.float32)
    res = _results(img.copy(), ((5, 5, 15, 25), ))
    res['img_shape'] = (30, 40)
    res = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0, direction='horizontal'))(res)
    np.testing.assert_array_equal(res['img'], img[:, ::-1])
    np.testing.assert_allclose(res['gt_bboxes'].numpy(), [[25, 5, 35, 25]])
    res = TRANSFORMS.build(dict(type='Resize', scale=(80, 60), keep_ratio=True))(res)
    assert res['img'].shape == (60, 80, 11)
    for c in (0, 10):
        np.testing.assert_allclose(res['img'][..., c], cv2.resize(img[:, ::-1, c].copy(), (80, 60)), atol=1e-5)
    # The pad value must be a float: MMDetection turns an int into a D-tuple, which OpenCV refuses for D > 4
    # (and OpenCV would repeat a nonzero value over every 4th channel only).
    with pytest.raises(cv2.error, match='longer than 4'):
        TRANSFORMS.build(dict(type='Pad', size_divisor=32, pad_val=dict(img=0)))(dict(res))
    res = TRANSFORMS.build(dict(type='Pad', size_divisor=32, pad_val=dict(img=0.0, seg=255)))(res)
    assert res['img'].shape == (64, 96, 11)
    assert (res['img'][60:] == 0).all() and (res['img'][:, 80:] == 0).all()
    packed = TRANSFORMS.build(dict(type='PackDetInputs'))(res)
    assert tuple(packed['inputs'].shape) == (11, 64, 96)


def test_why_not_mmdet_random_affine():
    """MMDetection's RandomAffine pads the 4th slice of a 7-slice image with 0, not with its border value."""
    t = TRANSFORMS.build(dict(type='RandomAffine', max_rotate_degree=0, max_translate_ratio=0.0,
                              scaling_ratio_range=(0.5, 0.5), max_shear_degree=0, border_val=(-50, -50, -50)))
    out = t(dict(img=np.ones((32, 32, D), np.float32), gt_bboxes=HorizontalBoxes(np.zeros((0, 4), np.float32)),
                 gt_bboxes_labels=np.zeros(0, np.int64), gt_ignore_flags=np.zeros(0, bool)))
    assert out['img'][31, 31].tolist() == [-50, -50, -50, 0, -50, -50, -50]
    ours = _fixed(RandomShiftScaleRotate(prob=1.0, border_value=-50.0), scale=0.5)
    assert ours(dict(img=np.ones((32, 32, D), np.float32)))['img'][0, 0].tolist() == [-50.0] * D
