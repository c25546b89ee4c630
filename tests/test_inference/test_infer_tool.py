"""tools/infer.py end to end on a synthetic DICOM series with a randomly initialised demo model (the pipeline,
batching, linking and writing; what the model finds is tested with the trained demo model elsewhere)."""
import csv
import json
import os.path as osp
import sys

import numpy as np
import pytest

pytest.importorskip('mmdet')
from tests.test_io.test_dicom import write_series  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')
sys.path.insert(0, osp.join(ROOT, 'tools'))
import infer  # noqa: E402


@pytest.fixture(scope='module')
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp('study') / 'series'
    hu = np.random.default_rng(0).normal(0, 40, size=(5, 64, 64)).astype(np.float32)
    hu[1:4, 20:30, 20:30] += 200  # a bright blob over three slices
    write_series(str(folder), hu, np.arange(5) * 2.5, order=[4, 2, 0, 1, 3])
    return str(folder)


def test_infer_writes_findings(series, tmp_path):
    out = tmp_path / 'out'
    findings = infer.main([CONFIG, '', series, '--out-dir', str(out), '--score-thr', '0.0', '--batch', '2',
                           '--slices', '1:4'])
    report = json.loads((out / 'findings.json').read_text())
    assert report['study']['shape'] == [5, 64, 64] and report['study']['spacing_mm'][0] == pytest.approx(2.5)
    assert report['num_findings'] == len(findings) > 0
    scores = [f['score'] for f in report['findings']]
    assert scores == sorted(scores, reverse=True)
    for f in report['findings']:
        assert 1 <= f['slice_range'][0] <= f['key_slice'] <= f['slice_range'][1] <= 3
        assert osp.isfile(out / f['overlay'])
    rows = list(csv.DictReader(open(out / 'findings.csv')))
    assert len(rows) == len(findings) and float(rows[0]['score']) == pytest.approx(scores[0], abs=1e-5)
    with pytest.raises(SystemExit, match='already holds findings'):
        infer.main([CONFIG, '', series, '--out-dir', str(out)])


def test_infer_pipeline_matches_training_loader_arguments():
    from mmengine.config import Config
    from mmdet3dctx.inference import inference_pipeline
    cfg = Config.fromfile(CONFIG)
    steps = inference_pipeline(cfg.test_dataloader.dataset.pipeline)
    load = [s for s in cfg.test_dataloader.dataset.pipeline if s['type'] == 'LoadDeepLesionSlices'][0]
    assert steps[0] == dict(type='LoadCTVolumeSlices', num_slices=load['num_slices'],
                            slice_interval=load['slice_interval'], window=load['window'], out_range=load['out_range'])
    assert 'LoadAnnotations' not in [s['type'] for s in steps]
    with pytest.raises(ValueError, match='no LoadDeepLesionSlices'):
        inference_pipeline([dict(type='LoadImageFromFile')])


def test_infer_bad_arguments(series, tmp_path):
    with pytest.raises(SystemExit, match='--slices 3:9 outside the volume of 5'):
        infer.main([CONFIG, '', series, '--out-dir', str(tmp_path / 'o'), '--slices', '3:9'])
    with pytest.raises(SystemExit, match='neither a folder nor'):
        infer.main([CONFIG, '', str(tmp_path / 'missing.dcm'), '--out-dir', str(tmp_path / 'o')])
