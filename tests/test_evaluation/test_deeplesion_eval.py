"""The evaluation report: sub-groups (hand-computed), mAP@0.5, the text table, JSON and the plot."""
import json

import numpy as np
import pytest

from mmdet3dctx.evaluation.deeplesion_eval import (dump_report, evaluate_deeplesion, format_froc_table, headline,
                                                   subgroup_masks)
from mmdet3dctx.evaluation.froc_plot import plot_froc


def walk_records():
    """The two-image walk of test_froc (ranks: A hit 1st, C 4th, B 7th, D never; FP/img after each
    detection 0, .5, 1, 1, 1, 1.5, 1.5, 2), with lesion attributes.

    lesion  image  type        long diameter  slice interval
    A       0      4 liver      8 mm          1.25 mm
    B       0      5 lung      20 mm          1.25 mm
    C       1      4 liver     35 mm          5 mm
    D       1      1 bone      10 mm          5 mm
    """
    a, b, c, d = [0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9], [50, 50, 59, 59]
    far = [200, 200, 209, 209]
    return [
        dict(file_name='000001_01_01_010.png', dets=np.array([a + [.9], far + [.7], far + [.4], b + [.3]]),
             gts=np.array([a, b]), lesion_types=[4, 5], long_diameters_mm=[8., 20.], slice_interval=1.25),
        dict(file_name='000002_01_01_020.png',
             dets=np.array([far + [.8], c + [.6], [1, 1, 9, 9, .5], far + [.2]]), gts=np.array([c, d]),
             lesion_types=[4, 1], long_diameters_mm=[35., 10.], slice_interval=5.0),
    ]


def test_overall_table():
    rep = evaluate_deeplesion(walk_records(), compute_map=False)
    assert rep['fp_levels'] == [0.5, 1, 2, 4, 8, 16]
    assert rep['sensitivity'] == [.25, .5, .75, .75, .75, .75]
    assert rep['avg_0.5_4'] == headline(rep) == 0.5625
    assert (rep['num_images'], rep['num_lesions'], rep['num_detections']) == (2, 4, 8)
    assert rep['mAP50'] is None


def test_subgroups_keep_ranking_and_fps_of_all_detections():
    sub = evaluate_deeplesion(walk_records(), compute_map=False)['subgroups']
    types = sub['lesion_type']
    assert types['liver'] == dict(num_lesions=2, sensitivity=[.5, 1, 1, 1, 1, 1], avg=.875)
    assert types['lung'] == dict(num_lesions=1, sensitivity=[0, 0, 1, 1, 1, 1], avg=.5)
    assert types['bone'] == dict(num_lesions=1, sensitivity=[0] * 6, avg=0)
    assert types['kidney'] == dict(num_lesions=0, sensitivity=None, avg=None)
    assert list(types) == ['bone', 'abdomen', 'mediastinum', 'liver', 'lung', 'kidney', 'soft tissue', 'pelvis']
    diam = sub['diameter']
    assert diam['<10mm'] == dict(num_lesions=1, sensitivity=[1] * 6, avg=1)
    assert diam['10-30mm'] == dict(num_lesions=2, sensitivity=[0, 0, .5, .5, .5, .5], avg=.25)
    assert diam['>30mm'] == dict(num_lesions=1, sensitivity=[0, 1, 1, 1, 1, 1], avg=.75)
    interval = sub['slice_interval']
    assert interval['<=2mm'] == dict(num_lesions=2, sensitivity=[.5, .5, 1, 1, 1, 1], avg=.75)
    assert interval['5mm'] == dict(num_lesions=2, sensitivity=[0, .5, .5, .5, .5, .5], avg=.375)


def test_subgroup_boundaries_and_availability():
    recs = [dict(file_name='x', dets=np.zeros((0, 5)), gts=np.zeros((5, 4)), lesion_types=[-1, -1, 8, 2, 3],
                 long_diameters_mm=[9.99, 10., 30., 30.01, np.nan], slice_interval=2.0)]
    masks = subgroup_masks(recs)
    assert masks['diameter']['<10mm'].tolist() == [True, False, False, False, False]
    assert masks['diameter']['10-30mm'].tolist() == [False, True, True, False, False]
    assert masks['diameter']['>30mm'].tolist() == [False, False, False, True, False]
    assert masks['slice_interval']['<=2mm'].all() and not masks['slice_interval']['5mm'].any()
    assert masks['lesion_type']['pelvis'].tolist() == [False, False, True, False, False]
    # 2.5 mm is in neither interval group.
    recs[0]['slice_interval'] = 2.5
    assert not subgroup_masks(recs)['slice_interval']['<=2mm'].any()
    # Lesion types are a test-split analysis: absent if an image is known to be from train/val.
    recs[0]['split'] = 2
    assert 'lesion_type' not in subgroup_masks(recs)
    recs[0]['split'] = 3
    assert 'lesion_type' in subgroup_masks(recs)
    # Without attributes there are no sub-groups; unknown analyses are an error.
    bare = [dict(file_name='x', dets=np.zeros((0, 5)), gts=np.zeros((1, 4)))]
    assert subgroup_masks(bare) == {}
    with pytest.raises(ValueError, match='unknown sub-group'):
        subgroup_masks(bare, ['organ'])
    with pytest.raises(ValueError, match='lesion_types has 1 values for 5 lesions'):
        subgroup_masks([dict(recs[0], lesion_types=[1])])


