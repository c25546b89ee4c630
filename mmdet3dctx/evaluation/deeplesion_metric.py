"""``DeepLesionMetric``: the DeepLesion FROC protocol as an MMEngine metric for ``val/test_evaluator``."""
import logging
import os.path as osp
from typing import Any, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from mmdet.registry import METRICS
from .deeplesion_eval import (SUBGROUPS, avg_key, dump_report, evaluate_deeplesion, format_froc_table,
                              headline, make_record)
from .froc import DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS


def _get(obj: Any, key: str, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _numpy(x, dtype=np.float64) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _file_name(sample: dict) -> str:
    name = sample.get('file_name')
    if name:
        return str(name)
    path = sample.get('img_path')
    if path:
        # 'Images_png/000001_01_01/103.png' -> '000001_01_01_103.png'
        return f'{osp.basename(osp.dirname(path))}_{osp.basename(path)}'
    return str(sample.get('img_id', '?'))


def sample_to_record(sample: dict) -> dict:
    """Turn one predicted data sample into an evaluation record (see ``deeplesion_eval``).

    Ground truth comes from ``sample['instances']`` (the dataset's annotation dicts, original 0-based
    coordinates) when present: lesions with ``noisy`` or ``ignore_flag`` set are excluded; ``lesion_type`` and
    ``diameters_mm`` feed the sub-group analyses. Without ``instances``, ``sample['gt_instances'].bboxes`` is
    used (MMDetection's test pipelines load annotations after resizing, so they are in original coordinates).
    Every predicted box counts as a lesion candidate, whatever its label.

    Args:
        sample (dict): ``DetDataSample.to_dict()`` output (or the sample itself).

    Returns:
        dict: ``file_name``, ``dets`` (N, 5), ``gts`` (M, 4), ``lesion_types`` (M,), ``long_diameters_mm``
        (M,), ``slice_interval``, ``split``.
    """
    if isinstance(sample, BaseDataElement):
        sample = sample.to_dict()
    pred = sample['pred_instances']
    bboxes = _numpy(_get(pred, 'bboxes')).reshape(-1, 4)
    scores = _numpy(_get(pred, 'scores')).reshape(-1, 1)
    if bboxes.shape[0] != scores.shape[0]:
        raise ValueError(f'{_file_name(sample)}: {bboxes.shape[0]} predicted boxes but {scores.shape[0]} scores')
    instances = sample.get('instances')
    if instances is None:
        gt_instances = sample.get('gt_instances')
        if gt_instances is None:
            raise KeyError(f'{_file_name(sample)}: the data sample carries neither `instances` nor '
                           '`gt_instances`; DeepLesionMetric needs the ground truth')
        instances = [dict(bbox=box) for box in _numpy(_get(gt_instances, 'bboxes')).reshape(-1, 4)]
    return make_record(_file_name(sample), np.concatenate([bboxes, scores], axis=1), instances,
                       sample.get('slice_interval'), sample.get('split'))


def current_work_dir() -> Optional[str]:
    """The work_dir of the MMEngine run in progress, found through its logger, or None.

    MMEngine's ``Runner`` logs to ``<work_dir>/<timestamp>/<timestamp>.log`` with the current ``MMLogger``,
    so the work_dir is two levels above the log file. Outside a Runner (no file handler) this returns None.
    """
    for handler in MMLogger.get_current_instance().handlers:
        log_file = getattr(handler, 'baseFilename', None)
        if isinstance(handler, logging.FileHandler) and log_file:
            return osp.dirname(osp.dirname(log_file))
    return None


@METRICS.register_module()
class DeepLesionMetric(BaseMetric):
    """Sensitivity at FPs per image (FROC), its average and box mAP@0.5 on DeepLesion key slices.

    The protocol of every DeepLesion table (3DCE, MULAN, MP3D, AlignShift, A3D): detections of all images ranked
    together, a hit needs IoU >= 0.5 with the +1 pixel convention, one detection may hit several lesions,
    re-hits are free, sensitivity read with ``numpy.interp`` off the per-detection curve (see
    :mod:`mmdet3dctx.evaluation.froc`). Lesions flagged noisy (or ``ignore_flag``) are excluded. Sub-groups by
    lesion type (test split), long diameter and slice interval keep the ranking and FPs of all detections.

    Logged (with the prefix, ``deeplesion/`` by default, as fractions): ``sens@0.5`` ... ``sens@16``,
    ``avg[0.5-4]``, ``mAP@0.5`` and ``avg[0.5-4]/<group>`` for every non-empty sub-group (e.g.
    ``avg[0.5-4]/liver``, ``avg[0.5-4]/<10mm``, ``avg[0.5-4]/interval<=2mm``). The table is printed to the log.

    Output files (written by rank 0, replaced at every evaluation): ``<out_dir>/froc.json`` (the full report:
    ``fp_levels``, ``sensitivity``, ``avg_0.5_4``, ``mAP50``, sub-group tables, numbers of images, lesions
    and detections, the curve, and the score threshold that reaches each FP level: ``score_thresholds``, which
    ``tools/infer.py --score-thr froc.json:FP`` reads) and ``<out_dir>/froc.png``. ``out_dir`` defaults to the
    work_dir of the Runner in progress (see :func:`current_work_dir`); without either, no file is written.

    Distributed evaluation: each rank stores one small record per image and MMEngine's ``BaseMetric`` gathers
    them on rank 0 (``collect_device``/``collect_dir``), dropping the sampler's padding.

    Args:
        fp_levels (Sequence[float]): FPs per image of the table. Defaults to ``(0.5, 1, 2, 4, 8, 16)``.
        avg_levels (Sequence[float]): Levels of the headline average. Defaults to ``(0.5, 1, 2, 4)``.
        iou_thr (float): Overlap for a hit. Defaults to 0.5.
        criterion (str): ``'iou'`` or ``'iobb'`` (intersection over the detected box). Defaults to ``'iou'``.
        plus_one (bool): +1 pixel convention of the reference; False for continuous coordinates.
            Defaults to True.
        subgroups (Sequence[str]): Any of ``'lesion_type'``, ``'diameter'``, ``'slice_interval'``.
            Defaults to all.
        compute_map (bool): Also compute box mAP@0.5 (pycocotools). Defaults to True.
        out_dir (str, optional): Where ``froc.json``/``froc.png`` go. Defaults to None (the Runner's work_dir).
        save_plot (bool): Write ``froc.png``. Defaults to True.
        collect_device (str): ``'cpu'`` or ``'gpu'``, see ``BaseMetric``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to None (``'deeplesion'``).
        collect_dir (str, optional): Directory for gathering results with ``collect_device='cpu'``.
            Defaults to None.

    In a config::

        val_evaluator = dict(type='DeepLesionMetric')  # files go to the Runner's work_dir
        test_evaluator = dict(type='DeepLesionMetric', out_dir='work_dirs/a3d_7slice/test')

    Example:
        >>> import torch
        >>> from mmengine.evaluator import Evaluator
        >>> metric = DeepLesionMetric(compute_map=False)
        >>> sample = dict(file_name='000001_01_01_103.png', slice_interval=5.0,
        ...               instances=[dict(bbox=[10, 10, 29, 29], lesion_type=4, diameters_mm=(14.2, 9.1))],
        ...               pred_instances=dict(bboxes=torch.tensor([[10., 10., 29., 29.]]),
        ...                                   scores=torch.tensor([0.9]), labels=torch.tensor([0])))
        >>> metric.process({}, [sample])
        >>> metrics = metric.evaluate(1)  # doctest: +SKIP
        >>> metrics['deeplesion/sens@0.5'], metrics['deeplesion/avg[0.5-4]/liver']  # doctest: +SKIP
        (1.0, 1.0)
    """
    default_prefix: Optional[str] = 'deeplesion'

    def __init__(self,
                 fp_levels: Sequence[float] = DEFAULT_FP_LEVELS,
                 avg_levels: Sequence[float] = DEFAULT_AVG_LEVELS,
                 iou_thr: float = 0.5,
                 criterion: str = 'iou',
                 plus_one: bool = True,
                 subgroups: Sequence[str] = SUBGROUPS,
                 compute_map: bool = True,
                 out_dir: Optional[str] = None,
                 save_plot: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if criterion not in ('iou', 'iobb'):
            raise ValueError(f"criterion must be 'iou' or 'iobb', got {criterion!r}")
        unknown = set(subgroups) - set(SUBGROUPS)
        if unknown:
            raise ValueError(f'unknown sub-group analyses {sorted(unknown)}; choose from {SUBGROUPS}')
        self.fp_levels = tuple(float(f) for f in fp_levels)
        self.avg_levels = tuple(float(f) for f in avg_levels)
        self.iou_thr = iou_thr
        self.criterion = criterion
        self.plus_one = plus_one
        self.subgroups = tuple(subgroups)
        self.compute_map = compute_map
        self.out_dir = out_dir
        self.save_plot = save_plot

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep one small record (boxes, scores, lesions and their attributes) per image.

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict]): Predicted data samples (``DetDataSample.to_dict()`` or the samples).
        """
        for sample in data_samples:
            self.results.append(sample_to_record(sample))

    def compute_metrics(self, results: List[dict]) -> dict:
        """Evaluate the gathered records, log the table and write the report files.

        Args:
            results (list[dict]): Records of all images (all ranks).

        Returns:
            dict: Metric name -> value (fractions).
        """
        logger = MMLogger.get_current_instance()
        records, seen = [], set()
        for rec in results:
            if rec['file_name'] in seen:
                continue
            seen.add(rec['file_name'])
            records.append(rec)
        if len(records) < len(results):
            print_log(f'DeepLesionMetric: {len(results) - len(records)} duplicate image(s) ignored',
                      logger=logger, level=logging.WARNING)
        report = evaluate_deeplesion(records, self.fp_levels, self.avg_levels, self.iou_thr, self.criterion,
                                     self.plus_one, self.subgroups, self.compute_map)
        print_log('\n' + format_froc_table({'result': report}), logger=logger)

        akey = avg_key(self.avg_levels)
        metrics = {f'sens@{f:g}': s for f, s in zip(self.fp_levels, report['sensitivity'])}
        metrics[akey] = headline(report)
        if report['mAP50'] is not None:
            metrics['mAP@0.5'] = report['mAP50']
        for analysis, groups in report['subgroups'].items():
            for name, res in groups.items():
                if res['avg'] is not None:
                    label = f'interval{name}' if analysis == 'slice_interval' else name.replace(' ', '_')
                    metrics[f'{akey}/{label}'] = res['avg']

        out_dir = self.out_dir if self.out_dir is not None else current_work_dir()
        if out_dir is None:
            print_log('DeepLesionMetric: no out_dir and no Runner work_dir; froc.json/froc.png not written',
                      logger=logger, level=logging.DEBUG)
        else:
            dump_report(report, osp.join(out_dir, 'froc.json'))
            written = [osp.join(out_dir, 'froc.json')]
            if self.save_plot:
                from .froc_plot import plot_froc
                written.append(plot_froc({'result': report}, osp.join(out_dir, 'froc.png')))
            print_log(f'DeepLesionMetric: wrote {", ".join(written)}', logger=logger)
        return metrics
