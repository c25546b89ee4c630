"""The 3D FROC per volume: hand-worked cases for every rule and criterion, the lesion map's geometry, and
agreement with the plain-loop reference on random volumes."""
import math

import numpy as np
import pytest
from mmdet3dctx.testing.volume_froc_reference import evaluate_volumes_loop, label_at_loop
from mmdet3dctx.testing.volume_index import random_volume_records

from mmdet3dctx.evaluation.volume_froc import (LesionMap, VolumeEvalError, box_iou_3d, diameter_groups,
                                               evaluate_volumes, format_volume_froc_table, match_volumes,
                                               volume_record)


def cube(centre, size):
    """Box ``min xyz, max xyz`` of a cube."""
    c = np.asarray(centre, np.float64)
    return np.concatenate([c - size / 2, c + size / 2]).tolist()


def walk_example():
    """Three volumes (C lesion-free), three lesions, five findings; criterion 'centre'.

    Lesions: L1 in A at (0, 0, 0), d 8 mm; L2 in A at (50, 0, 0), d 24 mm; L3 in B at (0, 0, 0), d 12 mm.
    Ranked findings (score, volume, centre) and what each is:
      .9 A (1, 0, 0)   1 mm from L1 (radius 4): TP, L1 detected     -> sens 1/3, FPs/volume 0
      .8 B (30, 0, 0)  hits nothing: FP                             -> 1/3, 1/3
      .7 A (0, 2, 0)   hits L1 again: duplicate, neither TP nor FP  -> 1/3, 1/3
      .6 B (0, 0, 5)   5 mm from L3 (radius 6): TP, L3 detected     -> 2/3, 1/3
      .5 C (0, 0, 0)   a lesion-free volume: FP                     -> 2/3, 2/3
    """
    a = volume_record([.9, .7], [[1, 0, 0], [0, 2, 0]], lesion_centres=[[0, 0, 0], [50, 0, 0]],
                      lesion_diameters=[8., 24.], case_id='A')
    b = volume_record([.8, .6], [[30, 0, 0], [0, 0, 5]], lesion_centres=[[0, 0, 0]], lesion_diameters=[12.],
                      case_id='B')
    c = volume_record([.5], [[0, 0, 0]], case_id='C')
    return [a, b, c]


def test_walk_by_hand():
    r = evaluate_volumes(walk_example())
    # Points (FPs/volume, sens): (0, 1/3) (1/3, 1/3) (1/3, 1/3) (1/3, 2/3) (2/3, 2/3).
    # 1/8 and 1/4 lie between the first two points: 1/3. 1/2 lies between the last point with 1/3 FPs (2/3) and
    # (2/3, 2/3): 2/3. 1 to 8 are beyond the last point: the final 2/3.
    third = 1 / 3
    assert r['fp_levels'] == [0.125, 0.25, 0.5, 1., 2., 4., 8.]
    assert r['sensitivity'] == pytest.approx([third, third] + [2 * third] * 5, abs=1e-15)
    assert r['cpm'] == pytest.approx((2 * third + 5 * 2 * third) / 7)  # 4/7
    assert (r['num_volumes'], r['num_lesion_free_volumes'], r['num_lesions'], r['num_findings']) == (3, 1, 3, 5)
    assert (r['num_detected_lesions'], r['num_false_positives'], r['num_duplicate_findings']) == (2, 2, 1)


def test_subgroups_count_their_lesions_with_every_fp():
    r = evaluate_volumes(walk_example())
    sub = r['subgroups']
    assert list(sub) == ['<10mm', '10-20mm', '20-30mm', '>=30mm']
    # L1 (8 mm) is detected at the first finding, before any FP: 1 at every level.
    assert sub['<10mm']['num_lesions'] == 1 and sub['<10mm']['sensitivity'] == [1.] * 7
    assert sub['<10mm']['cpm'] == 1.
    # L3 (12 mm) is detected after the first FP (1/3 per volume): 0 at 1/8 and 1/4, 1 from 1/2 on.
    assert sub['10-20mm']['sensitivity'] == [0., 0.] + [1.] * 5
    assert sub['10-20mm']['cpm'] == pytest.approx(5 / 7)
    # L2 (24 mm) is never detected.
    assert sub['20-30mm'] == dict(range_mm=[20., 30.], num_lesions=1, sensitivity=[0.] * 7, cpm=0.)
    assert sub['>=30mm'] == dict(range_mm=[30., None], num_lesions=0, sensitivity=None, cpm=None)
    assert r['diameter_bins'] == [0., 10., 20., 30., None]


