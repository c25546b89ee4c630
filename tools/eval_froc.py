"""Evaluate saved DeepLesion detections with the FROC protocol of the field; compare several runs.

Results files (one per run, format by extension):

* ``.pkl``/``.pickle``: MMDetection's ``tools/test.py --out`` dump (a list of data-sample dicts with
  ``pred_instances.bboxes/scores`` in original image coordinates and ``file_name`` or ``img_path``);
* ``.csv``: rows ``file_name,x1,y1,x2,y2,score`` (a header row is optional);
* ``.json``: a list of ``{"file_name": ..., "x1": ..., "y1": ..., "x2": ..., "y2": ..., "score": ...}``
  objects (or of 6-element lists in that order).

Boxes are 0-based pixel coordinates of the original 512x512 key slice (the CSV's 1-based values minus 1, as
everywhere in the toolkit). Ground truth: ``DL_info.csv`` or the prepared COCO-style JSON
(``annotations/deeplesion_<split>.json``), lesions flagged noisy excluded. Key slices without detections count
(as images with no detection); a detection on an image that is not in the split is an error.

Example::

    python tools/eval_froc.py --results work_dirs/a3d/results.pkl work_dirs/mp3d/results.pkl \\
        --data-root data/DeepLesion --split test --labels A3D MP3D --out-dir work_dirs/compare
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import pickle
import sys
from collections import OrderedDict
from typing import Dict, List

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet3dctx.evaluation.deeplesion_eval import (SUBGROUPS, evaluate_deeplesion, format_froc_table,  # noqa: E402
                                                   make_record)
from mmdet3dctx.evaluation.froc import DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS  # noqa: E402


class EvalError(Exception):
    """A user-facing error: bad input file, unknown image, malformed row."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='DeepLesion FROC (sensitivity at 0.5-16 FPs per image) of saved detections',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--results', nargs='+', required=True, help='results file(s): .pkl, .csv or .json')
    parser.add_argument('--data-root', help='DeepLesion folder with DL_info.csv or annotations/deeplesion_*.json')
    parser.add_argument('--ann-file', help='DL_info.csv or prepared JSON (overrides --data-root lookup)')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test', 'all'],
                        help='Train_Val_Test split to evaluate on (default: test)')
    parser.add_argument('--labels', nargs='+', help='one name per results file (default: file names)')
    parser.add_argument('--out-dir', help='write <label>.froc.json per run and froc.png (all runs) here')
    parser.add_argument('--overwrite', action='store_true', help='replace existing output files')
    parser.add_argument('--fp-levels', nargs='+', type=float, default=list(DEFAULT_FP_LEVELS))
    parser.add_argument('--avg-levels', nargs='+', type=float, default=list(DEFAULT_AVG_LEVELS))
    parser.add_argument('--iou-thr', type=float, default=0.5)
    parser.add_argument('--criterion', choices=['iou', 'iobb'], default='iou',
                        help="'iobb' = intersection over the detected box")
    parser.add_argument('--no-plus-one', action='store_true',
                        help='continuous coordinates (w = x2 - x1) instead of the reference +1 pixel convention')
    parser.add_argument('--no-subgroups', action='store_true', help='skip the sub-group tables')
    parser.add_argument('--no-map', action='store_true', help='skip mAP@0.5 (pycocotools)')
    args = parser.parse_args(argv)
    if not args.data_root and not args.ann_file:
        parser.error('give --data-root or --ann-file')
    if args.labels and len(args.labels) != len(args.results):
        parser.error(f'{len(args.labels)} labels for {len(args.results)} results files')
    return args


def find_ann_file(data_root: str, split: str) -> str:
    """``DL_info.csv`` in the data root, else the prepared JSON of the split."""
    candidates = [osp.join(data_root, 'DL_info.csv')]
    if split != 'all':
        candidates.append(osp.join(data_root, 'annotations', f'deeplesion_{split}.json'))
    for path in candidates:
        if osp.isfile(path):
            return path
    raise EvalError(f'no annotation file in {data_root}: looked for {", ".join(candidates)}')


