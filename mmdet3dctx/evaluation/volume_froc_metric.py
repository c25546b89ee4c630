"""``VolumeFROCMetric``: the 3D FROC per patient volume of a detector run over every slice of prepared volumes,
with the DeepLesion FROC on the lesions' key slices beside it, as an MMEngine metric for ``val/test_evaluator``."""
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement

from mmdet.registry import METRICS
from mmdet3dctx.datasets.volume_index import load_volume_index
from mmdet3dctx.inference.lesion_linking import link_detections
from mmdet3dctx.inference.outputs import finding_lps
from mmdet3dctx.io.volume_geometry import GAP_FACTOR, VolumeGeometry
from mmdet3dctx.utils.atomic_files import write_json_atomic
from .deeplesion_eval import avg_key, evaluate_deeplesion, format_froc_table, headline, make_record
from .deeplesion_metric import _get, _numpy, current_work_dir
from .froc import DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS
from .volume_dataset_eval import case_lesions
from .volume_froc import (CRITERIA, DEFAULT_DIAMETER_BINS, DEFAULT_IOU_THR, DEFAULT_VOLUME_FP_LEVELS,
                          VolumeEvalError, evaluate_volumes, format_volume_froc_table, volume_froc_summary)


def link_case(slices: Sequence[dict], geometry: VolumeGeometry, link_iou: float = 0.3, max_gap: int = 1,
              min_slices: int = 1, gap_factor: float = GAP_FACTOR) -> dict:
    """A case's slice detections linked into 3D findings (:func:`link_detections`, the inference path's
    linking: never across a gap) and placed in LPS mm (:func:`finding_lps`).

    Args:
        slices (Sequence[dict]): Per processed slice ``key_index``, ``bboxes`` ``(K, 4)`` (pixels), ``scores``
            ``(K,)`` and optionally ``masks`` ``(K, H, W)``.
        geometry (VolumeGeometry): The case's geometry.

    Returns:
        dict: ``scores`` ``(F,)``, ``centres`` ``(F, 3)`` and ``boxes`` ``(F, 6)`` (``min xyz, max xyz``), the
        finding fields of :func:`~mmdet3dctx.evaluation.volume_froc.volume_record`, and ``findings`` (the
        :class:`~mmdet3dctx.inference.lesion_linking.LesionFinding` list, best first).
    """
    slices = sorted(slices, key=lambda s: s['key_index'])
    masks = [s.get('masks') for s in slices]
    found = link_detections([int(s['key_index']) for s in slices], [s['bboxes'] for s in slices],
                            [s['scores'] for s in slices], masks if any(m is not None for m in masks) else None,
                            positions=geometry.positions, pixel_spacing=geometry.spacing[1:],
                            slice_interval=geometry.slice_interval, iou_thr=link_iou, max_gap=max_gap,
                            min_slices=min_slices, run_ids=geometry.run_ids(gap_factor))
    centres, boxes = [], []
    for f in found:
        centre, lo, hi = finding_lps(f, geometry)
        centres.append(centre)
        boxes.append(np.concatenate([lo, hi]))
    return dict(scores=np.array([f.score for f in found], np.float64),
                centres=np.array(centres, np.float64).reshape(-1, 3),
                boxes=np.array(boxes, np.float64).reshape(-1, 6), findings=found)


