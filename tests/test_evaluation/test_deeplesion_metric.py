"""DeepLesionMetric built from a config, inside an MMEngine Evaluator, single-process and across two ranks."""
import json
import logging

import pytest

torch = pytest.importorskip('torch')
pytest.importorskip('mmdet')

from mmengine.evaluator import Evaluator  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import mmdet3dctx  # noqa: E402,F401  (registers the metric)
from mmdet.registry import METRICS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet3dctx.evaluation import DeepLesionMetric  # noqa: E402
from mmdet3dctx.evaluation.deeplesion_metric import current_work_dir  # noqa: E402

A, B, C, D = [0, 0, 9, 9], [100, 100, 109, 109], [0, 0, 9, 9], [50, 50, 59, 59]
FAR = [200, 200, 209, 209]


def lesion(box, lesion_type, long_mm, noisy=False):
    return dict(bbox=[float(v) for v in box], bbox_label=0, ignore_flag=0, lesion_type=lesion_type,
                diameters_mm=(long_mm, long_mm / 2), noisy=noisy)


def walk_samples(as_data_sample=False):
    """The walk of test_froc (sens@0.5..16 = .25 .5 .75 .75 .75 .75) as predicted data samples.

    Image 0 also has a noisy lesion and an ignored one, which must not count.
    """
    specs = [
        ('000001_01_01_010.png', 1.25, [lesion(A, 4, 8.), lesion(B, 5, 20.),
                                        lesion([300, 300, 320, 320], 2, 10., noisy=True),
                                        dict(lesion([400, 400, 420, 420], 2, 10.), ignore_flag=1)],
         [A + [.9], FAR + [.7], FAR + [.4], B + [.3]]),
        ('000002_01_01_020.png', 5.0, [lesion(C, 4, 35.), lesion(D, 1, 10.)],
         [FAR + [.8], C + [.6], [1, 1, 9, 9, .5], FAR + [.2]]),
    ]
    samples = []
    for i, (name, interval, instances, dets) in enumerate(specs):
        dets = torch.tensor(dets, dtype=torch.float32)
        pred = dict(bboxes=dets[:, :4], scores=dets[:, 4], labels=torch.zeros(len(dets), dtype=torch.long))
        meta = dict(img_id=i, file_name=name, img_path=f'/data/Images_png/{name[:12]}/{name[13:]}',
                    slice_interval=interval, instances=instances, split=3, ori_shape=(512, 512))
        if as_data_sample:
            sample = DetDataSample(metainfo=meta)
            from mmengine.structures import InstanceData
            sample.pred_instances = InstanceData(**pred)
            samples.append(sample)
        else:
            samples.append(dict(meta, pred_instances=pred))
    return samples


EXPECTED = {
    'sens@0.5': .25, 'sens@1': .5, 'sens@2': .75, 'sens@4': .75, 'sens@8': .75, 'sens@16': .75,
    'avg[0.5-4]': .5625, 'avg[0.5-4]/liver': .875, 'avg[0.5-4]/lung': .5, 'avg[0.5-4]/bone': 0.,
    'avg[0.5-4]/<10mm': 1., 'avg[0.5-4]/10-30mm': .25, 'avg[0.5-4]/>30mm': .75,
    'avg[0.5-4]/interval<=2mm': .75, 'avg[0.5-4]/interval5mm': .375,
}


def test_built_from_config_in_an_evaluator(tmp_path):
    cfg = dict(type='DeepLesionMetric', compute_map=False, out_dir=str(tmp_path / 'out'))
    assert isinstance(METRICS.build(cfg), DeepLesionMetric)
    with DefaultScope.overwrite_default_scope('mmdet'):
        evaluator = Evaluator(cfg)
    # The Evaluator turns DetDataSample objects into dicts, as in a real test loop; two batches.
    samples = walk_samples(as_data_sample=True)
    evaluator.process(data_samples=samples[:1], data_batch={})
    evaluator.process(data_samples=samples[1:], data_batch={})
    metrics = evaluator.evaluate(2)
    assert metrics == {f'deeplesion/{k}': v for k, v in EXPECTED.items()}
    report = json.loads((tmp_path / 'out' / 'froc.json').read_text())
    assert report['sensitivity'] == [.25, .5, .75, .75, .75, .75] and report['avg_0.5_4'] == .5625
    assert report['num_images'] == 2 and report['num_lesions'] == 4 and report['mAP50'] is None
    assert report['subgroups']['lesion_type']['liver']['num_lesions'] == 2
    assert (tmp_path / 'out' / 'froc.png').read_bytes()[:4] == b'\x89PNG'


