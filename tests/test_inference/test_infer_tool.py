"""tools/infer.py end to end on a DICOM study folder with a randomly initialised demo model (the intake, pipeline,
batching, linking and every result file; what the model finds is tested with the trained demo model elsewhere)."""
import csv
import json
import os
import os.path as osp

import numpy as np
import pytest

pytest.importorskip('mmdet')
from mmdet3dctx.io import read_dicom_series, read_nifti, write_ct_series  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')


@pytest.fixture(scope='module')
def infer(load_tool):
    """The module of tools/infer.py, whose ``main(argv)`` takes the command line a user types."""
    return load_tool('infer')


def anatomy():
    hu = np.random.default_rng(0).normal(0, 40, size=(5, 64, 64)).astype(np.float32)
    hu[1:4, 20:30, 20:30] += 200  # a bright blob over three slices
    return np.round(hu)  # whole HU, as DICOM stores them


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    """A study folder: the axial series in a sub-folder, a scout and a thick series beside it, a text file."""
    root = tmp_path_factory.mktemp('study') / 'STUDY'
    uid = write_ct_series(str(root / 'SE1'), anatomy(), np.arange(5) * 2.5, order=[4, 2, 0, 1, 3],
                          description='thin axial')
    write_ct_series(str(root / 'SE0'), anatomy()[:1], [0.0], image_type=('ORIGINAL', 'PRIMARY', 'LOCALIZER'),
                    description='scout')
    thick = write_ct_series(str(root / 'SE2'), anatomy()[::2], np.arange(3) * 5.0, description='thick axial')
    (root / 'DICOMDIR.txt').write_text('not dicom')
    return dict(root=str(root), uid=uid, thick=thick)


def test_list_series(study, capsys, infer):
    infer.main([study['root'], '--list-series'])
    out = capsys.readouterr().out
    assert f"* {study['uid']}  'thin axial'  CT  axial  5 slice(s)  spacing 2.5 x 0.7 x 0.6 mm" in out
    assert f"  {study['thick']}  'thick axial'  CT  axial  3 slice(s)" in out
    assert 'SE0/im000.dcm: localizer/scout image' in out and 'DICOMDIR.txt: not a DICOM file' in out
    with pytest.raises(SystemExit):
        infer.main([CONFIG, study['root'], '--list-series'])


def test_infer_writes_every_output(study, tmp_path, capsys, infer):
    hd = pytest.importorskip('highdicom')
    out = tmp_path / 'out'
    findings = infer.main([CONFIG, '', study['root'], '--out-dir', str(out), '--score-thr', '0.0', '--batch', '2',
                           '--slices', '1:4', '--cfg-options', 'model.test_cfg.rcnn.max_per_img=4',
                           'model.test_cfg.rcnn.mask_thr_binary=0.0'])
    printed = capsys.readouterr().out
    assert f"series {study['uid']} (thin axial), 3 slices to run" in printed
    assert 'slices/s' in printed and 'finding(s) in' in printed
    assert sorted(os.listdir(out)) == ['findings.csv', 'findings.json', 'findings.nii.gz', 'findings_seg.dcm',
                                       'findings_sr.dcm', 'report.html']
    report = json.loads((out / 'findings.json').read_text())
    assert report['study']['shape'] == [5, 64, 64] and report['study']['spacing_mm'][0] == pytest.approx(2.5)
    assert report['num_findings'] == len(findings) > 0 and report['score_thr'] == 0.0
    scores = [f['score'] for f in report['findings']]
    assert scores == sorted(scores, reverse=True)
    vol = read_dicom_series(study['root'])
    sops = [r['sop_instance_uid'] for r in vol.slice_refs]
    for f in report['findings']:
        assert 1 <= f['slice_range'][0] <= f['key_slice'] <= f['slice_range'][1] <= 3
        assert f['sop_instance_uid'] == sops[f['key_slice']]
    rows = list(csv.DictReader(open(out / 'findings.csv')))
    assert len(rows) == len(findings) and float(rows[0]['score']) == pytest.approx(scores[0], abs=1e-5)
    sr = hd.sr.srread(str(out / 'findings_sr.dcm'))
    assert len(sr.content.get_planar_roi_measurement_groups()) == len(findings)
    labels = read_nifti(str(out / 'findings.nii.gz'))
    np.testing.assert_allclose(labels.affine, vol.affine, atol=1e-5)
    assert set(np.unique(labels.hu)) <= set(range(len(findings) + 1)) and labels.hu[[0, 4]].max() == 0
    with pytest.raises(SystemExit, match='already holds findings'):
        infer.main([CONFIG, '', study['root'], '--out-dir', str(out)])
    infer.main([CONFIG, '', study['root'], '--out-dir', str(out), '--slices', '2:3', '--overwrite',
                '--series', study['thick'], '--cfg-options', 'model.test_cfg.rcnn.max_per_img=4',
                'model.test_cfg.rcnn.mask_thr_binary=0.0'])
    assert json.loads((out / 'findings.json').read_text())['study']['series_uid'] == study['thick']


