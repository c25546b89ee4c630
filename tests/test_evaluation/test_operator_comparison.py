"""The operator comparison's tables: mean ± sd over seeds, the difference to no fusion paired by seed, the
published figures beside them, on made-up froc.json files with known answers."""
import json

import pytest

from mmdet3dctx.evaluation.deeplesion_eval import dump_report
from mmdet3dctx.evaluation.operator_comparison import (format_comparison, load_report, mean_curves, mean_sd,
                                                       summarize)

LEVELS = [0.5, 1, 2, 4, 8, 16]


def fake_report(sens05, avg, rest=.9):
    """A froc.json with sensitivity ``sens05`` at 0.5 FPs, ``rest`` at the other levels and average ``avg``."""
    return {'fp_levels': LEVELS, 'sensitivity': [sens05] + [rest] * 5, 'avg_levels': [0.5, 1, 2, 4],
            'avg_0.5_4': avg, 'num_images': 10, 'num_lesions': 12,
            'curve': {'fp_per_image': [0.0625, 1., 16.16], 'sensitivity': [sens05 / 2, sens05, rest]}}


#: (operator, slices, seed) -> (sens@0.5, avg): no fusion .5/.6/.4 and .6/.7/.8, A3D .7/.75/.65 and .8/.85/.9
RUNS = {
    ('nofusion', 7, 0): (.5, .6), ('nofusion', 7, 1): (.6, .7), ('nofusion', 7, 2): (.4, .8),
    ('a3d', 7, 0): (.7, .8), ('a3d', 7, 1): (.75, .85), ('a3d', 7, 2): (.65, .9),
    ('a3d', 3, 0): (.6, .7),
}


@pytest.fixture
def reports(tmp_path):
    out = {}
    for (op, n, seed), (s05, avg) in RUNS.items():
        path = str(tmp_path / f'{op}_{n}slice' / f'seed{seed}' / 'test' / 'froc.json')
        dump_report(fake_report(s05, avg), path)
        out[(op, n, seed)] = load_report(path)
    return out


def test_mean_sd():
    assert mean_sd([.5, .75, 1.]) == (.75, .25)
    assert mean_sd([.3]) == (.3, None)
    with pytest.raises(ValueError):
        mean_sd([])


def test_summary_means_sds_and_paired_differences(reports):
    summary = summarize(reports)
    assert summary['columns'] == ['0.5', '1', '2', '4', '8', '16', 'avg[0.5-4]']
    assert [(r['operator'], r['num_slices']) for r in summary['rows']] == [('a3d', 3), ('nofusion', 7), ('a3d', 7)]
    a3d3, nofusion, a3d = summary['rows']
    assert nofusion['seeds'] == a3d['seeds'] == [0, 1, 2] and a3d3['seeds'] == [0]
    assert nofusion['mean'] == pytest.approx([.5] + [.9] * 5 + [.7], abs=1e-12)
    assert nofusion['sd'] == pytest.approx([.1] + [0.] * 5 + [.1], abs=1e-12)
    assert a3d['mean'] == pytest.approx([.7] + [.9] * 5 + [.85], abs=1e-12)
    assert a3d['sd'] == pytest.approx([.05] + [0.] * 5 + [.05], abs=1e-12)
    # per seed: A3D - no fusion = .2/.15/.25 at 0.5 FPs and .2/.15/.1 on average
    assert a3d['paired']['seeds'] == [0, 1, 2]
    assert a3d['paired']['mean'] == pytest.approx([.2] + [0.] * 5 + [.15], abs=1e-12)
    assert a3d['paired']['sd'] == pytest.approx([.05] + [0.] * 5 + [.05], abs=1e-12)
    assert nofusion['paired'] is None and a3d3['paired'] is None  # the baseline; no 3-slice baseline
    assert a3d3['mean'][0] == .6 and a3d3['sd'] == [None] * 7
    assert a3d['published'] == [80.27, None, None, None, None, None, 88.11]
    assert a3d3['published'] == [None] * 6 + [83.98] and nofusion['published'] == [None] * 7


def test_pairing_uses_only_common_seeds(reports):
    del reports[('nofusion', 7, 1)]
    a3d = summarize(reports)['rows'][-1]
    assert a3d['seeds'] == [0, 1, 2] and a3d['paired']['seeds'] == [0, 2]
    assert a3d['paired']['mean'][-1] == pytest.approx(.15, abs=1e-12)  # (.2 + .1) / 2
    assert a3d['paired']['sd'][-1] == pytest.approx(.0707106781186548, abs=1e-12)


def test_text_table(reports):
    text = format_comparison(summarize(reports), 'synthetic tree')
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith('A3D (3 seeds)'))
    assert row.split('  ')[-1].strip() == '85.00 ± 5.00' and '70.00 ± 5.00' in row and '90.00 ± 0.00' in row
    published = [line for line in lines if line.startswith('  published')]
    assert published[0].split() == ['published'] + ['n/a'] * 6 + ['83.98']  # 3 slices first
    assert published[1].split() == ['published', '80.27'] + ['n/a'] * 5 + ['88.11']
    nofusion = next(line for line in lines if line.startswith('No fusion (3 seeds)'))
    assert '50.00 ± 10.00' in nofusion and nofusion.endswith('70.00 ± 10.00')
    assert 'A3D (1 seed)' in text and '70.00' in next(line for line in lines if line.startswith('A3D (1 seed)'))
    diff = next(line for line in lines if line.startswith('A3D, 7 slices (3 seeds)'))
    assert diff.split('  ')[1:] and '+20.00 ± 5.00' in diff and diff.endswith('+15.00 ± 5.00')
    assert 'synthetic tree, 7 slices: sensitivity (%)' in text and 'mean ± sd over seeds' in text
    assert 'No published figure is recorded with the toolkit for: No fusion 7 slices' in text


def test_mean_curves(reports):
    curves = mean_curves(reports, points=5)
    assert list(curves) == ['A3D, 3 slices', 'No fusion, 7 slices', 'A3D, 7 slices']
    a3d = curves['A3D, 7 slices']
    assert a3d['avg_0.5_4'] == pytest.approx(.85, abs=1e-12) and a3d['sensitivity'][0] == pytest.approx(.7)
    grid = a3d['curve']['fp_per_image']
    assert grid[0] == pytest.approx(.0625) and grid[-1] == pytest.approx(16.16) and len(grid) == 5
    # each run's curve is .s/2, s, .9 at 0.0625, 1, 16.16: at the first point the mean of the halves
    assert a3d['curve']['sensitivity'][0] == pytest.approx(.35)
    assert a3d['curve']['sensitivity'][-1] == pytest.approx(.9)


def test_bad_reports_are_named(tmp_path, reports):
    path = tmp_path / 'froc.json'
    path.write_text(json.dumps({'fp_levels': LEVELS}))
    with pytest.raises(ValueError, match=r'froc.json: not a FROC report .*missing'):
        load_report(str(path))
    path.write_text('{')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_report(str(path))
    reports[('tsm', 7, 0)] = dict(fake_report(.5, .5), fp_levels=[1, 2, 4, 8, 16, 32])
    with pytest.raises(ValueError, match=r"run \('tsm', 7, 0\): FP levels"):
        summarize(reports)