def test_operating_points_by_hand():
    r = evaluate_volumes(walk_example(), fp_levels=(0.125, 0.5, 1))
    # FPs with score >= t: .9 -> 0, .8/.7/.6 -> 1, .5 -> 2 (per volume: 0, 1/3, 2/3).
    # 1/8: only .9 keeps 0 FPs; 1/2: the lowest threshold with 1/3 FPs is .6; 1: .5 keeps every finding.
    assert r['score_thresholds'] == [.9, .6, .5]
    assert r['operating_points'] == [
        dict(fp_level=.125, score_thr=.9, fp_per_volume=0., sensitivity=1 / 3, num_findings=1),
        dict(fp_level=.5, score_thr=.6, fp_per_volume=1 / 3, sensitivity=2 / 3, num_findings=4),
        dict(fp_level=1., score_thr=.5, fp_per_volume=2 / 3, sensitivity=2 / 3, num_findings=5)]


def test_no_threshold_when_the_top_finding_is_already_too_many_fps():
    vols = [volume_record([.9, .8], [[100, 0, 0], [0, 0, 0]], lesion_centres=[[0, 0, 0]], lesion_diameters=[10.])]
    r = evaluate_volumes(vols, fp_levels=(0.5, 1))
    assert r['score_thresholds'] == [None, .8]
    # The first finding is a FP (1 per volume): sensitivity 0 at 1/2 (left of the first point), 1 at 1.
    assert r['sensitivity'] == [0., 1.]


def test_centre_within_radius_is_strict():
    # LUNA16 tests dist^2 < r^2: a centre exactly on the sphere (5 mm from a 10 mm lesion) is no hit.
    les = dict(lesion_centres=[[0, 0, 0]], lesion_diameters=[10.])
    on = evaluate_volumes([volume_record([.9], [[0, 0, 5]], **les)], fp_levels=(1, ))
    inside = evaluate_volumes([volume_record([.9], [[0, 0, 4.999]], **les)], fp_levels=(1, ))
    assert (on['sensitivity'], on['num_false_positives']) == ([0.], 1)
    assert (inside['sensitivity'], inside['num_false_positives']) == ([1.], 0)


def test_one_finding_hitting_two_lesions_detects_both():
    vols = [volume_record([.9], [[0, 0, 0]], lesion_centres=[[1, 0, 0], [-1, 0, 0], [40, 0, 0]],
                          lesion_diameters=[6., 6., 6.])]
    r = evaluate_volumes(vols, fp_levels=(1, ))
    assert r['sensitivity'] == [2 / 3] and r['num_detected_lesions'] == 2 and r['num_false_positives'] == 0


def test_finding_on_another_volumes_lesion_is_fp():
    # The finding sits on A's lesion position but belongs to B, which has none.
    vols = [volume_record([], np.zeros((0, 3)), lesion_centres=[[0, 0, 0]], lesion_diameters=[10.]),
            volume_record([.9], [[0, 0, 0]])]
    r = evaluate_volumes(vols, fp_levels=(0.5, 1))
    assert r['sensitivity'] == [0., 0.] and r['num_false_positives'] == 1 and r['num_findings'] == 1


def test_lesion_free_volumes_count_in_the_fp_denominator():
    base = [volume_record([.9, .8], [[0, 0, 0], [90, 0, 0]], lesion_centres=[[0, 0, 0]], lesion_diameters=[10.])]
    empty = [volume_record([], np.zeros((0, 3))) for _ in range(3)]
    # One FP over one volume is 1 per volume; over four volumes 1/4: the lesion stays detected at 1/4.
    assert evaluate_volumes(base, fp_levels=(0.25, 1))['operating_points'][0]['score_thr'] == .9
    r = evaluate_volumes(base + empty, fp_levels=(0.25, 1))
    assert r['num_lesion_free_volumes'] == 3
    assert r['operating_points'][0] == dict(fp_level=.25, score_thr=.8, fp_per_volume=.25, sensitivity=1.,
                                            num_findings=2)


