"""Saved DeepLesion detections and the ground truth they are evaluated against (``tools/eval_froc.py``).

Results files (one per run, format by extension):

* ``.pkl``/``.pickle``: MMDetection's ``tools/test.py --out`` dump (a list of data-sample dicts with
  ``pred_instances.bboxes/scores`` in original image coordinates and ``file_name`` or ``img_path``);
* ``.csv``: rows ``file_name,x1,y1,x2,y2,score`` (a header row is optional);
* ``.json``: a list of ``{"file_name": ..., "x1": ..., "y1": ..., "x2": ..., "y2": ..., "score": ...}``
  objects (or of 6-element lists in that order).

Boxes are 0-based pixel coordinates of the original key slice (the CSV's 1-based values minus 1, as everywhere
in the toolkit). Ground truth: ``DL_info.csv`` or the prepared COCO-style JSON (``annotations/deeplesion_<split>
.json``), lesions flagged noisy excluded (:func:`~mmdet3dctx.datasets.dl_info.select_split`). Key slices without
detections count (as images with no detection); a detection on an image that is not in the split is an error.

Example:
    >>> gt = load_ground_truth(find_ann_file('data/DeepLesion', 'test'), 'test')  # doctest: +SKIP
    >>> records = build_records(gt, read_results('results.pkl'), 'results.pkl')  # doctest: +SKIP
    >>> report = evaluate_deeplesion(records)  # doctest: +SKIP
"""
import csv
import json
import math
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import numpy as np

from mmdet3dctx.datasets.dl_info import select_split

from .deeplesion_eval import make_record

#: The columns of a CSV row and the keys of a JSON object, in order.
RESULT_FIELDS = ('file_name', 'x1', 'y1', 'x2', 'y2', 'score')


class EvalError(Exception):
    """A user-facing error: bad input file, unknown image, malformed row (the message names the file and row)."""


def find_ann_file(data_root: str, split: str) -> str:
    """The ground truth of a DeepLesion folder: ``DL_info.csv``, else the prepared JSON of the split.

    Args:
        data_root (str): The DeepLesion folder.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'`` (only ``DL_info.csv`` holds every split).

    Returns:
        str: The path of the annotation file.

    Raises:
        EvalError: Neither file exists.
    """
    candidates = [osp.join(data_root, 'DL_info.csv')]
    if split != 'all':
        candidates.append(osp.join(data_root, 'annotations', f'deeplesion_{split}.json'))
    for path in candidates:
        if osp.isfile(path):
            return path
    raise EvalError(f'no annotation file in {data_root}: looked for {", ".join(candidates)}')


def load_ground_truth(ann_file: str, split: str) -> 'OrderedDict[str, dict]':
    """The key slices of a split, noisy lesions removed (and key slices left without lesions), by file name.

    Args:
        ann_file (str): ``DL_info.csv`` or a COCO-style JSON of ``tools/prepare_deeplesion.py``.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.

    Returns:
        OrderedDict[str, dict]: ``file_name`` -> key slice (as
        :func:`~mmdet3dctx.datasets.dl_info.load_key_slices` gives it), in the file's order.

    Raises:
        EvalError: No key slice of the split has a lesion not flagged noisy.
    """
    if ann_file.lower().endswith('.json'):
        from mmdet3dctx.datasets.deeplesion_coco import load_coco_key_slices
        infos = load_coco_key_slices(ann_file)
    else:
        from mmdet3dctx.datasets.dl_info import load_key_slices
        infos = load_key_slices(ann_file, split=None, skip_noisy=False)
    kept = select_split(infos, None if split == 'all' else split, skip_noisy=True)
    out = OrderedDict((info['file_name'], info) for info in kept)
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