@METRICS.register_module()
class VolumeFROCMetric(BaseMetric):
    """The 3D FROC per volume (LUNA16's CPM) of a detector run over every slice of a prepared volume dataset's
    split (``VolumeLesionDataset(test_mode=True)``), and the DeepLesion FROC on the lesions' key slices.

    ``process`` keeps, per slice, the ``case_id``, ``key_index``, the detections scoring at least ``score_thr``
    (boxes in original pixels, scores, masks with ``with_masks``) and the slice's lesions (``instances``).
    ``compute_metrics`` groups the slices by case, links each case's detections over consecutive slices into 3D
    findings (:func:`link_case`: the linking of ``tools/infer.py``, IoU ``link_iou``, never across a gap between
    runs of slices) with their LPS centre and extent from the case's geometry in ``data_root/volumes.json``, and
    scores them against the case's 3D lesions (:func:`~mmdet3dctx.evaluation.volume_dataset_eval.case_lesions`)
    with :func:`~mmdet3dctx.evaluation.volume_froc.evaluate_volumes`: sensitivity at ``fp_levels`` FPs per volume,
    their mean (CPM), diameter sub-groups and the score threshold of each level. Every case seen is one volume
    (lesion-free ones count in the FP denominator).

    Beside it, the DeepLesion protocol (:func:`~mmdet3dctx.evaluation.evaluate_deeplesion`, IoU >= 0.5, FPs per
    image) on the key slices of the lesions (the slice of each lesion's largest cross-section, as DeepLesion's
    annotators chose): each key slice's predictions against every lesion on that slice (the volumes are fully
    labelled). ``key_slice_froc=False`` skips it.

    Logged (prefix ``volume/``, fractions): ``cpm``, ``sens@<level>`` per volume; ``key_slice/sens@<level>`` and
    ``key_slice/avg[0.5-4]`` per image. Both tables are printed to the log. Written (rank 0, replaced at every
    evaluation) to ``out_dir`` (default: the Runner's work_dir): ``volume_froc.json`` (the 3D result, with
    ``score_thresholds`` as ``tools/infer.py --score-thr FILE:FP`` reads them) and ``key_slice_froc.json``.

    Args:
        data_root (str): The prepared dataset (its ``volumes.json``); ``'${data_root}'`` in configs.
        criterion (str): ``'centre'`` (the finding's centre within the lesion's radius, LUNA16) or ``'iou'``
            (3D box IoU >= ``iou_thr``, nnDetection). Defaults to ``'centre'``.
        iou_thr (float): 3D IoU of a hit with ``'iou'``. Defaults to 0.1.
        fp_levels (Sequence[float]): FPs per volume. Defaults to ``(1/8, 1/4, 1/2, 1, 2, 4, 8)``.
        diameter_bins (Sequence[float], optional): Diameter sub-group edges in mm. Defaults to
            ``(0, 10, 20, 30, inf)``.
        score_thr (float): Lowest score of a 2D detection that is linked. Lower than inference's 0.5 default so
            that the FROC reaches its high FP levels. Defaults to 0.05.
        link_iou (float): IoU linking boxes of consecutive slices (inference's ``link_iou``). Defaults to 0.3.
        max_gap (int): Largest slice step between linked detections. Defaults to 1.
        min_slices (int): Shortest kept finding, in slices. Defaults to 1.
        with_masks (bool): Keep predicted masks for the findings' diameters (not needed for scoring: centres and
            extents come from the boxes). Defaults to False.
        key_slice_froc (bool): Also run the 2D key-slice FROC. Defaults to True.
        key_fp_levels, key_avg_levels (Sequence[float]): Its FPs per image and headline levels. Default to
            DeepLesion's.
        out_dir (str, optional): Where the JSON reports go. Defaults to None (the Runner's work_dir).
        collect_device, prefix, collect_dir: See ``mmengine.evaluator.BaseMetric``.

    Example:
        >>> val_evaluator = dict(type='VolumeFROCMetric', data_root='${data_root}', criterion='iou')
    """
    default_prefix: Optional[str] = 'volume'

    def __init__(self,
                 data_root: str,
                 criterion: str = 'centre',
                 iou_thr: float = DEFAULT_IOU_THR,
                 fp_levels: Sequence[float] = DEFAULT_VOLUME_FP_LEVELS,
                 diameter_bins: Optional[Sequence[float]] = DEFAULT_DIAMETER_BINS,
                 score_thr: float = 0.05,
                 link_iou: float = 0.3,
                 max_gap: int = 1,
                 min_slices: int = 1,
                 gap_factor: float = GAP_FACTOR,
                 with_masks: bool = False,
                 key_slice_froc: bool = True,
                 key_fp_levels: Sequence[float] = DEFAULT_FP_LEVELS,
                 key_avg_levels: Sequence[float] = DEFAULT_AVG_LEVELS,
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if criterion not in ('centre', 'iou'):
            raise ValueError(f"VolumeFROCMetric: criterion must be 'centre' or 'iou', got {criterion!r} "
                             f'(tools/eval_volumes.py also has {sorted(set(CRITERIA) - {"centre", "iou"})})')
        self.data_root = data_root
        self.criterion = criterion
        self.iou_thr = float(iou_thr)
        self.fp_levels = tuple(float(f) for f in fp_levels)
        self.diameter_bins = diameter_bins
        self.score_thr = float(score_thr)
        self.link_iou = float(link_iou)
        self.max_gap = int(max_gap)
        self.min_slices = int(min_slices)
        self.gap_factor = float(gap_factor)
        self.with_masks = bool(with_masks)
        self.key_slice_froc = bool(key_slice_froc)
        self.key_fp_levels = tuple(float(f) for f in key_fp_levels)
        self.key_avg_levels = tuple(float(f) for f in key_avg_levels)
        self.out_dir = out_dir

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep one record per slice: ``case_id``, ``key_index``, ``bboxes``, ``scores`` (, ``masks``),
        ``instances`` and ``slice_interval``.

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict]): Predicted data samples of volume slices.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            if sample.get('case_id') is None or sample.get('key_index') is None:
                raise KeyError(f'{sample.get("img_path", "a data sample")}: no case_id/key_index; VolumeFROCMetric '
                               'evaluates the slices of VolumeLesionDataset(test_mode=True)')
            pred = sample['pred_instances']
            scores = _numpy(_get(pred, 'scores')).reshape(-1)
            keep = scores >= self.score_thr
            rec = dict(case_id=str(sample['case_id']), key_index=int(sample['key_index']),
                       bboxes=_numpy(_get(pred, 'bboxes')).reshape(-1, 4)[keep].astype(np.float32),
                       scores=scores[keep], instances=sample.get('instances') or [],
                       slice_interval=sample.get('slice_interval'))
            masks = _get(pred, 'masks')
            if self.with_masks and masks is not None:
                rec['masks'] = _numpy(masks, bool)[keep]
            self.results.append(rec)

    def _key_slice_records(self, by_case: Dict[str, Dict[int, dict]]) -> List[dict]:
        """The DeepLesion records of the slices that are some lesion's key slice."""
        records = []
        for cid, slices in by_case.items():
            for k, s in sorted(slices.items()):
                if any(ins.get('key_slice') for ins in s['instances']):
                    dets = np.concatenate([s['bboxes'].astype(np.float64), s['scores'][:, None]], axis=1)
                    records.append(make_record(f'{cid}/{k}', dets, s['instances'], s['slice_interval']))
        return records

    def compute_metrics(self, results: List[dict]) -> dict:
        """Link, score, log both tables and write the reports.

        Args:
            results (list[dict]): Slice records of all ranks.

        Returns:
            dict: Metric name -> value (fractions).
        """
        logger = MMLogger.get_current_instance()
        index = load_volume_index(self.data_root)
        cases = {c['case_id']: c for c in index['cases']}
        by_case: Dict[str, Dict[int, dict]] = {}
        for rec in results:
            by_case.setdefault(rec['case_id'], {}).setdefault(rec['key_index'], rec)  # padding repeats dropped
        unknown = sorted(set(by_case) - set(cases))
        if unknown:
            raise VolumeEvalError(f'{index["path"]}: predictions for case(s) not in the index: {unknown[:10]}; '
                                  'data_root must be the dataset that was evaluated')
        volumes = []
        for cid, slices in by_case.items():
            case = cases[cid]
            if len(slices) < case['shape'][0]:
                print_log(f'VolumeFROCMetric: case {cid}: {len(slices)} of its {case["shape"][0]} slices evaluated',
                          logger=logger, level=logging.WARNING)
            linked = link_case(list(slices.values()), VolumeGeometry.from_record(case), self.link_iou,
                               self.max_gap, self.min_slices, self.gap_factor)
            rec = case_lesions(case, index['path'])
            rec.update(scores=linked['scores'], centres=linked['centres'], boxes=linked['boxes'])
            volumes.append(rec)
        result = evaluate_volumes(volumes, self.criterion, self.iou_thr, self.fp_levels, self.diameter_bins)
        print_log('\n' + format_volume_froc_table(result), logger=logger)
        metrics = volume_froc_summary(result)
        reports = {'volume_froc.json': result}

        if self.key_slice_froc:
            records = self._key_slice_records(by_case)
            if records:
                report = evaluate_deeplesion(records, self.key_fp_levels, self.key_avg_levels,
                                             subgroups=('diameter', ), compute_map=False)
                print_log('\n' + format_froc_table({'key slices': report},
                                                   title=f'DeepLesion FROC on the lesions\' key slices '
                                                   f'({report["num_images"]} slice(s), {report["num_lesions"]} '
                                                   'lesion(s), FPs per slice)'), logger=logger)
                metrics.update({f'key_slice/sens@{f:g}': s
                                for f, s in zip(self.key_fp_levels, report['sensitivity'])})
                metrics[f'key_slice/{avg_key(self.key_avg_levels)}'] = headline(report)
                reports['key_slice_froc.json'] = report
            else:
                print_log('VolumeFROCMetric: no lesion key slice among the evaluated slices; no key-slice FROC',
                          logger=logger, level=logging.WARNING)

        out_dir = self.out_dir if self.out_dir is not None else current_work_dir()
        if out_dir is not None:
            written = [write_json_atomic(r, osp.join(out_dir, name), overwrite=True) for name, r in reports.items()]
            print_log(f'VolumeFROCMetric: wrote {", ".join(written)}', logger=logger)
        return metrics