def test_no_finding_at_all_gives_zero():
    vols = [volume_record([], np.zeros((0, 3)), lesion_centres=[[0, 0, 0]], lesion_diameters=[10.])]
    r = evaluate_volumes(vols, fp_levels=(1, 2))
    assert r['sensitivity'] == [0., 0.] and r['cpm'] == 0. and r['score_thresholds'] == [None, None]


def test_ties_are_ranked_in_reverse_input_order():
    # Equal scores: the later finding ranks first, as the 2D FROC does. Here the FP (second) comes first: the
    # points are (1/2, 0) then (1/2, 1); 1/4 lies left of the first (0), 1/2 takes the last point with 1/2 FPs
    # (1). A threshold cannot split tied findings: 0.5 keeps both (1/2 FP per volume), none reaches 1/4.
    vols = [volume_record([.5, .5], [[0, 0, 0], [90, 0, 0]], lesion_centres=[[0, 0, 0]], lesion_diameters=[10.]),
            volume_record([], np.zeros((0, 3)))]
    m = match_volumes(vols)
    assert m.order.tolist() == [1, 0] and m.is_fp.tolist() == [True, False]
    r = evaluate_volumes(vols, fp_levels=(0.25, 0.5))
    assert r['sensitivity'] == [0., 1.] and r['score_thresholds'] == [None, .5]


# ----------------------------------------------------------------------------------------------- 3D IoU


def test_box_iou_3d_by_hand():
    a = np.array([[0, 0, 0, 10, 10, 10.]] * 4)
    b = np.array([[5, 0, 0, 15, 10, 10], [9, 0, 0, 19, 10, 10], [0, 0, 0, 10, 10, 1], [20, 20, 20, 30, 30, 30.]])
    # intersections 500, 100, 100, 0; unions 1500, 1900, 1000, 2000
    assert box_iou_3d(a, b).tolist() == [500 / 1500, 100 / 1900, 0.1, 0.]
    flat = np.array([[0, 0, 0, 0, 0, 0.]])
    assert box_iou_3d(flat, flat).tolist() == [0.]


def test_iou_criterion_threshold_is_inclusive():
    les = dict(lesion_centres=[[5, 5, 5]], lesion_boxes=[[0, 0, 0, 10, 10, 10]], lesion_diameters=[10.])
    exact = [volume_record([.9], [[5, 5, .5]], [[0, 0, 0, 10, 10, 1]], **les)]  # IoU exactly 0.1
    below = [volume_record([.9], [[14, 5, 5]], [[9, 0, 0, 19, 10, 10]], **les)]  # IoU 1/19
    assert evaluate_volumes(exact, 'iou', fp_levels=(1, ))['sensitivity'] == [1.]
    assert evaluate_volumes(below, 'iou', fp_levels=(1, ))['sensitivity'] == [0.]
    assert evaluate_volumes(below, 'iou', iou_thr=0.05, fp_levels=(1, ))['sensitivity'] == [1.]


def test_iou_needs_only_boxes():
    vols = [volume_record([.9, .8], [[5, 5, 5], [50, 50, 50]], [cube((5, 5, 5), 10), cube((50, 50, 50), 10)],
                          lesion_boxes=[cube((5, 5, 5), 10)])]
    r = evaluate_volumes(vols, 'iou', fp_levels=(1, ))
    assert r['sensitivity'] == [1.] and r['num_false_positives'] == 1
    assert [g['num_lesions'] for g in r['subgroups'].values()] == [0, 0, 0, 0]  # no diameter: in no group


