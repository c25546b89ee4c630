"""The 3D evaluation of saved ``findings.json`` files against a prepared volume dataset's lesions.

A prepared dataset (``tools/prepare_volumes.py SRC --out DST``) holds ``DST/volumes.json`` (the index: each case's
split, geometry and lesions, LPS mm) and ``DST/cache/<case_id>_lesions.npy`` (the ``(Z, H, W)`` uint16 lesion
instance map, read memory-mapped). Findings are read per case from ``DIR/<case_id>/findings.json`` (what
``tools/infer.py --out-dir DIR/<case_id>`` writes) or ``DIR/<case_id>.json``: a finding's confidence is
``score``, its point ``centre_lps_mm`` and its 3D box ``extent_lps_mm`` (``min``/``max``), all in LPS mm.

Every case of the split is one volume of the FROC (lesion-free ones included); a case with no findings file is an
error unless ``missing_as_empty`` (then it has no findings); a findings file whose case is not in the index is
reported with a warning and ignored; files of cases in other splits are ignored. Errors are
:class:`VolumeEvalError` subclasses and the index reader's ``VolumeIndexError``, all ``ValueError``, naming the
file, case and finding or lesion at fault.
Scoring is :func:`mmdet3dctx.evaluation.volume_froc.evaluate_volumes`.
"""
import math
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.datasets.volume_index import INDEX_NAME, VolumeIndexError, load_volume_index, split_cases
from mmdet3dctx.utils.atomic_files import read_json

from .volume_froc import (DEFAULT_DIAMETER_BINS, DEFAULT_IOU_THR, DEFAULT_VOLUME_FP_LEVELS, LesionMap,
                          VolumeEvalError, evaluate_volumes)

FINDINGS_NAME = 'findings.json'


class FindingsError(VolumeEvalError):
    """A ``findings.json`` that cannot be read, or a case of the split without one."""