def test_options_are_passed_through():
    rep = evaluate_deeplesion(walk_records(), fp_levels=[1, 3], avg_levels=[1, 2], iou_thr=0.95,
                              subgroups=(), compute_map=False)
    # At IoU 0.95 the re-hit box is an FP: FP/img after each detection 0, .5, 1, 1, 1.5, 2, 2, 2.5.
    assert rep['sensitivity'] == [.5, .75]
    assert rep['avg_1_2'] == (.5 + .75) / 2 and rep['subgroups'] == {}
    assert evaluate_deeplesion(walk_records(), criterion='iobb', plus_one=False,
                               compute_map=False)['criterion'] == 'iobb'


def test_table_json_and_plot(tmp_path):
    rep = evaluate_deeplesion(walk_records(), compute_map=False)
    text = format_froc_table({'run-a': rep, 'run-b': rep})
    lines = text.splitlines()
    assert lines[1].split() == ['FPs', 'per', 'image', '0.5', '1', '2', '4', '8', '16', 'avg[0.5-4]', 'mAP@0.5']
    assert lines[2].split() == ['run-a', '25.00', '50.00', '75.00', '75.00', '75.00', '75.00', '56.25', '-']
    rows = {line.split('  ')[0].strip(): line.split() for line in lines[4:]}
    assert rows['lesion_type: liver'][-8:] == ['2', '50.00', '100.00', '100.00', '100.00', '100.00', '100.00',
                                               '87.50']
    assert rows['lesion_type: kidney'][-8:] == ['0'] + ['-'] * 7
    assert rows['slice_interval: 5mm'][-8:] == ['2', '0.00', '50.00', '50.00', '50.00', '50.00', '50.00',
                                                '37.50']
    dump_report(rep, str(tmp_path / 'sub' / 'froc.json'))
    loaded = json.loads((tmp_path / 'sub' / 'froc.json').read_text())
    assert loaded['sensitivity'] == rep['sensitivity'] and loaded['avg_0.5_4'] == 0.5625
    # The stored curve gives the protocol's values at its points.
    curve = dict(zip(np.round(loaded['curve']['fp_per_image'], 12), loaded['curve']['sensitivity']))
    assert min(curve.values()) == .25 and max(curve.values()) == .75
    out = plot_froc({'a': rep, 'b': rep}, str(tmp_path / 'froc.png'))
    assert (tmp_path / 'froc.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.endswith('froc.png')


def test_no_images_is_an_error():
    with pytest.raises(ValueError, match='no images'):
        evaluate_deeplesion([])


def test_map50_matches_the_coco_definition():
    from mmdet3dctx.evaluation.coco_map import box_map50
    gts = [np.array([[0., 0., 10., 10.]]), np.array([[20., 20., 40., 40.]])]
    perfect = [np.array([[0., 0., 10., 10., .9]]), np.array([[20., 20., 40., 40., .8]])]
    assert box_map50(perfect, gts) == 1.0
    # Ranked TP (.9), FP (.8), TP (.7): recall .5 at precision 1, recall 1 at precision 2/3.
    dets = [np.array([[0., 0., 10., 10., .9], [50., 50., 60., 60., .8]]), np.array([[20., 20., 40., 40., .7]])]
    expected = np.mean([1. if r <= .5 else 2 / 3 for r in np.linspace(0, 1, 101)])
    assert box_map50(dets, gts) == pytest.approx(expected, abs=1e-12)
    # Continuous coordinates: [0, 0, 10, 20] against [0, 0, 10, 10] has IoU 100 / 200 = 0.5, a hit
    # (pycocotools divides by tp + fp + eps, hence 1 - 1e-16 for a single detection).
    assert box_map50([np.array([[0., 0., 10., 20., .9]])], [gts[0]]) == pytest.approx(1.0, abs=1e-12)
    assert box_map50([np.array([[0., 0., 10., 21., .9]])], [gts[0]]) == 0.0
    assert box_map50([np.zeros((0, 5)), np.zeros((0, 5))], gts) == 0.0
    with pytest.raises(ValueError, match='no lesions'):
        box_map50([perfect[0]], [np.zeros((0, 4))])
    rep = evaluate_deeplesion(walk_records())
    assert 0 < rep['mAP50'] <= 1


def test_report_records_the_score_threshold_of_every_fp_level():
    rep = evaluate_deeplesion(walk_records(), compute_map=False)
    assert rep['score_thresholds'] == [.8, .5, .2, .2, .2, .2]
    assert [p['sensitivity'] for p in rep['operating_points']] == [.25, .5, .75, .75, .75, .75]
    assert [p['fp_per_image'] for p in rep['operating_points']] == [.5, 1., 2., 2., 2., 2.]
    assert json.loads(json.dumps(rep))['score_thresholds'] == rep['score_thresholds']


def test_make_record_drops_noisy_and_ignored_lesions():
    from mmdet3dctx.evaluation.deeplesion_eval import make_record
    rec = make_record('000001_01_01_010.png', np.zeros((0, 5)),
                      [dict(bbox=[0, 0, 9, 9], lesion_type=4, diameters_mm=(8., 4.)), dict(bbox=[1, 1, 5, 5]),
                       dict(bbox=[2, 2, 8, 8], noisy=True), dict(bbox=[3, 3, 8, 8], ignore_flag=1)],
                      slice_interval=1.25, split=3)
    assert rec['gts'].tolist() == [[0, 0, 9, 9], [1, 1, 5, 5]]
    assert rec['lesion_types'].tolist() == [4, -1]
    assert rec['long_diameters_mm'][0] == 8. and np.isnan(rec['long_diameters_mm'][1])
    assert rec['dets'].shape == (0, 5) and rec['slice_interval'] == 1.25 and rec['split'] == 3
    assert np.isnan(make_record('x.png', [], [])['slice_interval'])