def load_ground_truth(ann_file: str, split: str) -> 'OrderedDict[str, dict]':
    """Key slices of the split, noisy lesions removed (and key slices left without lesions), by file name."""
    code = None if split == 'all' else {'train': 1, 'val': 2, 'test': 3}[split]
    if ann_file.lower().endswith('.json'):
        from mmdet3dctx.datasets.deeplesion_coco import load_coco_key_slices
        infos = load_coco_key_slices(ann_file)
    else:
        from mmdet3dctx.datasets.dl_info import load_key_slices
        infos = load_key_slices(ann_file, split=None, skip_noisy=False)
    out = OrderedDict()
    for info in infos:
        if code is not None and info['split'] != code:
            continue
        lesions = [ins for ins in info['instances'] if not ins['noisy']]
        if lesions:
            out[info['file_name']] = dict(info, instances=lesions)
    if not out:
        raise EvalError(f'{ann_file}: no key slice with a non-noisy lesion in split {split!r}')
    return out


def _number(value, where: str, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise EvalError(f'{where}: {what} {value!r} is not a number') from None
    if not math.isfinite(x):
        raise EvalError(f'{where}: {what} is {value!r}, not a finite number')
    return x


def _box_row(name, values, where: str) -> tuple:
    if not isinstance(name, str) or not name.strip():
        raise EvalError(f'{where}: missing file_name')
    x1, y1, x2, y2, score = (_number(v, where, k) for v, k in zip(values, ('x1', 'y1', 'x2', 'y2', 'score')))
    if x2 < x1 or y2 < y1:
        raise EvalError(f'{where}: box ({x1}, {y1}, {x2}, {y2}) has x2 < x1 or y2 < y1')
    return name.strip(), [x1, y1, x2, y2, score]


def read_csv_results(path: str) -> List[tuple]:
    rows = []
    with open(path, newline='') as f:
        for line_no, cells in enumerate(csv.reader(f), start=1):
            if not cells or all(not c.strip() for c in cells):
                continue
            if line_no == 1 and cells[0].strip().lower() == 'file_name':
                continue
            if len(cells) != 6:
                raise EvalError(f'{path}, row {line_no}: expected 6 cells file_name,x1,y1,x2,y2,score, '
                                f'got {len(cells)}')
            rows.append(_box_row(cells[0], cells[1:], f'{path}, row {line_no}'))
    return rows


def read_json_results(path: str) -> List[tuple]:
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise EvalError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(data, list):
        raise EvalError(f'{path}: expected a list of detections')
    rows = []
    for i, item in enumerate(data):
        where = f'{path}, entry {i}'
        if isinstance(item, dict):
            missing = [k for k in ('file_name', 'x1', 'y1', 'x2', 'y2', 'score') if k not in item]
            if missing:
                raise EvalError(f'{where}: missing {missing}')
            rows.append(_box_row(item['file_name'], [item[k] for k in ('x1', 'y1', 'x2', 'y2', 'score')], where))
        elif isinstance(item, (list, tuple)) and len(item) == 6:
            rows.append(_box_row(item[0], item[1:], where))
        else:
            raise EvalError(f'{where}: expected an object with file_name, x1, y1, x2, y2, score')
    return rows


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def read_pickle_results(path: str) -> Dict[str, np.ndarray]:
    with open(path, 'rb') as f:
        try:
            data = pickle.load(f)
        except Exception as e:  # a truncated or foreign file
            raise EvalError(f'{path}: cannot unpickle ({type(e).__name__}: {e})') from None
    if not isinstance(data, list):
        raise EvalError(f'{path}: expected the list of data samples written by tools/test.py --out')
    out = {}
    for i, sample in enumerate(data):
        where = f'{path}, sample {i}'
        if hasattr(sample, 'to_dict'):
            sample = sample.to_dict()
        if not isinstance(sample, dict) or 'pred_instances' not in sample:
            raise EvalError(f'{where}: no pred_instances')
        name = sample.get('file_name')
        if not name and sample.get('img_path'):
            path_ = sample['img_path']
            name = f'{osp.basename(osp.dirname(path_))}_{osp.basename(path_)}'
        if not name:
            raise EvalError(f'{where}: neither file_name nor img_path')
        pred = sample['pred_instances']
        get = pred.get if isinstance(pred, dict) else (lambda k: getattr(pred, k, None))
        bboxes, scores = get('bboxes'), get('scores')
        if bboxes is None or scores is None:
            raise EvalError(f'{where} ({name}): pred_instances lacks bboxes or scores')
        bboxes = _to_numpy(bboxes).reshape(-1, 4)
        scores = _to_numpy(scores).reshape(-1, 1)
        if bboxes.shape[0] != scores.shape[0] or not np.isfinite(bboxes).all() or not np.isfinite(scores).all():
            raise EvalError(f'{where} ({name}): malformed boxes/scores (shapes {bboxes.shape}, {scores.shape} '
                            'or non-finite values)')
        if name in out:
            raise EvalError(f'{where}: {name} appears twice')
        out[name] = np.concatenate([bboxes, scores], axis=1)
    return out


def read_results(path: str) -> Dict[str, np.ndarray]:
    """Detections by file name, ``(N, 5)`` arrays ``[x1, y1, x2, y2, score]``."""
    if not osp.isfile(path):
        raise EvalError(f'results file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext in ('.pkl', '.pickle'):
        return read_pickle_results(path)
    if ext not in ('.csv', '.json'):
        raise EvalError(f'{path}: unknown results format {ext!r} (use .pkl, .csv or .json)')
    rows = read_csv_results(path) if ext == '.csv' else read_json_results(path)
    by_name: Dict[str, list] = {}
    for name, box in rows:
        by_name.setdefault(name, []).append(box)
    return {name: np.array(boxes, dtype=np.float64) for name, boxes in by_name.items()}


def build_records(gt: 'OrderedDict[str, dict]', dets: Dict[str, np.ndarray], results_path: str) -> List[dict]:
    unknown = [name for name in dets if name not in gt]
    if unknown:
        shown = ', '.join(unknown[:5]) + (f' and {len(unknown) - 5} more' if len(unknown) > 5 else '')
        raise EvalError(f'{results_path}: {len(unknown)} image(s) not in the ground truth split: {shown}')
    return [make_record(name, dets.get(name, np.zeros((0, 5))), info['instances'],
                        info.get('slice_interval'), info.get('split')) for name, info in gt.items()]


def unique_labels(paths: List[str]) -> List[str]:
    labels = [osp.splitext(osp.basename(p))[0] for p in paths]
    if len(set(labels)) < len(labels):
        labels = [f'{i + 1}:{label}' for i, label in enumerate(labels)]
    return labels


def main(argv=None) -> int:
    args = parse_args(argv)
    labels = args.labels or unique_labels(args.results)
    if len(set(labels)) < len(labels):
        sys.exit('error: --labels must be distinct')
    try:
        ann_file = args.ann_file or find_ann_file(args.data_root, args.split)
        gt = load_ground_truth(ann_file, args.split)
        outputs = []
        if args.out_dir:
            outputs = [osp.join(args.out_dir, f'{label.replace(os.sep, "_")}.froc.json') for label in labels]
            outputs.append(osp.join(args.out_dir, 'froc.png'))
            existing = [p for p in outputs if osp.exists(p)]
            if existing and not args.overwrite:
                raise EvalError(f'output file(s) exist: {", ".join(existing)} (pass --overwrite to replace)')
        reports = OrderedDict()
        for label, path in zip(labels, args.results):
            records = build_records(gt, read_results(path), path)
            reports[label] = evaluate_deeplesion(
                records, args.fp_levels, args.avg_levels, args.iou_thr, args.criterion, not args.no_plus_one,
                () if args.no_subgroups else SUBGROUPS, compute_map=not args.no_map)
    except (EvalError, ValueError, OSError) as e:
        sys.exit(f'error: {e}')

    first = next(iter(reports.values()))
    print(format_froc_table(reports, title=(
        f'DeepLesion FROC, {args.split} split of {ann_file}: {first["num_images"]} key slices, '
        f'{first["num_lesions"]} lesions (noisy excluded), {args.criterion.upper()} >= {args.iou_thr:g}; '
        'sensitivity (%) at FPs per image')))
    if args.out_dir:
        from mmdet3dctx.evaluation.deeplesion_eval import dump_report
        from mmdet3dctx.evaluation.froc_plot import plot_froc
        os.makedirs(args.out_dir, exist_ok=True)
        for out, report in zip(outputs, reports.values()):
            dump_report(report, out)
        plot_froc(reports, outputs[-1], title=f'DeepLesion FROC ({args.split})')
        print('\nwrote ' + ', '.join(outputs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
