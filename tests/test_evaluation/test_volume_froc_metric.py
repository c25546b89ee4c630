"""VolumeFROCMetric on hand-made slice predictions over a small prepared volume dataset."""
import json
import os.path as osp

import numpy as np
import pytest

pytest.importorskip('mmdet')
import torch  # noqa: E402

import mmdet3dctx  # noqa: F401,E402  (registers the plugins)
from mmdet3dctx.datasets import VolumeLesionDataset  # noqa: E402
from mmdet3dctx.evaluation import VolumeFROCMetric  # noqa: E402
from mmdet3dctx.evaluation.volume_froc_metric import link_case  # noqa: E402
from mmdet3dctx.io import VolumeGeometry  # noqa: E402
from mmdet3dctx.testing.volume_index import sphere_lesion_map, write_volume_index  # noqa: E402


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """Test split: ``p`` with two lesions (rotated axes, a gap in its slices), ``q`` with one, ``n`` lesion-free."""
    root = str(tmp_path_factory.mktemp('prepared'))
    direction = [[0., 1., 0.], [1., 0., 0.], [0., 0., -1.]]
    cases = [
        dict(case_id='p', lesion_map=sphere_lesion_map((14, 32, 32), (2., .8, .8), [(3, 8, 9), (10, 20, 22)],
                                                      [7., 9.]),
             spacing=(2., .8, .8), positions=[0, 2, 4, 6, 8, 10, 12, 20, 22, 24, 26, 28, 30, 32], direction=direction,
             origin=(10., -20., 5.)),
        dict(case_id='q', lesion_map=sphere_lesion_map((9, 32, 32), (3., 1., 1.), [(4, 16, 12)], [12.]),
             spacing=(3., 1., 1.)),
        dict(case_id='n', lesion_map=np.zeros((6, 32, 32)), spacing=(5., 1., 1.)),
    ]
    write_volume_index(root, cases)
    ds = VolumeLesionDataset(data_root=root, split='test', test_mode=True, pipeline=[])
    with open(osp.join(root, 'volumes.json')) as f:
        index = json.load(f)
    return dict(root=root, infos=[ds.get_data_info(i) for i in range(len(ds))], index=index)


def sample(info, boxes, scores):
    return dict(case_id=info['case_id'], key_index=info['key_index'], instances=info['instances'],
                slice_interval=info['slice_interval'],
                pred_instances=dict(bboxes=torch.tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
                                    scores=torch.tensor(np.asarray(scores, np.float32)),
                                    labels=torch.zeros(len(scores), dtype=torch.long)))


def perfect(info, fp=None):
    """Every lesion's box on the slice, scored highest on its key slice; ``fp`` adds a box scored 0.1."""
    boxes = [ins['bbox'] for ins in info['instances']]
    scores = [0.9 if ins['key_slice'] else 0.6 for ins in info['instances']]
    if fp is not None:
        boxes.append(fp)
        scores.append(0.1)
    return sample(info, boxes, scores)


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_perfect_predictions_score_cpm_one(prepared, tmp_path):
    metric = VolumeFROCMetric(data_root=prepared['root'], out_dir=str(tmp_path))
    metrics = evaluate(metric, [perfect(info) for info in prepared['infos']])
    assert metrics['cpm'] == 1.0
    assert all(metrics[f'sens@{f:g}'] == 1.0 for f in (0.125, 0.25, 0.5, 1, 2, 4, 8))
    assert metrics['key_slice/avg[0.5-4]'] == 1.0
    with open(tmp_path / 'volume_froc.json') as f:
        report = json.load(f)
    # the edge slices of a sphere overlap their neighbours too little to link: extra findings, within the lesions
    assert (report['num_volumes'], report['num_lesions'], report['num_detected_lesions']) == (3, 3, 3)
    assert report['num_findings'] >= 3
    assert osp.isfile(tmp_path / 'key_slice_froc.json')
    iou = VolumeFROCMetric(data_root=prepared['root'], criterion='iou', out_dir=str(tmp_path))
    assert evaluate(iou, [perfect(info) for info in prepared['infos']])['cpm'] == 1.0


def test_false_positives_and_misses_count_per_volume(prepared, tmp_path):
    # one low-scored false positive on slice 0 of every volume: 3 FPs over 3 volumes, below every lesion
    samples = [perfect(info, [0, 0, 4, 4] if info['key_index'] == 0 else None) for info in prepared['infos']]
    metrics = evaluate(VolumeFROCMetric(data_root=prepared['root'], out_dir=str(tmp_path)), samples)
    assert metrics['sens@0.125'] == 1.0 and metrics['cpm'] == 1.0
    # lesion 2 of case p missed: 2 of 3 lesions
    samples = [perfect(dict(info, instances=[ins for ins in info['instances']
                                             if not (info['case_id'] == 'p' and ins['lesion_id'] == 2)]))
               for info in prepared['infos']]
    metrics = evaluate(VolumeFROCMetric(data_root=prepared['root'], key_slice_froc=False, out_dir=str(tmp_path)),
                       samples)
    assert metrics['cpm'] == pytest.approx(2 / 3)
    assert 'key_slice/avg[0.5-4]' not in metrics


def test_linked_finding_centre_is_the_key_slice_box_centre_in_lps(prepared):
    case = prepared['index']['cases'][0]
    geometry = VolumeGeometry.from_record(case)
    les = case['lesions'][1]
    x1, y1, x2, y2 = les['slices'][str(les['key_slice'])]
    slices = [dict(key_index=int(k), bboxes=np.array([[x1, y1, x2, y2]], np.float32),
                   scores=np.array([0.9 if int(k) == les['key_slice'] else 0.5])) for k in les['slices']]
    linked = link_case(slices, geometry)
    assert len(linked['findings']) == 1 and linked['findings'][0].slices == sorted(int(k) for k in les['slices'])
    np.testing.assert_allclose(linked['centres'][0],
                               geometry.to_lps(les['key_slice'], (y1 + y2) / 2 - .5, (x1 + x2) / 2 - .5)[0])
    # findings are never linked across the gap between slices 6 and 7 of case p
    both = [dict(key_index=k, bboxes=np.array([[4., 4., 12., 12.]], np.float32), scores=np.array([0.5]))
            for k in (5, 6, 7, 8)]
    assert len(link_case(both, geometry)['findings']) == 2


def test_errors_name_what_is_wrong(prepared, tmp_path):
    with pytest.raises(ValueError, match="criterion must be 'centre' or 'iou'"):
        VolumeFROCMetric(data_root=prepared['root'], criterion='box')
    metric = VolumeFROCMetric(data_root=prepared['root'], out_dir=str(tmp_path))
    with pytest.raises(KeyError, match='no case_id/key_index'):
        metric.process({}, [dict(pred_instances=dict(bboxes=torch.zeros(0, 4), scores=torch.zeros(0)))])
    info = dict(prepared['infos'][0], case_id='zz')
    with pytest.raises(ValueError, match=r"case\(s\) not in the index: \['zz'\]"):
        evaluate(metric, [perfect(info)])