def test_same_findings_whatever_the_patient_position_or_format(tmp_path):
    nib = pytest.importorskip('nibabel')
    from mmdet3dctx.inference import CTStudyDetector, finding_records
    hu = anatomy()
    z = np.arange(5) * 2.5
    write_ct_series(str(tmp_path / 'hfs'), hu, z)
    ipp = np.stack([np.full(5, -100.0), np.full(5, -90.0 + 63 * 0.7), z], 1)
    write_ct_series(str(tmp_path / 'ffp'), np.ascontiguousarray(hu[:, ::-1]), ipp, orientation=(1, 0, 0, 0, -1, 0),
                    order=[4, 3, 2, 1, 0], patient_position='FFP')
    affine = np.diag([0.6, 0.7, 2.5, 1.0])  # RAS voxels: i toward right, j toward anterior
    affine[:3, 3] = [100 - 63 * 0.6, 90 - 63 * 0.7, 0.0]
    nib.save(nib.Nifti1Image(np.ascontiguousarray(hu.transpose(2, 1, 0)[::-1, ::-1]), affine),
             str(tmp_path / 'ct.nii.gz'))
    from mmdet3dctx.apis import read_config
    cfg = read_config(CONFIG)
    cfg.model.test_cfg.rcnn.max_per_img = 5
    detector = CTStudyDetector(cfg, None, score_thr=0.0, batch_size=5)
    results = []
    for vol in (read_dicom_series(str(tmp_path / 'hfs')), read_dicom_series(str(tmp_path / 'ffp')),
                read_nifti(str(tmp_path / 'ct.nii.gz'))):
        np.testing.assert_array_equal(vol.hu, hu)
        recs = finding_records(detector(vol), vol)
        results.append([{k: r[k] for k in ('box', 'score', 'slice_range', 'centre_lps_mm', 'long_diameter_mm')}
                        for r in recs])
    assert results[0] and results[1] == results[0] and results[2] == results[0]


def test_infer_bad_arguments(study, tmp_path, infer):
    with pytest.raises(SystemExit, match='--slices 3:9 outside the volume of 5'):
        infer.main([CONFIG, '', study['root'], '--out-dir', str(tmp_path / 'o'), '--slices', '3:9'])
    with pytest.raises(SystemExit, match='missing.dcm: no such folder or file'):
        infer.main([CONFIG, '', str(tmp_path / 'missing.dcm'), '--out-dir', str(tmp_path / 'o')])
    (tmp_path / 'notct').mkdir()
    (tmp_path / 'notct' / 'a.txt').write_text('x')
    with pytest.raises(SystemExit, match=r'notct: no DICOM image files found\n  skipped .*a.txt: not a DICOM file'):
        infer.main([CONFIG, '', str(tmp_path / 'notct'), '--out-dir', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_infer_pipeline_matches_training_loader_arguments():
    from mmdet3dctx.apis import read_config
    from mmdet3dctx.inference import inference_pipeline
    cfg = read_config(CONFIG)
    steps = inference_pipeline(cfg.test_dataloader.dataset.pipeline)
    load = [s for s in cfg.test_dataloader.dataset.pipeline if s['type'] == 'LoadDeepLesionSlices'][0]
    assert steps[0] == dict(type='LoadCTVolumeSlices', num_slices=load['num_slices'],
                            input_slice_interval=load['input_slice_interval'], window=load['window'],
                            out_range=load['out_range'])
    assert 'LoadAnnotations' not in [s['type'] for s in steps]
    with pytest.raises(ValueError, match='no LoadDeepLesionSlices'):
        inference_pipeline([dict(type='LoadImageFromFile')])