def _box_row(name, values: Sequence, where: str) -> Tuple[str, List[float]]:
    """``(file_name, [x1, y1, x2, y2, score])`` of one CSV row or JSON entry, checked."""
    if not isinstance(name, str) or not name.strip():
        raise EvalError(f'{where}: missing file_name')
    x1, y1, x2, y2, score = (_number(v, where, k) for v, k in zip(values, RESULT_FIELDS[1:]))
    if x2 < x1 or y2 < y1:
        raise EvalError(f'{where}: box ({x1}, {y1}, {x2}, {y2}) has x2 < x1 or y2 < y1')
    return name.strip(), [x1, y1, x2, y2, score]


def read_csv_results(path: str) -> List[Tuple[str, List[float]]]:
    """The rows of a CSV results file, ``(file_name, [x1, y1, x2, y2, score])`` each (a header row skipped)."""
    rows = []
    with open(path, newline='') as f:
        for line_no, cells in enumerate(csv.reader(f), start=1):
            if not cells or all(not c.strip() for c in cells):
                continue
            if line_no == 1 and cells[0].strip().lower() == 'file_name':
                continue
            if len(cells) != len(RESULT_FIELDS):
                raise EvalError(f'{path}, row {line_no}: expected 6 cells file_name,x1,y1,x2,y2,score, '
                                f'got {len(cells)}')
            rows.append(_box_row(cells[0], cells[1:], f'{path}, row {line_no}'))
    return rows


def read_json_results(path: str) -> List[Tuple[str, List[float]]]:
    """The entries of a JSON results file (objects or 6-element lists), ``(file_name, [x1, y1, x2, y2, score])``
    each."""
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
            missing = [k for k in RESULT_FIELDS if k not in item]
            if missing:
                raise EvalError(f'{where}: missing {missing}')
            rows.append(_box_row(item['file_name'], [item[k] for k in RESULT_FIELDS[1:]], where))
        elif isinstance(item, (list, tuple)) and len(item) == len(RESULT_FIELDS):
            rows.append(_box_row(item[0], item[1:], where))
        else:
            raise EvalError(f'{where}: expected an object with file_name, x1, y1, x2, y2, score')
    return rows


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def read_pickle_results(path: str) -> Dict[str, np.ndarray]:
    """Detections of a ``tools/test.py --out`` pickle by file name: ``(N, 5)`` arrays ``[x1, y1, x2, y2, score]``.

    A sample without ``file_name`` is named from its ``img_path`` (``<series folder>_<slice>.png``).
    """
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
    """Read a results file (``.pkl``/``.pickle``, ``.csv`` or ``.json``, by extension).

    Args:
        path (str): The results file.

    Returns:
        dict[str, np.ndarray]: Detections by file name, ``(N, 5)`` arrays ``[x1, y1, x2, y2, score]``.

    Raises:
        EvalError: A missing file, an unknown extension or a malformed row (named with its file and row).
    """
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
    """One evaluation record per ground-truth key slice (:func:`~mmdet3dctx.evaluation.deeplesion_eval.
    make_record`); a key slice without detections gets an empty ``(0, 5)`` array.

    Args:
        gt (OrderedDict[str, dict]): From :func:`load_ground_truth`.
        dets (dict[str, np.ndarray]): From :func:`read_results`.
        results_path (str): The results file, named in errors.

    Returns:
        list[dict]: The records, in the ground truth's order.

    Raises:
        EvalError: A detection is on an image that is not in ``gt``.
    """
    unknown = [name for name in dets if name not in gt]
    if unknown:
        shown = ', '.join(unknown[:5]) + (f' and {len(unknown) - 5} more' if len(unknown) > 5 else '')
        raise EvalError(f'{results_path}: {len(unknown)} image(s) not in the ground truth split: {shown}')
    return [make_record(name, dets.get(name, np.zeros((0, 5))), info['instances'],
                        info.get('slice_interval'), info.get('split')) for name, info in gt.items()]


__all__ = ['EvalError', 'RESULT_FIELDS', 'find_ann_file', 'load_ground_truth', 'read_csv_results',
           'read_json_results', 'read_pickle_results', 'read_results', 'build_records']
