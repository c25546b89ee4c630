"""The DeepLesion FROC protocol: hand-computed cases for every rule, options, and agreement with a loop."""
import numpy as np
import pytest
from mmdet3dctx.testing.froc_reference import froc_curve_loop, interp_loop, synthetic_case

from mmdet3dctx.evaluation.froc import (box_overlaps, froc_curve, interp_sensitivity, match_detections,
                                        sensitivity_at_fp)

E = np.zeros((0, 5))  # an image without detections
NO_LESION = np.zeros((0, 4))


def d(*rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def g(*rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def curve(dets, gts, **kw):
    sens, fp = froc_curve(dets, gts, **kw)
    return sens.tolist(), fp.tolist()


def test_multi_hit_one_detection_hits_every_lesion_it_overlaps():
    # IoU with the first lesion 1, with the second 100/110: one detection hits both.
    dets = [d([0, 0, 9, 9, .9])]
    gts = [g([0, 0, 9, 9], [0, 0, 9, 10], [60, 60, 69, 69])]
    assert curve(dets, gts) == ([2 / 3], [0.0])


def test_duplicate_is_neither_tp_nor_fp():
    dets = [d([0, 0, 9, 9, .9], [1, 1, 9, 9, .8], [40, 40, 49, 49, .7])]
    gts = [g([0, 0, 9, 9])]
    assert curve(dets, gts) == ([1.0, 1.0, 1.0], [0.0, 0.0, 1.0])


def test_detection_on_image_without_lesion_is_fp():
    # The box would match image 0's lesion, but it is on image 1, which has none.
    dets = [E, d([0, 0, 9, 9, .9])]
    gts = [g([0, 0, 9, 9]), NO_LESION]
    assert curve(dets, gts) == ([0.0], [0.5])


def test_threshold_is_inclusive():
    # Intersection 100, union 200: IoU exactly 0.5 is a hit; 100/202 is not.
    assert curve([d([0, 0, 9, 9, .9])], [g([0, 0, 9, 19])]) == ([1.0], [0.0])
    assert curve([d([0, 0, 9, 9, .9])], [g([0, 0, 9, 20])]) == ([0.0], [1.0])


def test_fp_status_uses_the_best_overlap_over_the_image_lesions():
    dets = [d([0, 0, 9, 9, .9])]
    gts = [g([100, 100, 109, 109], [0, 0, 9, 9])]
    assert curve(dets, gts) == ([0.5], [0.0])


def _walk_example():
    """Two images, four lesions, eight ranked detections (scores .9 ... .2).

    rank det image  outcome     hits  FPs  -> (FP/img, sens)
    1    .9  0      hits A       1     0      (0.0, .25)
    2    .8  1      FP           1     1      (0.5, .25)
    3    .7  0      FP           1     2      (1.0, .25)
    4    .6  1      hits C       2     2      (1.0, .50)
    5    .5  1      re-hits C    2     2      (1.0, .50)
    6    .4  0      FP           2     3      (1.5, .50)
    7    .3  0      hits B       3     3      (1.5, .75)
    8    .2  1      FP           3     4      (2.0, .75)
    Lesion D (image 1) is never hit.
    """
    a, b, c, dd = [0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9], [50, 50, 59, 59]
    far = [200, 200, 209, 209]
    dets = [d(a + [.9], far + [.7], far + [.4], b + [.3]),
            d(far + [.8], c + [.6], [1, 1, 9, 9, .5], far + [.2])]
    gts = [g(a, b), g(c, dd)]
    return dets, gts


def test_walk_records_a_point_after_every_ranked_detection():
    dets, gts = _walk_example()
    assert curve(dets, gts) == ([.25, .25, .25, .5, .5, .5, .75, .75], [0., .5, 1., 1., 1., 1.5, 1.5, 2.])


def test_interpolation_at_exact_fp_levels_takes_the_last_point_with_that_count():
    dets, gts = _walk_example()
    # FP/img 1.0 is reached at ranks 3, 4 and 5 with sensitivity .25, .5, .5: the last one counts.
    # FP/img 1.5 at ranks 6 and 7 with .5 and .75: .75.
    res = sensitivity_at_fp(dets, gts, fp_levels=(0.5, 1, 1.5, 2))
    assert res.tolist() == [.25, .5, .75, .75]


def test_interpolation_between_points_and_before_the_first():
    dets, gts = _walk_example()
    # Between FP levels the curve only moves at FP detections, so values equal the previous point.
    assert sensitivity_at_fp(dets, gts, fp_levels=(0.25, 1.25, 1.75)).tolist() == [.25, .5, .75]
    # A curve starting with an FP: f below the first point takes the first point's sensitivity (0).
    dets2 = [d([50, 50, 59, 59, .9], [0, 0, 9, 9, .8]), E]
    gts2 = [g([0, 0, 9, 9]), NO_LESION]
    assert curve(dets2, gts2) == ([0.0, 1.0], [0.5, 0.5])
    assert sensitivity_at_fp(dets2, gts2, fp_levels=(0.25, 0.5)).tolist() == [0.0, 1.0]


def test_interpolation_is_linear_between_distinct_points():
    sens = np.array([0., .2, .6])
    fp = np.array([0., 1., 2.])
    assert interp_sensitivity(sens, fp, (0.5, 1.5)).tolist() == [.1, .4]


def test_beyond_the_curve_takes_the_final_sensitivity():
    dets, gts = _walk_example()
    res = sensitivity_at_fp(dets, gts)  # levels 0.5 ... 16, the curve ends at 2 FP/img
    assert res.tolist() == [.25, .5, .75, .75, .75, .75]
    # Even if the curve ends on re-hits/hits after the last FP.
    assert sensitivity_at_fp([d([50, 50, 59, 59, .9], [0, 0, 9, 9, .1])], [g([0, 0, 9, 9])],
                             fp_levels=(1, 4)).tolist() == [1.0, 1.0]


def test_ties_in_score_rank_later_input_first():
    # Equal scores: image 1's detection (a hit) is ranked before image 0's (an FP).
    dets = [d([50, 50, 59, 59, .5]), d([0, 0, 9, 9, .5])]
    gts = [NO_LESION, g([0, 0, 9, 9])]
    assert curve(dets, gts) == ([1.0, 1.0], [0.0, 0.5])
    m = match_detections(dets, gts)
    assert m.order.tolist() == [1, 0]


def test_iobb_criterion():
    # A small detection inside a large lesion: IoU 100/1600, intersection over the detected box 1.
    dets = [d([0, 0, 9, 9, .9])]
    gts = [g([0, 0, 39, 39])]
    assert curve(dets, gts) == ([0.0], [1.0])
    assert curve(dets, gts, criterion='iobb') == ([1.0], [0.0])
    with pytest.raises(ValueError, match='criterion'):
        froc_curve(dets, gts, criterion='dice')


def test_plus_one_convention():
    # +1 pixels: 3x3 boxes overlapping 2x3 -> 6 / 12 = 0.5, a hit. Continuous: 2 / 6, an FP.
    dets = [d([0, 0, 2, 2, .9])]
    gts = [g([1, 0, 3, 2])]
    assert box_overlaps(dets[0][:, :4], gts[0]).tolist() == [0.5]
    assert box_overlaps(dets[0][:, :4], gts[0], plus_one=False).tolist() == [1 / 3]
    assert curve(dets, gts) == ([1.0], [0.0])
    assert curve(dets, gts, plus_one=False) == ([0.0], [1.0])


def test_custom_fp_levels_and_iou_thr():
    dets, gts = _walk_example()
    assert sensitivity_at_fp(dets, gts, fp_levels=[3]).tolist() == [.75]
    # At IoU 0.95 the re-hit box [1, 1, 9, 9] (IoU .81) is an FP instead of a duplicate.
    sens, fp = froc_curve(dets, gts, iou_thr=0.95)
    assert fp.tolist() == [0., .5, 1., 1., 1.5, 2., 2., 2.5]


def test_lesion_mask_keeps_ranking_and_fps_of_all_detections():
    dets, gts = _walk_example()
    # Only lesions B and D: B is hit at rank 7, D never.
    sens, fp = froc_curve(dets, gts, lesion_mask=[np.array([False, True]), np.array([False, True])])
    assert sens.tolist() == [0., 0., 0., 0., 0., 0., .5, .5]
    assert fp.tolist() == [0., .5, 1., 1., 1., 1.5, 1.5, 2.]
    flat = np.array([False, True, False, True])
    assert froc_curve(dets, gts, lesion_mask=flat)[0].tolist() == sens.tolist()
    with pytest.raises(ValueError, match='no lesions'):
        froc_curve(dets, gts, lesion_mask=np.zeros(4, bool))
    with pytest.raises(ValueError, match='entries'):
        froc_curve(dets, gts, lesion_mask=np.zeros(3, bool))


def test_empty_inputs_are_clear():
    # No detection at all: an empty curve and sensitivity 0 at every level, never NaN.
    sens, fp = froc_curve([E, E], [g([0, 0, 9, 9]), NO_LESION])
    assert sens.shape == (0, ) and fp.shape == (0, )
    assert sensitivity_at_fp([E, E], [g([0, 0, 9, 9]), NO_LESION]).tolist() == [0.] * 6
    # Empty arrays of other shapes are accepted as "nothing".
    assert sensitivity_at_fp([np.zeros(0)], [g([0, 0, 9, 9])], fp_levels=[1]).tolist() == [0.]
    # No lesion at all: sensitivity undefined.
    with pytest.raises(ValueError, match='no lesions'):
        froc_curve([d([0, 0, 9, 9, .9])], [NO_LESION])
    with pytest.raises(ValueError, match='at least one image'):
        froc_curve([], [])


def test_malformed_inputs_raise():
    with pytest.raises(ValueError, match='one entry per image'):
        froc_curve([E], [NO_LESION, NO_LESION])
    with pytest.raises(ValueError, match=r'dets\[0\] must be an \(N, 5\) array'):
        froc_curve([np.zeros((2, 4))], [g([0, 0, 9, 9])])
    with pytest.raises(ValueError, match=r'gts\[1\] must be an \(N, 4\) array'):
        froc_curve([E, E], [NO_LESION, np.zeros((1, 5))])
    with pytest.raises(ValueError, match='NaN'):
        froc_curve([d([0, 0, 9, 9, np.nan])], [g([0, 0, 9, 9])])


def _random_case(rng, num_images):
    """Boxes on a coarse grid so exact IoU ties with 0.5 and score ties are frequent."""
    dets, gts = [], []
    for _ in range(num_images):
        m = rng.integers(0, 4)
        n = rng.integers(0, 7)
        xy = rng.integers(0, 6, size=(m, 2)) * 2
        wh = rng.integers(1, 6, size=(m, 2)) * 2
        gts.append(np.concatenate([xy, xy + wh], axis=1).astype(np.float64))
        xy = rng.integers(0, 6, size=(n, 2)) * 2
        wh = rng.integers(1, 6, size=(n, 2)) * 2
        score = rng.integers(0, 5, size=(n, 1)) / 4
        dets.append(np.concatenate([xy, xy + wh, score], axis=1).astype(np.float64))
    return dets, gts


@pytest.mark.parametrize('seed', range(40))
@pytest.mark.parametrize('options', [{}, dict(criterion='iobb'), dict(plus_one=False),
                                     dict(iou_thr=0.3, plus_one=False, criterion='iobb')])
def test_agrees_with_the_per_detection_loop(seed, options):
    rng = np.random.default_rng(seed)
    dets, gts = _random_case(rng, int(rng.integers(1, 12)))
    if sum(len(x) for x in gts) == 0:
        gts[0] = g([0, 0, 9, 9])
    levels = (0.125, 0.25, 0.5, 1, 1.5, 2, 4, 8, 16)
    sens_ref, fp_ref = froc_curve_loop(dets, gts, **options)
    sens, fp = froc_curve(dets, gts, **options)
    assert sens.tolist() == sens_ref and fp.tolist() == fp_ref
    assert sensitivity_at_fp(dets, gts, levels, **options).tolist() == interp_loop(sens_ref, fp_ref, levels)
    # A random sub-group of lesions.
    mask = [rng.random(len(x)) < 0.5 for x in gts]
    if sum(m.sum() for m in mask):
        sens_ref, fp_ref = froc_curve_loop(dets, gts, lesion_mask=mask, **options)
        sens, fp = froc_curve(dets, gts, lesion_mask=mask, **options)
        assert sens.tolist() == sens_ref and fp.tolist() == fp_ref


def test_agrees_with_the_loop_on_a_large_realistic_case():
    dets, gts = synthetic_case(300, seed=0)
    sens_ref, fp_ref = froc_curve_loop(dets, gts)
    sens, fp = froc_curve(dets, gts)
    assert sens.tolist() == sens_ref and fp.tolist() == fp_ref
    levels = (0.5, 1, 2, 4, 8, 16)
    assert sensitivity_at_fp(dets, gts).tolist() == interp_loop(sens_ref, fp_ref, levels)


@pytest.mark.slow
def test_identical_to_the_loop_at_deeplesion_scale():
    """Bit-equal curves at the test split's size; the speed-up is measured by benchmarks/froc.py, not here."""
    dets, gts = synthetic_case(3000, seed=1)
    sens, fp = froc_curve(dets, gts)
    sens_ref, fp_ref = froc_curve_loop(dets, gts)
    assert sens.tolist() == sens_ref and fp.tolist() == fp_ref


def test_operating_points_on_the_walk():
    # FP/img after each ranked detection 0 .5 1 1 1 1.5 1.5 2, scores .9 ... .2, all distinct.
    dets, gts = _walk_example()
    points = match_detections(dets, gts).operating_points((0.5, 1, 1.5, 2, 4))
    assert [p['score_thr'] for p in points] == [.8, .5, .3, .2, .2]
    assert [p['fp_per_image'] for p in points] == [.5, 1., 1.5, 2., 2.]
    assert [p['sensitivity'] for p in points] == [.25, .5, .75, .75, .75]
    assert [p['num_detections'] for p in points] == [2, 5, 7, 8, 8]
    # keeping score >= threshold reproduces the FP count of the operating point
    for p in points:
        kept = [a[a[:, 4] >= p['score_thr']] for a in dets]
        assert froc_curve(kept, gts)[1][-1] == p['fp_per_image']


def test_operating_points_keep_tied_scores_together_and_none_when_unreachable():
    # one image: a hit at .9, then two FPs tied at .8, then a hit at .7
    dets = [d([0, 0, 9, 9, .9], [50, 50, 59, 59, .8], [70, 70, 79, 79, .8], [100, 100, 109, 109, .7])]
    gts = [g([0, 0, 9, 9], [100, 100, 109, 109])]
    points = match_detections(dets, gts).operating_points((0.5, 1, 2, 3))
    # 1 FP/img cannot be reached exactly: .8 keeps both tied FPs (2), so .9 (0 FPs) is the threshold
    assert [p['score_thr'] for p in points] == [.9, .9, .7, .7]
    assert [p['fp_per_image'] for p in points] == [0., 0., 2., 2.]
    assert [p['sensitivity'] for p in points] == [.5, .5, 1., 1.]
    # the top-scored detection is an FP on the only image: nothing stays at or below 0.5 FPs per image
    dets = [d([50, 50, 59, 59, .9], [0, 0, 9, 9, .8])]
    p05, p1 = match_detections(dets, [g([0, 0, 9, 9])]).operating_points((0.5, 1))
    assert p05 == dict(fp_level=.5, score_thr=None, fp_per_image=None, sensitivity=None, num_detections=0)
    assert (p1['score_thr'], p1['sensitivity']) == (.8, 1.)
    # no detection at all
    assert match_detections([E], [g([0, 0, 9, 9])]).operating_points((1, ))[0]['score_thr'] is None