def test_iou_and_centre_disagree_where_they_should():
    # A large box centred on the lesion: its centre hits (LUNA16), its IoU is (10/40)^3 < 0.1 (nnDetection).
    les = dict(lesion_centres=[[0, 0, 0]], lesion_boxes=[cube((0, 0, 0), 10)], lesion_diameters=[10.])
    vols = [volume_record([.9], [[0, 0, 0]], [cube((0, 0, 0), 40)], **les)]
    assert evaluate_volumes(vols, 'centre', fp_levels=(1, ))['sensitivity'] == [1.]
    r = evaluate_volumes(vols, 'iou', fp_levels=(1, ))
    assert r['sensitivity'] == [0.] and r['criterion'] == 'iou' and r['iou_thr'] == 0.1


# ---------------------------------------------------------------------------------- the lesion map


def l_shaped_map():
    """(4, 6, 6) map, 1 mm voxels: lesion 1 an L in slice 1-2 (rows 1-4 of column 1, and row 4 columns 1-4);
    lesion 2 one voxel (k 3, i 0, j 5)."""
    labels = np.zeros((4, 6, 6), np.uint16)
    labels[1:3, 1:5, 1] = 1
    labels[1:3, 4, 1:5] = 1
    labels[3, 0, 5] = 2
    return labels


def test_centre_in_mask_uses_the_mask_not_the_radius():
    lmap = LesionMap(l_shaped_map(), spacing=(1., 1., 1.))
    les = dict(lesion_centres=[[2., 3., 1.5], [5., 0., 3.]], lesion_diameters=[3., 1.], lesion_map=lmap)
    # centres (x=j, y=i, z=k): (4, 4, 1) on the L's far arm is in lesion 1's mask but 2.29 mm from its given
    # centre (2, 3, 1.5), outside the 1.5 mm radius; (2, 2, 1.5) is 1 mm from that centre but in no mask;
    # (5, 0, 3) is lesion 2's voxel and centre.
    cs = [[4., 4., 1.], [2., 2., 1.5], [5., 0., 3.]]
    vols = [volume_record([.9, .8, .7], cs, **les)]
    r = evaluate_volumes(vols, 'centre_in_mask', fp_levels=(1, 2))
    assert r['criterion'] == 'centre_in_mask'
    assert r['num_detected_lesions'] == 2 and r['num_false_positives'] == 1
    assert r == evaluate_volumes(vols, 'centre', use_mask=True, fp_levels=(1, 2))
    by_radius = evaluate_volumes(vols, 'centre', fp_levels=(1, 2))
    # by the radius: (2, 2, 1.5) hits lesion 1, (4, 4, 1) is a FP; lesion 2 as before
    assert by_radius['num_detected_lesions'] == 2 and by_radius['num_false_positives'] == 1
    assert r['operating_points'][0]['score_thr'] == .7 and by_radius['operating_points'][0]['score_thr'] == .7
    m, mr = match_volumes(vols, 'centre_in_mask'), match_volumes(vols, 'centre')
    assert m.is_fp.tolist() == [False, True, False] and mr.is_fp.tolist() == [True, False, False]


def test_centre_in_mask_accepts_a_callable_and_lesion_ids():
    # lesion_ids name the lesions' values in the map (here 7); any callable points -> labels works.
    def lookup(points):
        return np.where(np.asarray(points)[:, 0] < 10, 7, 0)

    vols = [volume_record([.9, .8], [[0, 0, 0], [20, 0, 0]], lesion_centres=[[50, 50, 50]],
                          lesion_diameters=[1.], lesion_ids=[7], lesion_map=lookup)]
    assert match_volumes(vols, 'centre_in_mask').is_fp.tolist() == [False, True]


def test_centre_in_mask_needs_a_map_where_there_are_lesions():
    vols = [volume_record([.9], [[0, 0, 0]], lesion_centres=[[0, 0, 0]], lesion_diameters=[1.], case_id='x'),
            volume_record([.9], [[0, 0, 0]])]
    with pytest.raises(VolumeEvalError, match=r'volume 0 \(x\).*lesion_map'):
        match_volumes(vols, 'centre_in_mask')
    match_volumes(vols[1:] + [volume_record([], np.zeros((0, 3)), lesion_centres=[[0, 0, 0]])], 'centre_in_mask')