def test_dict_samples_options_and_prefix():
    metric = DeepLesionMetric(fp_levels=(1, 2), avg_levels=(1, 2), iou_thr=0.95, subgroups=('diameter', ),
                              compute_map=False, prefix='dl')
    metric.process({}, walk_samples())
    metrics = metric.evaluate(2)
    # At IoU 0.95 the re-hit box is an FP: FP/img 0, .5, 1, 1, 1.5, 2, 2, 2.5; hits A (1), C (4), B (7), so
    # at 1 FP/img (rank 4) A and C are hit, at 2 (rank 7) B too.
    assert metrics == {'dl/sens@1': .5, 'dl/sens@2': .75, 'dl/avg[1-2]': .625, 'dl/avg[1-2]/<10mm': 1.,
                       'dl/avg[1-2]/10-30mm': .25, 'dl/avg[1-2]/>30mm': 1.}
    with pytest.raises(ValueError, match='criterion'):
        DeepLesionMetric(criterion='giou')
    with pytest.raises(ValueError, match='unknown sub-group'):
        DeepLesionMetric(subgroups=('organ', ))


def test_gt_instances_fallback_and_duplicates():
    samples = walk_samples()
    for s in samples:
        boxes = [ins['bbox'] for ins in s.pop('instances') if not ins['noisy'] and not ins['ignore_flag']]
        s['gt_instances'] = dict(bboxes=torch.tensor(boxes), labels=torch.zeros(len(boxes), dtype=torch.long))
    metric = DeepLesionMetric(compute_map=False)
    # A padded duplicate (as a distributed sampler may add) is dropped.
    metric.process({}, samples + samples[:1])
    metrics = metric.compute_metrics(metric.results)
    # No lesion types or diameters without `instances`; the slice interval is still known.
    assert metrics == {k: v for k, v in EXPECTED.items() if '/' not in k or 'interval' in k}
    metric = DeepLesionMetric(compute_map=False)
    with pytest.raises(KeyError, match='neither `instances` nor `gt_instances`'):
        metric.process({}, [dict(file_name='x.png', pred_instances=samples[0]['pred_instances'])])


def test_map50_is_logged():
    metric = DeepLesionMetric()
    metric.process({}, walk_samples())
    metrics = metric.evaluate(2)
    assert 0 < metrics['deeplesion/mAP@0.5'] <= 1


def test_work_dir_comes_from_the_runner_logger(tmp_path):
    work_dir = tmp_path / 'work_dir'
    log_dir = work_dir / '20260101_000000'
    log_dir.mkdir(parents=True)
    MMLogger.get_instance('test_deeplesion_metric_runner', log_file=str(log_dir / '20260101_000000.log'))
    try:
        assert current_work_dir() == str(work_dir)
        metric = DeepLesionMetric(compute_map=False, save_plot=False)
        metric.process({}, walk_samples())
        metric.evaluate(2)
        assert json.loads((work_dir / 'froc.json').read_text())['avg_0.5_4'] == .5625
        assert not (work_dir / 'froc.png').exists()
    finally:
        logger = MMLogger.get_instance('test_deeplesion_metric_runner')
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                logger.removeHandler(handler)
    assert current_work_dir() is None


@pytest.mark.slow
def test_results_are_gathered_across_ranks(tmp_path):
    from mmdet3dctx.testing.distributed_metric import evaluate_metric_on_ranks
    metric = dict(type='DeepLesionMetric', compute_map=False, out_dir=str(tmp_path), save_plot=False,
                  collect_dir=str(tmp_path / 'collect'))
    # Each rank sees one image, as with a distributed sampler.
    results = evaluate_metric_on_ranks(metric, [[s] for s in walk_samples()[:2]], size=2)
    # Both ranks get rank 0's metrics (broadcast), computed over both images.
    for rank in (0, 1):
        assert results[rank] == {f'deeplesion/{k}': v for k, v in EXPECTED.items()}
    assert json.loads((tmp_path / 'froc.json').read_text())['num_images'] == 2
