"""Reading a prepared volume index and findings.json files for the 3D evaluation: the lesions as the index gives
them, findings matched by case id, and every malformed input refused with the file and case named."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from mmdet3dctx.testing.volume_index import write_example_evaluation, write_findings_json

from mmdet3dctx.evaluation.volume_dataset_eval import (FindingsError, VolumeIndexError, case_lesion_map,
                                                       case_lesions, evaluate_findings, find_findings_files,
                                                       load_volume_index, load_volume_records, read_findings,
                                                       split_cases)


@pytest.fixture
def example(tmp_path):
    """The hand-worked dataset and findings of ``write_example_evaluation`` (see its docstring for the figures)."""
    data_root, findings = write_example_evaluation(str(tmp_path))
    return Path(data_root), Path(findings)


@pytest.fixture
def dataset(example):
    return example[0]


@pytest.fixture
def findings(example):
    return example[1]


def test_index_lesion_entries_follow_the_layout(dataset):
    index = load_volume_index(str(dataset))
    assert index['format'] == 'mmdet3dctx-volumes' and index['version'] == 1
    p1 = index['cases'][0]
    les = p1['lesions'][0]
    assert p1['shape'] == [10, 20, 20] and p1['cache'] == 'cache/p1.npy'
    assert les['box_voxels'] == [2, 5, 5, 5, 9, 9]  # half-open voxel ranges k, i, j
    # voxel-corner extent: columns 5-8 of 1 mm from x -10 cover [-5.5, -1.5); slices 2-4 of 2 mm from z 100 cover
    # [103, 109)
    assert les['box_lps_mm'] == dict(min=[-5.5, -5.5, 103.], max=[-1.5, -1.5, 109.])
    assert les['centre_lps_mm'] == [-3.5, -3.5, 106.]
    assert les['volume_mm3'] == 96.  # 48 voxels of 2 mm^3
    assert les['diameter_mm'] == pytest.approx((6 * 96 / math.pi) ** (1 / 3))  # sphere-equivalent
    # slices 2-4 have equal cross-sections: the key slice is the one nearest the centroid
    assert les['key_slice'] == 3 and les['slices']['3'] == [5, 5, 9, 9]
    assert index['cases'][1]['lesions'][0]['diameter_mm'] == 8.  # the table's diameter
    assert index['cases'][2]['lesions'] == []
    assert np.load(dataset / 'cache' / 'p1_lesions.npy', mmap_mode='r').dtype == np.uint16
    assert np.load(dataset / 'cache' / 'p1.npy').dtype == np.int16


def test_case_lesions_and_map(dataset):
    index = load_volume_index(str(dataset))
    rec = case_lesions(index['cases'][0])
    assert rec['lesion_centres'].tolist() == [[-3.5, -3.5, 106.]]
    assert rec['lesion_boxes'].tolist() == [[-5.5, -5.5, 103., -1.5, -1.5, 109.]]
    assert rec['lesion_ids'].tolist() == [1]
    lmap = case_lesion_map(index['cases'][0], str(dataset))
    assert isinstance(lmap.labels, np.memmap)
    assert lmap.label_at([[-3.5, -3.5, 106.], [-5.4, -5.4, 103.1], [-5.6, -3.5, 106.]]).tolist() == [1, 1, 0]
    assert [c['case_id'] for c in split_cases(index, 'test')] == ['p1', 'p2', 'p3']
    assert [c['case_id'] for c in split_cases(index, 'all')] == ['p1', 'p2', 'p3', 't1']


def test_findings_files_in_both_layouts(findings):
    files = find_findings_files(str(findings))
    assert sorted(files) == ['p1', 'p2', 'p3']
    assert files['p2'].endswith('p2.json') and files['p1'].endswith(os.path.join('p1', 'findings.json'))
    f = read_findings(files['p1'], 'p1')
    assert f['scores'].tolist() == [.9, .4] and f['centres'].shape == (2, 3) and f['boxes'].shape == (2, 6)


@pytest.mark.parametrize('criterion', ['centre', 'centre_in_mask', 'iou'])
def test_evaluate_findings_by_hand(dataset, findings, criterion):
    r = evaluate_findings(str(findings), str(dataset), 'test', criterion)
    assert (r['num_volumes'], r['num_lesion_free_volumes'], r['num_lesions'], r['num_findings']) == (3, 1, 2, 5)
    assert r['sensitivity'] == [.5, .5, 1., 1., 1., 1., 1.]
    assert r['cpm'] == pytest.approx(6 / 7)
    assert r['score_thresholds'] == [.9, .9, .5, .3, .3, .3, .3]
    assert (r['split'], r['missing_cases'], r['unknown_cases']) == ('test', [], [])
    # the .3 finding re-hits p2's lesion by every criterion: 3.5 mm from the centre (radius 4), in the mask, and
    # a box IoU of 313.6 / 972.8 with the lesion box [2, 2, 3, 10.8, 10.8, 13]
    assert (r['num_false_positives'], r['num_duplicate_findings']) == (2, 1)
    assert r['subgroups']['<10mm']['num_lesions'] == 2


def test_missing_case_is_an_error_unless_empty(dataset, findings):
    os.remove(findings / 'p3' / 'findings.json')
    with pytest.raises(FindingsError, match=r"no findings file for 1 of the 3 case\(s\) of the 'test' split: p3"):
        load_volume_records(str(dataset), 'test', str(findings))
    r = evaluate_findings(str(findings), str(dataset), 'test', missing_as_empty=True)
    assert r['missing_cases'] == ['p3'] and r['num_volumes'] == 3 and r['num_findings'] == 4
    # without p3's FP: .9 TP, .5 TP, .4 FP at 1/3 per volume: sensitivity 1 everywhere
    assert r['sensitivity'] == [1.] * 7


def test_unknown_case_warns_and_other_splits_are_ignored(dataset, findings):
    write_findings_json(str(findings / 'nobody.json'), [])
    write_findings_json(str(findings / 't1.json'), [dict(score=.99, centre=[0, 0, 0], box=[0] * 6)])
    with pytest.warns(UserWarning, match=r'1 findings file\(s\) for case ids not in .*volumes.json, ignored: nobody'):
        r = evaluate_findings(str(findings), str(dataset), 'test')
    assert r['unknown_cases'] == ['nobody'] and r['num_findings'] == 5


def test_two_files_for_one_case_are_refused(findings):
    write_findings_json(str(findings / 'p1.json'), [])
    with pytest.raises(FindingsError, match='case p1 has two findings files'):
        find_findings_files(str(findings))


@pytest.mark.parametrize('text, message', [
    ('{"findings": [{"id": 1, "score": 0.9, "centre_lps_mm": [1, 2', r'not valid JSON .*truncated'),
    ('{"findings": [{"id": 1, "score": NaN, "centre_lps_mm": [1, 2, 3], "extent_lps_mm": {"min": [0, 0, 0], '
     '"max": [1, 1, 1]}}]}', r'finding 0 \(id 1\): score is nan, not a finite number'),
    ('{"findings": [{"id": 4, "score": "0.9", "centre_lps_mm": [1, 2, 3], "extent_lps_mm": {"min": [0, 0, 0], '
     '"max": [1, 1, 1]}}]}', r"finding 0 \(id 4\): score is text \('0.9'\), not a number"),
    ('{"findings": [{"score": 0.9, "centre_lps_mm": [1, "two", 3], "extent_lps_mm": {"min": [0, 0, 0], '
     '"max": [1, 1, 1]}}]}', r"finding 0: centre_lps_mm\[1\] is text \('two'\)"),
    ('{"findings": [{"score": 0.9, "centre_lps_mm": [1, 2, 3], "extent_lps_mm": {"min": [0, 0, Infinity], '
     '"max": [1, 1, 1]}}]}', r'extent_lps_mm.min\[2\] is inf'),
    ('{"findings": [{"score": 0.9, "centre_lps_mm": [1, 2, 3]}]}', r"finding 0: missing 'extent_lps_mm'"),
    ('{"findings": [{"score": 0.9, "centre_lps_mm": [1, 2], "extent_lps_mm": {"min": [0, 0, 0], '
     '"max": [1, 1, 1]}}]}', r'centre_lps_mm must be a list of 3 numbers'),
    ('{"findings": [{"score": 0.9, "centre_lps_mm": [1, 2, 3], "extent_lps_mm": {"min": [2, 0, 0], '
     '"max": [1, 1, 1]}}]}', r'extent_lps_mm.min \[2.0, 0.0, 0.0\] exceeds max'),
    ('{"study": {}}', r'no "findings" list'),
])
def test_bad_findings_files_name_file_case_and_finding(tmp_path, text, message):
    path = tmp_path / 'c7' / 'findings.json'
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(FindingsError, match=message) as info:
        read_findings(str(path), 'c7')
    assert str(path) in str(info.value) and '(case c7)' in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_index_is_refused(tmp_path, dataset, findings):
    with pytest.raises(VolumeIndexError, match='volumes.json not found'):
        load_volume_index(str(tmp_path / 'nowhere'))
    path = dataset / 'volumes.json'
    index = json.loads(path.read_text())
    path.write_text(json.dumps(dict(index, format='something')))
    with pytest.raises(VolumeIndexError, match='not a prepared volume index'):
        load_volume_index(str(dataset))
    index['cases'][1]['lesions'][0]['diameter_mm'] = 'big'
    path.write_text(json.dumps(index))
    with pytest.raises(VolumeIndexError, match=r"case p2, lesion 0: diameter_mm is text \('big'\)"):
        evaluate_findings(str(findings), str(dataset))
    index['cases'][1]['lesions'][0]['diameter_mm'] = 8.
    index['cases'][0]['shape'] = [10, 20, 21]
    path.write_text(json.dumps(index))
    evaluate_findings(str(findings), str(dataset))  # the maps are read only for the mask criterion
    with pytest.raises(VolumeIndexError, match=r'case p1: lesion map .*p1_lesions.npy has shape \(10, 20, 20\)'):
        evaluate_findings(str(findings), str(dataset), criterion='centre_in_mask')
    with pytest.raises(VolumeIndexError, match="no case in the 'val' split"):
        evaluate_findings(str(findings), str(dataset), 'val')
