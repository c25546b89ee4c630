"""draw_ct_sample: panels in slice order, the CT window stretched to 0-255, boxes and masks at their pixels."""
import numpy as np
import pytest

from mmdet3dctx.visualization import draw_ct_sample
from mmdet3dctx.visualization.ct_sample import GT_BOX_COLOR, MASK_COLOR

TITLE, GAP = 14, 4


def panel(img, d, width):
    return img[TITLE:, d * (width + GAP):d * (width + GAP) + width]


def box_edge_mask(h, w, box):
    x1, y1, x2, y2 = box
    m = np.zeros((h, w), bool)
    m[y1, x1:x2 + 1] = m[y2, x1:x2 + 1] = True
    m[y1:y2 + 1, x1] = m[y1:y2 + 1, x2] = True
    return m


def test_window_boxes_and_masks_at_their_pixels():
    d, h, w = 5, 40, 48
    vol = np.stack([np.full((h, w), v, np.float32) for v in (-50., 0., 77.5, 155., 205.)])
    box = (6, 9, 30, 25)
    mask = np.zeros((1, h, w), np.uint8)
    mask[0, 14:20, 12:22] = 1
    img = draw_ct_sample(vol, np.array([box], np.float32) + 0.3, mask, value_range=(-50, 205),
                         input_slice_interval=2.0, gap=GAP, title_height=TITLE)
    assert img.shape == (TITLE + h, d * w + (d - 1) * GAP, 3) and img.dtype == np.uint8
    edge = box_edge_mask(h, w, box)
    expected_grey = [0, 50, 128, 205, 255]  # (v + 50) * 255 / 255, rounded
    for k in range(d):
        p = panel(img, k, w)
        assert (p[edge] == GT_BOX_COLOR).all(), k          # the box on every slice, at round(x), round(y)
        inside_box = np.zeros((h, w), bool)
        inside_box[box[1] + 1:box[3], box[0] + 1:box[2]] = True
        plain = ~edge & ~(inside_box if k == d // 2 else np.zeros_like(edge))
        assert (p[plain] == expected_grey[k]).all(), k      # grey, the window stretched to 0-255
    key = panel(img, 2, w)
    blended = np.round(0.65 * 128 + 0.35 * np.array(MASK_COLOR)).astype(np.uint8)
    assert (key[14:20, 12:22] == blended).all()              # the mask on the key slice only
    assert (panel(img, 1, w)[14:20, 12:22] == 50).all()
    assert (img[TITLE:, w:w + GAP] == 0).all()               # the gap between panels


def test_default_key_and_errors():
    img = draw_ct_sample(np.zeros((3, 8, 8)), value_range=(0, 1), title_height=0, gap=0)
    assert img.shape == (8, 24, 3) and not img.any()
    with pytest.raises(ValueError, match=r'\(D, H, W\)'):
        draw_ct_sample(np.zeros((8, 8)))
    with pytest.raises(ValueError, match='key_index 3 outside the 3 slices'):
        draw_ct_sample(np.zeros((3, 8, 8)), key_index=3)