def test_lesion_map_nearest_voxel_and_outside():
    labels = np.arange(1, 3 * 4 * 5 + 1, dtype=np.uint16).reshape(3, 4, 5)
    # slices at 0, 2 and 5 mm (uneven), spacing z 2.5 (median step), 0.5 mm rows, 2 mm columns, origin offset
    lmap = LesionMap(labels, spacing=(2.5, .5, 2.), positions=[10., 12., 15.], origin=[100., 50., -10.])

    def at(x, y, z):
        return int(lmap.label_at([[x, y, z]])[0])

    assert at(100, 50, -10) == labels[0, 0, 0]
    assert at(100 + 2 * 4, 50 + .5 * 3, -10 + 5) == labels[2, 3, 4]
    # columns: j covers [j - 1/2, j + 1/2) of x / 2 mm; x 100.99 -> j 0, x 101 -> j 1
    assert at(100.99, 50, -10) == labels[0, 0, 0] and at(101, 50, -10) == labels[0, 0, 1]
    # slices: k 0 covers [-1.25, 1), k 1 [1, 3.5), k 2 [3.5, 6.25) mm from the first position
    assert at(100, 50, -10 + .99) == labels[0, 0, 0] and at(100, 50, -9) == labels[1, 0, 0]
    assert at(100, 50, -10 + 3.49) == labels[1, 0, 0] and at(100, 50, -10 + 3.5) == labels[2, 0, 0]
    assert at(100, 50, -10 - 1.25) == labels[0, 0, 0] and at(100, 50, -10 - 1.26) == 0
    assert at(100, 50, -10 + 6.24) == labels[2, 0, 0] and at(100, 50, -10 + 6.25) == 0
    assert at(99, 50, -10) == labels[0, 0, 0] and at(98.99, 50, -10) == 0  # half a column before the first
    assert at(100 + 2 * 4.5, 50, -10) == 0 and at(100, 50 + .5 * 3.5, -10) == 0


def test_lesion_map_follows_the_direction_matrix():
    # A feet-first-like geometry: columns toward -x, slices toward -z. The point 2 columns and 1 slice from the
    # origin is origin + (-2 sx, 0, -1 sz).
    labels = np.zeros((3, 3, 3), np.uint16)
    labels[1, 0, 2] = 5
    direction = np.diag([-1., 1., -1.])
    lmap = LesionMap(labels, spacing=(3., 1., 2.), origin=[0., 0., 0.], direction=direction)
    assert lmap.label_at([[-4., 0., -3.], [4., 0., 3.]]).tolist() == [5, 0]
    idx, inside = lmap.voxel_index([[-4., 0., -3.], [4., 0., 3.]])
    assert idx[0].tolist() == [1, 0, 2] and inside.tolist() == [True, False]
    assert label_at_loop([-4., 0., -3.], lmap) == 5


def test_lesion_map_reads_a_memory_map(tmp_path):
    np.save(tmp_path / 'm.npy', l_shaped_map())
    lmap = LesionMap(np.load(tmp_path / 'm.npy', mmap_mode='r'), spacing=(1., 1., 1.))
    assert lmap.label_at([[4., 4., 1.], [5., 0., 3.], [0., 0., 0.]]).tolist() == [1, 2, 0]


# ------------------------------------------------------------------------------------------ options, errors


def test_diameter_groups_names_and_custom_bins():
    assert diameter_groups((0, 10, 20, 30, math.inf)) == [('<10mm', 0., 10.), ('10-20mm', 10., 20.),
                                                        ('20-30mm', 20., 30.), ('>=30mm', 30., math.inf)]
    assert [g[0] for g in diameter_groups((3, 6, 10))] == ['3-6mm', '6-10mm']
    with pytest.raises(VolumeEvalError, match='increasing'):
        diameter_groups((10, 5))
    r = evaluate_volumes(walk_example(), diameter_bins=(0, 10, math.inf), fp_levels=(1, ))
    # bins are half-open: 8 mm in [0, 10); 12 and 24 mm in [10, inf)
    assert {k: v['num_lesions'] for k, v in r['subgroups'].items()} == {'<10mm': 1, '>=10mm': 2}
    assert evaluate_volumes(walk_example(), diameter_bins=None)['subgroups'] == {}


