"""Score thresholds from a number or from a validation froc.json (``FILE:FP``), with clear errors."""
import json

import numpy as np
import pytest

from mmdet3dctx.evaluation.deeplesion_eval import dump_report, evaluate_deeplesion
from mmdet3dctx.evaluation.operating_point import ScoreThresholdError, resolve_score_threshold


@pytest.fixture
def froc_json(tmp_path):
    """A report of the two-image walk: thresholds .8 .5 .2 .2 .2 .2 at 0.5 ... 16 FPs per image, plus an image
    whose only detection, the top-scored one, is an FP (so 0.25 FPs per image cannot be reached)."""
    a, b, c, d = [0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9], [50, 50, 59, 59]
    far = [200, 200, 209, 209]
    records = [
        dict(file_name='a.png', dets=np.array([a + [.9], far + [.7], far + [.4], b + [.3]]), gts=np.array([a, b])),
        dict(file_name='b.png', dets=np.array([far + [.8], c + [.6], [1, 1, 9, 9, .5], far + [.2]]),
             gts=np.array([c, d])),
    ]
    path = str(tmp_path / 'froc.json')
    dump_report(evaluate_deeplesion(records, fp_levels=(0.5, 1, 2, 4, 8, 16), compute_map=False), path)
    unreachable = records + [dict(file_name='c.png', dets=np.array([far + [.95]]), gts=np.array([a]))]
    dump_report(evaluate_deeplesion(unreachable, fp_levels=(0.25, 1), compute_map=False),
                str(tmp_path / 'unreachable.json'))
    return path


def test_numbers_pass_through():
    assert resolve_score_threshold(0.3) == 0.3
    assert resolve_score_threshold('0.05') == 0.05
    assert resolve_score_threshold(' 1e-3 ') == 0.001


@pytest.mark.parametrize('level, thr', [('0.5', .8), ('1', .5), ('2', .2), ('4', .2), ('16.0', .2)])
def test_threshold_at_each_fp_level(froc_json, level, thr):
    assert resolve_score_threshold(f'{froc_json}:{level}') == thr


def test_clear_errors(froc_json, tmp_path):
    with pytest.raises(ScoreThresholdError, match=r'give a number .* or FROC_JSON:FP'):
        resolve_score_threshold('high')
    with pytest.raises(ScoreThresholdError, match=r"'four' after the last"):
        resolve_score_threshold(f'{froc_json}:four')
    with pytest.raises(ScoreThresholdError, match=r'nothere/froc.json not found'):
        resolve_score_threshold(f'{tmp_path}/nothere/froc.json:4')
    with pytest.raises(ScoreThresholdError, match=r'FP level 3 is not in the file; it has 0.5, 1, 2, 4, 8, 16'):
        resolve_score_threshold(f'{froc_json}:3')
    with pytest.raises(ScoreThresholdError, match=r'no score threshold keeps the false positives at or below 0.25'):
        resolve_score_threshold(f'{tmp_path}/unreachable.json:0.25')
    # three images: FPs at .95, .8 and .7 make 1 FP per image, and the next FP comes at .4
    assert resolve_score_threshold(f'{tmp_path}/unreachable.json:1') == .5
    old = json.load(open(froc_json))
    del old['score_thresholds']
    (tmp_path / 'old.json').write_text(json.dumps(old))
    with pytest.raises(ScoreThresholdError, match=r'old.json: has no score_thresholds .* evaluate the checkpoint'):
        resolve_score_threshold(f'{tmp_path}/old.json:4')
    (tmp_path / 'bad.json').write_text('{not json')
    with pytest.raises(ScoreThresholdError, match=r'bad.json: cannot read it as JSON'):
        resolve_score_threshold(f'{tmp_path}/bad.json:4')
    assert issubclass(ScoreThresholdError, ValueError)


def test_infer_score_thr_argument(froc_json, capsys, load_tool):
    infer = load_tool('infer')
    assert infer.parse_args(['cfg.py', 'x.pth', 'in']).score_thr == 0.5
    assert infer.parse_args(['cfg.py', 'x.pth', 'in', '--score-thr', f'{froc_json}:1']).score_thr == .5
    with pytest.raises(SystemExit):
        infer.parse_args(['cfg.py', 'x.pth', 'in', '--score-thr', f'{froc_json}:3'])
    assert 'argument --score-thr: ' in capsys.readouterr().err