def _number(value, where: str, error=FindingsError) -> float:
    """A finite number from JSON; text, booleans, null, NaN and infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = 'text' if isinstance(value, str) else type(value).__name__ if value is not None else 'null'
        raise error(f'{where} is {kind} ({value!r}), not a number')
    if not math.isfinite(value):
        raise error(f'{where} is {value}, not a finite number')
    return float(value)


def _vector(value, length: int, where: str, error=FindingsError) -> List[float]:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise error(f'{where} must be a list of {length} numbers, got {value!r}')
    return [_number(v, f'{where}[{n}]', error) for n, v in enumerate(value)]


def case_lesions(case: dict, index_path: str = INDEX_NAME) -> dict:
    """A case's lesions as the arrays :func:`~mmdet3dctx.evaluation.volume_froc.evaluate_volumes` reads.

    Args:
        case (dict): One entry of the index's ``cases``.
        index_path (str): The index file, named in error messages. Defaults to ``'volumes.json'``.

    Returns:
        dict: ``case_id``, ``lesion_centres`` ``(L, 3)``, ``lesion_boxes`` ``(L, 6)`` (``min xyz, max xyz``),
        ``lesion_diameters`` ``(L,)`` and ``lesion_ids`` ``(L,)`` (their values in the lesion map), float64 /
        int64.

    Raises:
        VolumeIndexError: naming the file, case and lesion whose entry is malformed.
    """
    cid = case['case_id']
    lesions = case.get('lesions')
    if not isinstance(lesions, list):
        raise VolumeIndexError(f'{index_path}: case {cid}: "lesions" must be a list ([] for a lesion-free volume)')
    centres, boxes, diameters, ids = [], [], [], []
    for n, les in enumerate(lesions):
        where = f'{index_path}: case {cid}, lesion {n}'
        if not isinstance(les, dict):
            raise VolumeIndexError(f'{where}: not an object')
        for key in ('lesion_id', 'centre_lps_mm', 'box_lps_mm', 'diameter_mm'):
            if key not in les:
                raise VolumeIndexError(f'{where}: missing {key!r}')
        box = les['box_lps_mm']
        if not isinstance(box, dict) or 'min' not in box or 'max' not in box:
            raise VolumeIndexError(f'{where}: box_lps_mm must be {{"min": [x, y, z], "max": [x, y, z]}}')
        centres.append(_vector(les['centre_lps_mm'], 3, f'{where}: centre_lps_mm', VolumeIndexError))
        boxes.append(_vector(box['min'], 3, f'{where}: box_lps_mm.min', VolumeIndexError)
                     + _vector(box['max'], 3, f'{where}: box_lps_mm.max', VolumeIndexError))
        diameters.append(_number(les['diameter_mm'], f'{where}: diameter_mm', VolumeIndexError))
        lid = les['lesion_id']
        if isinstance(lid, bool) or not isinstance(lid, int) or lid <= 0:
            raise VolumeIndexError(f'{where}: lesion_id must be a positive integer, got {lid!r}')
        ids.append(lid)
    return dict(case_id=cid, lesion_centres=np.array(centres, np.float64).reshape(-1, 3),
                lesion_boxes=np.array(boxes, np.float64).reshape(-1, 6),
                lesion_diameters=np.array(diameters, np.float64), lesion_ids=np.array(ids, np.int64))


def case_lesion_map(case: dict, data_root: str, index_path: str = INDEX_NAME) -> LesionMap:
    """A case's lesion instance map (memory-mapped ``np.load``) with its geometry from the index.

    Raises:
        VolumeIndexError: naming the case and file when the map is missing, unreadable or not of the case's shape,
            or the geometry is malformed.
    """
    cid = case['case_id']
    where = f'{index_path}: case {cid}'
    rel = case.get('lesion_map')
    if not isinstance(rel, str):
        raise VolumeIndexError(f'{where}: no lesion_map path')
    path = osp.join(data_root, rel)
    try:
        labels = np.load(path, mmap_mode='r')
    except (OSError, ValueError) as e:
        raise VolumeIndexError(f'{where}: cannot read its lesion map {path} ({e})') from None
    shape = case.get('shape')
    if labels.ndim != 3 or (shape is not None and list(labels.shape) != list(shape)):
        raise VolumeIndexError(f'{where}: lesion map {path} has shape {labels.shape}, the index says {shape}')
    spacing = _vector(case.get('spacing'), 3, f'{where}: spacing', VolumeIndexError)
    positions = case.get('positions')
    if positions is not None:
        positions = _vector(positions, labels.shape[0], f'{where}: positions', VolumeIndexError)
    origin = _vector(case.get('origin'), 3, f'{where}: origin', VolumeIndexError)
    direction = case.get('direction')
    if not isinstance(direction, list) or len(direction) != 3:
        raise VolumeIndexError(f'{where}: direction must be a 3x3 list')
    direction = [_vector(row, 3, f'{where}: direction[{n}]', VolumeIndexError) for n, row in enumerate(direction)]
    try:
        return LesionMap(labels, spacing, positions, origin, direction)
    except (VolumeEvalError, np.linalg.LinAlgError) as e:
        raise VolumeIndexError(f'{where}: {e}') from None


def find_findings_files(findings_dir: str) -> Dict[str, str]:
    """Case id -> findings file in a folder: ``DIR/<case_id>/findings.json`` or ``DIR/<case_id>.json``.

    Raises:
        FindingsError: The folder does not exist, or a case has both forms.
    """
    if not osp.isdir(findings_dir):
        raise FindingsError(f'{findings_dir}: findings folder not found')
    found = {}
    for name in sorted(os.listdir(findings_dir)):
        full = osp.join(findings_dir, name)
        if osp.isdir(full) and osp.isfile(osp.join(full, FINDINGS_NAME)):
            cid, path = name, osp.join(full, FINDINGS_NAME)
        elif osp.isfile(full) and name.endswith('.json'):
            cid, path = name[:-len('.json')], full
        else:
            continue
        if cid in found:
            raise FindingsError(f'case {cid} has two findings files, {found[cid]} and {path}: keep one')
        found[cid] = path
    return found


def read_findings(path: str, case_id: Optional[str] = None) -> dict:
    """One case's findings from a ``findings.json`` (an object with a ``findings`` list, or the list itself).

    Args:
        path (str): The file.
        case_id (str, optional): Named in error messages. Defaults to None.

    Returns:
        dict: ``scores`` ``(F,)``, ``centres`` ``(F, 3)`` and ``boxes`` ``(F, 6)`` (``min xyz, max xyz``),
        float64, LPS mm.

    Raises:
        FindingsError: naming the file, case and finding: unreadable or not JSON (e.g. truncated), no
            ``findings`` list, a missing key, text/null/NaN/infinity where a number belongs, a box whose minimum
            exceeds its maximum.
    """
    where = f'{path}' + (f' (case {case_id})' if case_id is not None else '')
    doc = read_json(path, FindingsError, where, hint='; truncated or not a findings.json?')
    records = doc.get('findings') if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        raise FindingsError(f'{where}: no "findings" list (the format of tools/infer.py\'s findings.json)')
    scores, centres, boxes = [], [], []
    for n, rec in enumerate(records):
        fid = rec.get('id') if isinstance(rec, dict) else None
        at = f'{where}: finding {n}' + (f' (id {fid})' if fid is not None else '')
        if not isinstance(rec, dict):
            raise FindingsError(f'{at}: not an object')
        for key in ('score', 'centre_lps_mm', 'extent_lps_mm'):
            if key not in rec:
                raise FindingsError(f'{at}: missing {key!r}')
        ext = rec['extent_lps_mm']
        if not isinstance(ext, dict) or 'min' not in ext or 'max' not in ext:
            raise FindingsError(f'{at}: extent_lps_mm must be {{"min": [x, y, z], "max": [x, y, z]}}')
        scores.append(_number(rec['score'], f'{at}: score'))
        centres.append(_vector(rec['centre_lps_mm'], 3, f'{at}: centre_lps_mm'))
        lo = _vector(ext['min'], 3, f'{at}: extent_lps_mm.min')
        hi = _vector(ext['max'], 3, f'{at}: extent_lps_mm.max')
        if any(a > b for a, b in zip(lo, hi)):
            raise FindingsError(f'{at}: extent_lps_mm.min {lo} exceeds max {hi}')
        boxes.append(lo + hi)
    return dict(scores=np.array(scores, np.float64), centres=np.array(centres, np.float64).reshape(-1, 3),
                boxes=np.array(boxes, np.float64).reshape(-1, 6))


def _listed(ids: Sequence[str], limit: int = 10) -> str:
    ids = sorted(ids)
    return ', '.join(ids[:limit]) + (f' and {len(ids) - limit} more' if len(ids) > limit else '')


def load_volume_records(data_root: str, split: str, findings_dir: str, missing_as_empty: bool = False,
                        with_lesion_maps: bool = False) -> Tuple[List[dict], dict]:
    """The volume records of a split: each case's lesions from the index and its findings from ``findings_dir``.

    Args:
        data_root (str): The prepared dataset.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
        findings_dir (str): Folder of ``<case_id>/findings.json`` or ``<case_id>.json`` files.
        missing_as_empty (bool): A case without a findings file has no findings instead of being an error.
            Defaults to False.
        with_lesion_maps (bool): Attach each case's memory-mapped :class:`LesionMap` (``'centre_in_mask'``).
            Defaults to False.

    Returns:
        tuple[list[dict], dict]: The records (index order) and what was matched: ``index`` (path),
        ``missing_cases`` (split cases without a file, counted as without findings), ``unknown_cases`` (files
        whose case id is not in the index; a warning is issued).

    Raises:
        VolumeIndexError | FindingsError: naming the file and case at fault; an empty split; missing files
        without ``missing_as_empty``.
    """
    index = load_volume_index(data_root)
    cases = split_cases(index, split)
    if not cases:
        raise VolumeIndexError(f'{index["path"]}: no case in the {split!r} split')
    files = find_findings_files(findings_dir)
    known = {c['case_id'] for c in index['cases']}
    unknown = sorted(set(files) - known)
    if unknown:
        warnings.warn(f'{findings_dir}: {len(unknown)} findings file(s) for case ids not in {index["path"]}, '
                      f'ignored: {_listed(unknown)}', UserWarning, stacklevel=2)
    missing = [c['case_id'] for c in cases if c['case_id'] not in files]
    if missing and not missing_as_empty:
        raise FindingsError(f'{findings_dir}: no findings file for {len(missing)} of the {len(cases)} case(s) of '
                            f'the {split!r} split: {_listed(missing)} (expected <case_id>/findings.json or '
                            '<case_id>.json; missing_as_empty / --missing-as-empty counts them as volumes without '
                            'findings)')
    records = []
    for case in cases:
        cid = case['case_id']
        rec = case_lesions(case, index['path'])
        if cid in files:
            rec.update(read_findings(files[cid], cid))
        else:
            rec.update(scores=np.zeros(0), centres=np.zeros((0, 3)), boxes=np.zeros((0, 6)))
        if with_lesion_maps:
            rec['lesion_map'] = case_lesion_map(case, data_root, index['path'])
        records.append(rec)
    return records, dict(index=index['path'], missing_cases=missing, unknown_cases=unknown)


def evaluate_findings(findings_dir: str, data_root: str, split: str = 'test', criterion: str = 'centre',
                      iou_thr: float = DEFAULT_IOU_THR, missing_as_empty: bool = False,
                      fp_levels: Sequence[float] = DEFAULT_VOLUME_FP_LEVELS,
                      diameter_bins: Optional[Sequence[float]] = DEFAULT_DIAMETER_BINS) -> dict:
    """Score a folder of ``findings.json`` files against a prepared dataset's split (the 3D FROC per volume).

    Args:
        findings_dir (str): Folder of ``<case_id>/findings.json`` or ``<case_id>.json`` files.
        data_root (str): The prepared dataset (``volumes.json`` and ``cache/``).
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``. Defaults to ``'test'``.
        criterion (str): ``'centre'``, ``'centre_in_mask'`` or ``'iou'``. Defaults to ``'centre'``.
        iou_thr (float): 3D IoU for a hit with ``'iou'``. Defaults to 0.1.
        missing_as_empty (bool): Cases without a findings file have no findings. Defaults to False.
        fp_levels (Sequence[float]): FPs per volume. Defaults to LUNA16's seven levels.
        diameter_bins (Sequence[float], optional): Sub-group edges in mm. Defaults to ``(0, 10, 20, 30, inf)``.

    Returns:
        dict: :func:`~mmdet3dctx.evaluation.volume_froc.evaluate_volumes`'s result with ``split``,
        ``data_root``, ``findings_dir``, ``missing_cases`` and ``unknown_cases`` added.
    """
    records, matched = load_volume_records(data_root, split, findings_dir, missing_as_empty,
                                           with_lesion_maps=criterion == 'centre_in_mask')
    result = evaluate_volumes(records, criterion, iou_thr, fp_levels, diameter_bins)
    result.update(split=split, data_root=data_root, findings_dir=findings_dir,
                  missing_cases=matched['missing_cases'], unknown_cases=matched['unknown_cases'])
    return result


__all__ = [
    'VolumeIndexError', 'FindingsError', 'load_volume_index', 'split_cases', 'case_lesions', 'case_lesion_map',
    'find_findings_files', 'read_findings', 'load_volume_records', 'evaluate_findings'
]
