import numpy as np
import pytest

from mmdet3dctx.inference import box_iou, link_detections, mask_diameters


def test_box_iou_values():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]]))
    assert iou[0, 0] == pytest.approx(50 / 150) and iou[0, 1] == 0


def test_links_consecutive_overlapping_boxes_and_splits_others():
    # lesion A on slices 3-5 drifting slightly; B on slice 4 only, elsewhere; A' reappears after a gap of 3
    boxes = [np.array([[10, 10, 20, 20]]), np.array([[11, 10, 21, 20], [50, 50, 60, 60]]),
             np.array([[12, 11, 22, 21]]), np.zeros((0, 4)), np.zeros((0, 4)), np.array([[12, 11, 22, 21]])]
    scores = [np.array([0.6]), np.array([0.9, 0.7]), np.array([0.5]), np.zeros(0), np.zeros(0), np.array([0.4])]
    found = link_detections([3, 4, 5, 6, 7, 8], boxes, scores, pixel_spacing=(0.5, 0.8), slice_interval=2.0)
    assert [f.slice_range for f in found] == [(3, 5), (4, 4), (8, 8)]
    a = found[0]
    assert a.key_slice == 4 and a.score == 0.9 and list(a.box) == [11, 10, 21, 20]
    assert a.diameters_mm == pytest.approx((8.0, 5.0)) and a.diameters_from == 'box'  # 10 px * 0.8, 10 px * 0.5
    assert a.extent_mm == pytest.approx(6.0)
    assert found[0].to_dict()['num_slices'] == 3
    # a larger allowed gap joins the reappearance
    found = link_detections([3, 4, 5, 6, 7, 8], boxes, scores, max_gap=3)
    assert [f.slice_range for f in found] == [(3, 8), (4, 4)]
    assert len(link_detections([3, 4, 5, 6, 7, 8], boxes, scores, min_slices=2)) == 1


def test_greedy_one_detection_per_track():
    boxes = [np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [1, 0, 11, 10]])]
    scores = [np.array([0.5]), np.array([0.6, 0.8])]
    found = link_detections([0, 1], boxes, scores)
    assert sorted(len(f.slices) for f in found) == [1, 2]
    two = next(f for f in found if len(f.slices) == 2)
    assert two.boxes[1].tolist() == [0, 0, 10, 10]  # the exact overlap wins


def test_mask_diameters_of_a_rectangle_and_ellipse():
    m = np.zeros((50, 50), bool)
    m[10:13, 5:45] = True  # 40 x 3 px
    long_axis, short_axis = mask_diameters(m)
    assert long_axis == pytest.approx(np.hypot(39, 2) + 41 / np.hypot(39, 2), abs=1e-6)
    assert 3 <= short_axis <= 5.5  # perpendicular to the diagonal
    yy, xx = np.mgrid[:101, :101]
    ell = ((xx - 50) / 30.0) ** 2 + ((yy - 50) / 10.0) ** 2 <= 1
    long_axis, short_axis = mask_diameters(ell)
    assert long_axis == pytest.approx(61, abs=1) and short_axis == pytest.approx(21, abs=1.5)


def test_masks_give_diameters_in_mm():
    m = np.zeros((1, 30, 30), bool)
    m[0, 5:8, 5:25] = True
    found = link_detections([0], [np.array([[5, 5, 25, 8]])], [np.array([0.9])], masks=[m], pixel_spacing=(0.5, 0.5))
    assert found[0].diameters_from == 'mask'
    assert found[0].diameters_mm[0] == pytest.approx(0.5 * (np.hypot(19, 2) + 21 / np.hypot(19, 2)))
    # anisotropic pixels: 20 px at 0.8 mm across, 3 px at 0.5 mm down
    m2 = np.zeros((30, 30), bool)
    m2[5:8, 5:25] = True
    from mmdet3dctx.inference import mask_diameters
    long_axis, short_axis = mask_diameters(m2, (0.5, 0.8))
    assert long_axis == pytest.approx(16.06, abs=0.01) and 1.5 < short_axis < 3.0  # perpendicular to the diagonal


def test_bad_input():
    with pytest.raises(ValueError, match='increasing'):
        link_detections([2, 1], [np.zeros((0, 4))] * 2, [np.zeros(0)] * 2)


def test_never_links_across_a_gap_and_reports_the_real_extent():
    box = np.array([[10, 10, 20, 20]])
    boxes, scores = [box] * 4, [np.array([0.9]), np.array([0.8]), np.array([0.7]), np.array([0.6])]
    positions = np.array([0.0, 2.0, 4.0, 40.0])  # slice 3 lies beyond a gap
    found = link_detections([0, 1, 2, 3], boxes, scores, positions=positions, slice_interval=2.0,
                            run_ids=[0, 0, 0, 1])
    assert [f.slice_range for f in found] == [(0, 2), (3, 3)]
    assert found[0].extent_mm == pytest.approx(6.0) and found[1].extent_mm == pytest.approx(2.0)
    joined = link_detections([0, 1, 2, 3], boxes, scores, positions=positions, slice_interval=2.0)
    assert [f.slice_range for f in joined] == [(0, 3)] and joined[0].extent_mm == pytest.approx(42.0)