def test_bad_input_names_the_volume():
    good = walk_example()
    with pytest.raises(VolumeEvalError, match=r'volume 1 \(B\): centres has 1 rows for 2'):
        evaluate_volumes([good[0], dict(good[1], centres=[[0, 0, 0]])])
    with pytest.raises(VolumeEvalError, match=r'volume 2 \(C\): scores has NaN'):
        evaluate_volumes(good[:2] + [dict(good[2], scores=[np.nan])])
    with pytest.raises(VolumeEvalError, match=r'volume 0 \(A\): lesion_diameters'):
        evaluate_volumes([dict(good[0], lesion_diameters=[8., np.nan])] + good[1:])
    with pytest.raises(VolumeEvalError, match=r'volume 0 \(A\): boxes is missing'):
        evaluate_volumes(good, 'iou')
    with pytest.raises(VolumeEvalError, match='criterion'):
        evaluate_volumes(good, 'dice')
    with pytest.raises(VolumeEvalError, match='at least one volume'):
        evaluate_volumes([])
    with pytest.raises(VolumeEvalError, match='none of the 1 volumes has a lesion'):
        evaluate_volumes([good[2]])


def test_table_lists_levels_subgroups_and_thresholds():
    text = format_volume_froc_table(evaluate_volumes(walk_example()))
    lines = text.splitlines()
    assert '3 volumes (1 lesion-free), 3 lesions, 5 findings' in lines[0] and 'LUNA16' in lines[0]
    assert lines[2].split()[4:] == ['0.125', '0.25', '0.5', '1', '2', '4', '8', 'CPM']
    assert lines[3].split() == ['all', 'lesions', '3', '33.33', '33.33'] + ['66.67'] * 5 + ['57.14']
    assert lines[-3].split()[:3] == ['>=30mm', '0', '-']
    assert lines[-2].split() == ['score', 'threshold', '0.9', '0.9', '0.6', '0.5', '0.5', '0.5', '0.5']


# ------------------------------------------------------------------------------- against the reference


def assert_same_as_reference(result, ref):
    for key in ('sensitivity', 'cpm', 'operating_points', 'num_volumes', 'num_lesions', 'num_findings',
                'num_detected_lesions', 'num_false_positives', 'num_duplicate_findings'):
        assert result[key] == ref[key], key
    subgroups = {k: {kk: vv for kk, vv in v.items() if kk != 'range_mm'} for k, v in result['subgroups'].items()}
    assert subgroups == ref['subgroups']


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
@pytest.mark.parametrize('criterion', ['centre', 'iou'])
def test_vectorised_equals_reference_on_random_volumes(seed, criterion):
    vols = random_volume_records(seed)
    result = evaluate_volumes(vols, criterion)
    assert result['num_duplicate_findings'] + result['num_false_positives'] < result['num_findings']
    assert_same_as_reference(result, evaluate_volumes_loop(vols, criterion))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_vectorised_equals_reference_with_lesion_maps(seed):
    vols = random_volume_records(seed, num=15, with_maps=True)
    result = evaluate_volumes(vols, 'centre_in_mask')
    assert result['num_detected_lesions'] > 0
    assert_same_as_reference(result, evaluate_volumes_loop(vols, 'centre_in_mask'))


def test_reference_lookup_equals_lesion_map_on_random_points():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, (5, 6, 7)).astype(np.uint16)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    lmap = LesionMap(labels, (2., .8, 1.1), positions=[0., 2., 4.5, 6., 8.], origin=[3., -2., 7.], direction=q)
    pts = rng.uniform(-15, 20, (300, 3))
    labels_fast = lmap.label_at(pts).tolist()
    assert labels_fast == [label_at_loop(list(p), lmap) for p in pts]
    assert 0 < sum(v > 0 for v in labels_fast) < 300
