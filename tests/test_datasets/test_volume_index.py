"""The index records of a lesion: boxes (voxels half-open, LPS mm at the voxels' faces), key slice, per-slice 2D boxes,
centroid, sphere-equivalent diameter; negative slices drawn per case."""
import numpy as np
import pytest

from mmdet3dctx.datasets.volume_index import (box_lps_extent, choose_negative_slices, lesion_records, negative_counts,
                                              slice_edges)
from mmdet3dctx.io import CTVolume


def volume(z=6, h=8, w=10, spacing=(2.5, 0.5, 0.8), origin=(-4.0, 6.0, 30.0), direction=None, positions=None):
    positions = origin[2] + np.arange(z) * spacing[0] if positions is None else positions
    return CTVolume(hu=np.zeros((z, h, w)), spacing=spacing, positions=positions, origin=origin, direction=direction)


def test_records_of_a_hand_drawn_lesion():
    vol = volume()
    m = np.zeros((6, 8, 10), np.uint16)
    m[1, 2:4, 3:5] = 1  # 4 voxels
    m[2, 1:5, 2:7] = 1  # 20 voxels: the key slice
    m[3, 3, 4] = 1  # 1 voxel
    m[4, 6, 8] = 2  # a second lesion, one voxel
    recs = lesion_records(vol, m, [dict(label=2, label_name='tumour'), dict(label=2, label_name='tumour', row=7)])
    a, b = recs
    assert a['lesion_id'] == 1 and a['label'] == 2 and a['label_name'] == 'tumour'
    assert a['box_voxels'] == [1, 1, 2, 4, 5, 7]
    assert a['key_slice'] == 2
    assert a['slices'] == {'1': [3.0, 2.0, 5.0, 4.0], '2': [2.0, 1.0, 7.0, 5.0], '3': [4.0, 3.0, 5.0, 4.0]}
    idx = np.argwhere(m == 1).mean(0)
    expected = np.array([-4.0 + idx[2] * 0.8, 6.0 + idx[1] * 0.5, 30.0 + idx[0] * 2.5])
    np.testing.assert_allclose(a['centre_lps_mm'], expected)
    assert a['volume_mm3'] == pytest.approx(25 * 2.5 * 0.5 * 0.8)
    assert a['diameter_mm'] == pytest.approx((6 * 25 * 1.0 / np.pi)**(1 / 3))
    # the faces: half a pixel beyond the outer centres, half a slice beyond the outer positions
    assert a['box_lps_mm']['min'] == pytest.approx([-4.0 + 1.5 * 0.8, 6.0 + 0.5 * 0.5, 30.0 + 0.5 * 2.5])
    assert a['box_lps_mm']['max'] == pytest.approx([-4.0 + 6.5 * 0.8, 6.0 + 4.5 * 0.5, 30.0 + 3.5 * 2.5])
    assert b['box_voxels'] == [4, 6, 8, 5, 7, 9] and b['row'] == 7 and b['slices'] == {'4': [8.0, 6.0, 9.0, 7.0]}


def test_given_diameter_and_key_slice_ties():
    vol = volume()
    m = np.zeros((6, 8, 10), np.uint16)
    m[1:5, 2:4, 2:4] = 1  # four equal cross-sections: the centroid lies at k = 2.5, the lower of 2 and 3 wins
    rec, = lesion_records(vol, m, [dict(label=1, label_name='nodule', diameter_mm=6.5)])
    assert rec['key_slice'] == 2 and rec['diameter_mm'] == 6.5


def test_flipped_direction_and_uneven_slices():
    direction = np.diag([-1.0, 1.0, 1.0])  # W toward the right (a reader that did not flip)
    vol = volume(direction=direction, positions=np.array([30.0, 32.5, 35.0, 40.0, 42.5, 45.0]))
    np.testing.assert_allclose(slice_edges(vol), [28.75, 31.25, 33.75, 37.5, 41.25, 43.75, 46.25])
    ext = box_lps_extent(vol, [2, 0, 0, 4, 1, 2])
    assert ext['min'] == pytest.approx([-4.0 - 1.5 * 0.8, 6.0 - 0.25, 33.75])
    assert ext['max'] == pytest.approx([-4.0 + 0.5 * 0.8, 6.0 + 0.25, 41.25])


def test_negative_slices_avoid_lesions_and_are_seeded():
    picks = choose_negative_slices('case_1', 20, [3, 4, 5], 6, seed=0)
    assert len(picks) == 6 and not set(picks) & {3, 4, 5} and picks == sorted(picks)
    assert picks == choose_negative_slices('case_1', 20, [3, 4, 5], 6, seed=0)
    assert picks != choose_negative_slices('case_1', 20, [3, 4, 5], 6, seed=1)
    assert choose_negative_slices('c', 5, [0, 1, 2], 10, seed=0) == [3, 4]  # all that are free
    cases = [dict(case_id='a', lesions=[dict(slices={'1': 0, '2': 0, '3': 0, '4': 0})]),
             dict(case_id='b', lesions=[dict(slices={'7': 0, '8': 0})]), dict(case_id='c', lesions=[])]
    assert negative_counts(cases, 0.5) == {'a': 2, 'b': 1, 'c': 2}  # c: 0.5 x the mean of 4 and 2
    assert negative_counts(cases, 0.0) == {'a': 0, 'b': 0, 'c': 0}
