"""tools/eval_volumes.py on a small prepared volume dataset written in the test: the table, the JSON it writes,
its options, and bad input as the command line reports it (the readers themselves:
tests/test_evaluation/test_volume_dataset_eval.py)."""
import json
import os

import pytest
from mmdet3dctx.testing.volume_index import write_example_evaluation, write_findings_json

from mmdet3dctx.evaluation.operating_point import resolve_score_threshold


@pytest.fixture
def tool(load_tool):
    return load_tool('eval_volumes')


@pytest.fixture
def example(tmp_path):
    """The hand-worked dataset of ``write_example_evaluation``: sensitivity 1/2 at 1/8 and 1/4 FPs per volume, 1
    from 1/2 on, CPM 6/7, by every criterion."""
    return write_example_evaluation(str(tmp_path))


def test_prints_the_table_and_writes_json(tool, example, tmp_path, capsys):
    data_root, findings = example
    out = tmp_path / 'out' / 'volume_froc.json'
    assert tool.main(['--findings', findings, '--data-root', data_root, '--split', 'test', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith('3D FROC per volume: 3 volumes (1 lesion-free), 2 lesions, 5 findings')
    assert lines[2].split()[4:] == ['0.125', '0.25', '0.5', '1', '2', '4', '8', 'CPM']
    assert lines[3].split() == ['all', 'lesions', '2', '50.00', '50.00'] + ['100.00'] * 5 + ['85.71']
    assert lines[4].split()[:3] == ['<10mm', '2', '50.00']
    assert f'wrote {out}' in text
    result = json.loads(out.read_text())
    assert result['sensitivity'] == [.5, .5, 1, 1, 1, 1, 1] and result['cpm'] == pytest.approx(6 / 7)
    assert result['criterion'] == 'centre' and result['split'] == 'test'
    assert result['score_thresholds'] == [.9, .9, .5, .3, .3, .3, .3]
    assert os.listdir(out.parent) == ['volume_froc.json']
    # tools/infer.py --score-thr FILE:FP reads the thresholds as from a 2D froc.json
    assert resolve_score_threshold(f'{out}:1') == .3


@pytest.mark.parametrize('criterion', ['centre_in_mask', 'iou'])
def test_other_criteria(tool, example, tmp_path, criterion):
    data_root, findings = example
    out = tmp_path / 'r.json'
    tool.main(['--findings', findings, '--data-root', data_root, '--criterion', criterion, '--out', str(out)])
    result = json.loads(out.read_text())
    assert result['criterion'] == criterion and result['cpm'] == pytest.approx(6 / 7)
    assert result['iou_thr'] == (0.1 if criterion == 'iou' else None)


def test_iou_threshold_and_levels(tool, example, tmp_path):
    data_root, findings = example
    out = tmp_path / 'r.json'
    # At IoU >= 0.5 the duplicate (IoU 0.32) becomes a FP: FPs per volume 0, 1/3, 1/3, 2/3, 1 after each finding;
    # .3 is the lowest threshold within 1 FP per volume.
    tool.main(['--findings', findings, '--data-root', data_root, '--criterion', 'iou', '--iou-thr', '0.5',
               '--fp-levels', '0.5', '1', '--diameter-bins', '0', '6', '20', '--out', str(out)])
    result = json.loads(out.read_text())
    assert result['fp_levels'] == [.5, 1.] and result['sensitivity'] == [1., 1.]
    assert result['num_false_positives'] == 3 and result['num_duplicate_findings'] == 0
    assert result['score_thresholds'] == [.5, .3]
    assert {k: v['num_lesions'] for k, v in result['subgroups'].items()} == {'<6mm': 1, '6-20mm': 1}


def test_refuses_to_overwrite(tool, example, tmp_path, capsys):
    data_root, findings = example
    out = tmp_path / 'r.json'
    out.write_text('mine')
    with pytest.raises(SystemExit, match='exists.*--overwrite'):
        tool.main(['--findings', findings, '--data-root', data_root, '--out', str(out)])
    assert out.read_text() == 'mine'
    tool.main(['--findings', findings, '--data-root', data_root, '--out', str(out), '--overwrite'])
    assert json.loads(out.read_text())['num_volumes'] == 3


def test_missing_case(tool, example, capsys):
    data_root, findings = example
    os.remove(os.path.join(findings, 'p3', 'findings.json'))
    with pytest.raises(SystemExit, match=r'error: .*no findings file for 1 of the 3 case\(s\).*: p3'):
        tool.main(['--findings', findings, '--data-root', data_root])
    assert tool.main(['--findings', findings, '--data-root', data_root, '--missing-as-empty']) == 0
    assert '1 case(s) without a findings file' in capsys.readouterr().out


@pytest.mark.parametrize('text, message', [
    ('{"findings": [{"id": 1, "score": 0.9, "cen', r'p2.json \(case p2\): not valid JSON'),
    ('{"findings": [{"id": 1, "score": NaN, "centre_lps_mm": [1, 2, 3], "extent_lps_mm": {"min": [0, 0, 0], '
     '"max": [1, 1, 1]}}]}', r'p2.json \(case p2\): finding 0 \(id 1\): score is nan'),
    ('{"findings": [{"id": 2, "score": 0.9, "centre_lps_mm": ["1.0", 2, 3], "extent_lps_mm": {"min": [0, 0, 0],'
     ' "max": [1, 1, 1]}}]}', r"p2.json \(case p2\): finding 0 \(id 2\): centre_lps_mm\[0\] is text"),
])
def test_bad_findings_file(tool, example, text, message):
    data_root, findings = example
    with open(os.path.join(findings, 'p2.json'), 'w') as f:
        f.write(text)
    with pytest.raises(SystemExit, match=message):
        tool.main(['--findings', findings, '--data-root', data_root])


def test_unknown_case_warns(tool, example):
    data_root, findings = example
    write_findings_json(os.path.join(findings, 'elsewhere', 'findings.json'), [])
    with pytest.warns(UserWarning, match='not in .*volumes.json, ignored: elsewhere'):
        assert tool.main(['--findings', findings, '--data-root', data_root]) == 0


def test_not_a_prepared_dataset(tool, example, tmp_path):
    with pytest.raises(SystemExit, match='volumes.json not found'):
        tool.main(['--findings', example[1], '--data-root', str(tmp_path / 'none')])
