"""The DeepLesion evaluation report: FROC table, sub-groups, mAP@0.5, as a dict, a text table and JSON.

Shared by ``DeepLesionMetric`` and ``tools/eval_froc.py``. Input is one *record* per key slice::

    dict(file_name='000001_01_01_103.png',
         dets=(N, 5) array [x1, y1, x2, y2, score],       # original image coordinates
         gts=(M, 4) array [x1, y1, x2, y2],               # 0-based, noisy lesions already removed
         lesion_types=(M,) int array,                     # Coarse_lesion_type, -1 unlabelled (optional)
         long_diameters_mm=(M,) float array,              # NaN if unknown (optional)
         slice_interval=float,                            # mm, NaN if unknown (optional)
         split=int | None)                                # 1/2/3 Train_Val_Test if known (optional)

Sub-groups keep the ranking and FP count of all detections and count sensitivity over the sub-group's lesions:
lesion type (the 8 named ``Coarse_lesion_type`` values; only when no evaluated image is known to come from
the train or val split, as published per-type tables are on the test split), long diameter (< 10 mm,
10-30 mm inclusive, > 30 mm) and slice interval (<= 2 mm, 5 mm).
"""
import json
import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from mmdet3dctx.datasets.dl_info import LESION_TYPES, SPLITS

from .froc import DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS, interp_sensitivity, match_detections

#: ``Coarse_lesion_type`` code -> name (the DeepLesion README's), -1 (unlabelled) left out.
LESION_TYPE_NAMES = {code: name for code, name in LESION_TYPES.items() if code > 0}
#: Long-diameter groups: (name, lower bound, upper bound, bounds included).
DIAMETER_GROUPS = (('<10mm', -math.inf, 10., (False, False)), ('10-30mm', 10., 30., (True, True)),
                   ('>30mm', 30., math.inf, (False, False)))
#: Slice-interval groups: name -> predicate on the interval in mm.
INTERVAL_GROUPS = (('<=2mm', lambda t: t <= 2.), ('5mm', lambda t: np.isclose(t, 5.)))
SUBGROUPS = ('lesion_type', 'diameter', 'slice_interval')


def avg_key(avg_levels: Sequence[float]) -> str:
    """Name of the headline figure, e.g. ``'avg[0.5-4]'``."""
    return f'avg[{min(avg_levels):g}-{max(avg_levels):g}]'


def avg_json_key(avg_levels: Sequence[float]) -> str:
    """Key of the headline figure in a report / ``froc.json``, e.g. ``'avg_0.5_4'``."""
    return f'avg_{min(avg_levels):g}_{max(avg_levels):g}'


def _field(record: dict, key: str, num: int, fill, dtype) -> np.ndarray:
    value = record.get(key)
    if value is None:
        return np.full(num, fill, dtype=dtype)
    value = np.asarray(value, dtype=dtype).reshape(-1)
    if value.shape[0] != num:
        raise ValueError(f'{record.get("file_name", "?")}: {key} has {value.shape[0]} values for {num} lesions')
    return value


def make_record(file_name: str, dets, instances: Sequence[dict], slice_interval: Optional[float] = None,
                split: Optional[int] = None) -> dict:
    """One evaluation record: a key slice's detections and its lesions (records are built here only).

    Args:
        file_name (str): Key slice name, e.g. ``'000001_01_01_103.png'``.
        dets (array-like): ``(N, 5)`` detections ``[x1, y1, x2, y2, score]`` in original image coordinates
            (``N`` may be 0).
        instances (Sequence[dict]): The key slice's lesions as the datasets give them: ``bbox`` (0-based
            ``x1, y1, x2, y2``) and optionally ``lesion_type``, ``diameters_mm`` (long, short), ``noisy`` and
            ``ignore_flag``. Lesions flagged ``noisy`` or ``ignore_flag`` are left out.
        slice_interval (float, optional): Slice interval of the series (mm). Defaults to None (unknown, NaN).
        split (int, optional): ``Train_Val_Test`` code (1/2/3). Defaults to None.

    Returns:
        dict: ``file_name``, ``dets`` ``(N, 5)``, ``gts`` ``(M, 4)``, ``lesion_types`` ``(M,)`` int64 (-1 if
        unknown), ``long_diameters_mm`` ``(M,)`` float64 (NaN if unknown), ``slice_interval`` (float, NaN if
        unknown) and ``split``.

    Example:
        >>> rec = make_record('000001_01_01_103.png', [[10, 10, 29, 29, .9]],
        ...                   [dict(bbox=[10, 10, 29, 29], lesion_type=4, diameters_mm=(14.2, 9.1)),
        ...                    dict(bbox=[50, 50, 60, 60], noisy=True)], slice_interval=5)
        >>> rec['gts'].tolist(), rec['lesion_types'].tolist(), rec['long_diameters_mm'].tolist()
        ([[10.0, 10.0, 29.0, 29.0]], [4], [14.2])
    """
    kept = [ins for ins in instances if not ins.get('noisy', False) and not ins.get('ignore_flag', 0)]
    return dict(
        file_name=file_name,
        dets=np.asarray(dets, dtype=np.float64).reshape(-1, 5),
        gts=np.array([ins['bbox'] for ins in kept], dtype=np.float64).reshape(-1, 4),
        lesion_types=np.array([ins.get('lesion_type', -1) for ins in kept], dtype=np.int64),
        long_diameters_mm=np.array([(ins.get('diameters_mm') or (math.nan, ))[0] for ins in kept],
                                   dtype=np.float64),
        slice_interval=float(slice_interval) if slice_interval is not None else math.nan,
        split=split)


def subgroup_masks(records: Sequence[dict], subgroups: Sequence[str] = SUBGROUPS) -> Dict[str, Dict[str, np.ndarray]]:
    """Boolean masks over the concatenated lesions of ``records`` for each sub-group.

    Args:
        records (list[dict]): Per-image records (see the module docstring).
        subgroups (Sequence[str]): Any of ``'lesion_type'``, ``'diameter'``, ``'slice_interval'``.

    Returns:
        dict[str, dict[str, np.ndarray]]: ``{analysis: {group name: (L,) bool mask}}``. The lesion-type
        analysis is left out when no lesion has a named type or some image comes from the train/val split.
    """
    unknown = set(subgroups) - set(SUBGROUPS)
    if unknown:
        raise ValueError(f'unknown sub-group analyses {sorted(unknown)}; choose from {SUBGROUPS}')
    nums = [np.asarray(r['gts']).reshape(-1, 4).shape[0] for r in records]
    types = np.concatenate([_field(r, 'lesion_types', n, -1, np.int64) for r, n in zip(records, nums)] or
                           [np.zeros(0, np.int64)])
    diams = np.concatenate([_field(r, 'long_diameters_mm', n, np.nan, np.float64) for r, n in zip(records, nums)]
                           or [np.zeros(0)])
    intervals = np.repeat(np.array([float(r.get('slice_interval', np.nan)) for r in records], dtype=np.float64),
                          nums)
    out = {}
    not_test = any(r.get('split') in (SPLITS['train'], SPLITS['val']) for r in records)
    if 'lesion_type' in subgroups and not not_test and np.isin(types, list(LESION_TYPE_NAMES)).any():
        out['lesion_type'] = {name: types == code for code, name in LESION_TYPE_NAMES.items()}
    if 'diameter' in subgroups and np.isfinite(diams).any():
        groups = {}
        for name, low, high, (incl_low, incl_high) in DIAMETER_GROUPS:
            above = diams >= low if incl_low else diams > low
            below = diams <= high if incl_high else diams < high
            groups[name] = above & below
        out['diameter'] = groups
    if 'slice_interval' in subgroups and np.isfinite(intervals).any():
        with np.errstate(invalid='ignore'):
            out['slice_interval'] = {name: np.asarray(pred(intervals), dtype=bool) for name, pred in INTERVAL_GROUPS}
    return out


def evaluate_deeplesion(records: Sequence[dict],
                        fp_levels: Sequence[float] = DEFAULT_FP_LEVELS,
                        avg_levels: Sequence[float] = DEFAULT_AVG_LEVELS,
                        iou_thr: float = 0.5,
                        criterion: str = 'iou',
                        plus_one: bool = True,
                        subgroups: Sequence[str] = SUBGROUPS,
                        compute_map: bool = True,
                        curve_points: int = 200) -> dict:
    """Evaluate detections on DeepLesion key slices.

    Args:
        records (list[dict]): One per key slice (see the module docstring).
        fp_levels (Sequence[float]): FPs per image of the table. Defaults to ``(0.5, 1, 2, 4, 8, 16)``.
        avg_levels (Sequence[float]): Levels averaged into the headline figure. Defaults to ``(0.5, 1, 2, 4)``.
        iou_thr (float): Overlap for a hit. Defaults to 0.5.
        criterion (str): ``'iou'`` or ``'iobb'``. Defaults to ``'iou'``.
        plus_one (bool): +1 pixel convention of the reference. Defaults to True.
        subgroups (Sequence[str]): Sub-group analyses to run. Defaults to all three.
        compute_map (bool): Also compute box mAP@0.5 with pycocotools. Defaults to True.
        curve_points (int): Points of the stored FROC curve (log-spaced FP levels, exact protocol values).
            Defaults to 200.

    Returns:
        dict: JSON-serialisable report with ``fp_levels``, ``sensitivity`` (fractions at ``fp_levels``),
        ``avg_levels``, ``avg_0.5_4`` (named after ``avg_levels``), ``mAP50`` (None if not computed),
        ``num_images``, ``num_lesions``, ``num_detections``, the options, ``subgroups``
        (``{analysis: {group: {num_lesions, sensitivity, avg}}}``, sensitivity None for an empty group) and
        ``curve`` (``fp_per_image``, ``sensitivity``) for plotting, ``score_thresholds`` (per FP level the
        lowest score threshold whose kept detections make at most that many FPs per image on these images,
        None where none does; see :meth:`~mmdet3dctx.evaluation.froc.FROCMatch.operating_points`) and
        ``operating_points`` (per level: ``fp_level``, ``score_thr``, and the ``fp_per_image``,
        ``sensitivity`` and ``num_detections`` that threshold gives).
    """
    if len(records) == 0:
        raise ValueError('no images to evaluate')
    dets = [np.asarray(r['dets'], dtype=np.float64).reshape(-1, 5) for r in records]
    gts = [np.asarray(r['gts'], dtype=np.float64).reshape(-1, 4) for r in records]
    fp_levels = [float(f) for f in fp_levels]
    avg_levels = [float(f) for f in avg_levels]
    match = match_detections(dets, gts, iou_thr, criterion, plus_one)
    sens, fp = match.curve()
    all_levels = fp_levels + avg_levels

    def table(mask=None):
        values = match.sensitivity_at_fp(all_levels, mask)
        return [float(v) for v in values[:len(fp_levels)]], float(np.mean(values[len(fp_levels):]))

    sensitivity, avg = table()
    points = match.operating_points(fp_levels)
    grid_max = max(fp_levels + [fp[-1] if fp.size else 0.])
    grid_min = min([f for f in fp_levels if f > 0] or [1.]) / 8
    grid = np.geomspace(grid_min, max(grid_max, grid_min) * 1.01, curve_points)
    report = dict(
        fp_levels=fp_levels,
        sensitivity=sensitivity,
        avg_levels=avg_levels,
        **{avg_json_key(avg_levels): avg},
        mAP50=None,
        num_images=len(records),
        num_lesions=match.num_lesions,
        num_detections=int(match.is_fp.shape[0]),
        iou_thr=float(iou_thr),
        criterion=criterion,
        plus_one=bool(plus_one),
        subgroups={},
        curve=dict(fp_per_image=grid.tolist(), sensitivity=interp_sensitivity(sens, fp, grid).tolist()),
        score_thresholds=[p['score_thr'] for p in points],
        operating_points=points,
    )
    for analysis, groups in subgroup_masks(records, subgroups).items():
        rows = {}
        for name, mask in groups.items():
            n = int(mask.sum())
            if n == 0:
                rows[name] = dict(num_lesions=0, sensitivity=None, avg=None)
            else:
                s, a = table(mask)
                rows[name] = dict(num_lesions=n, sensitivity=s, avg=a)
        report['subgroups'][analysis] = rows
    if compute_map:
        from .coco_map import box_map50
        report['mAP50'] = box_map50(dets, gts)
    return report


def headline(report: dict) -> float:
    """The mean sensitivity over ``avg_levels`` stored in a report."""
    return report[avg_json_key(report['avg_levels'])]


def format_froc_table(reports: Dict[str, dict], title: Optional[str] = None) -> str:
    """Text table in the layout of DeepLesion papers: sensitivity (%) at each FP level, the average, mAP.

    Args:
        reports (dict[str, dict]): Run name -> report from :func:`evaluate_deeplesion` (same levels).
        title (str, optional): First line. Defaults to a summary of the first report.

    Returns:
        str: The table, then one sub-group table per run that has sub-groups.
    """
    first = next(iter(reports.values()))
    levels, akey = first['fp_levels'], avg_key(first['avg_levels'])
    name_w = max([len('FPs per image')] + [len(n) for n in reports])
    cols = [f'{f:g}' for f in levels] + [akey, 'mAP@0.5']
    widths = [max(6, len(c)) for c in cols]

    def row(name, values, width=name_w):
        cells = [(f'{100 * v:.2f}' if v is not None else '-').rjust(w) for v, w in zip(values, widths)]
        return name.ljust(width) + '  ' + '  '.join(cells)

    lines = [title or (f'DeepLesion FROC: sensitivity (%) at FPs per image, {first["num_images"]} images, '
                       f'{first["num_lesions"]} lesions, {first["criterion"].upper()} >= {first["iou_thr"]:g}')]
    lines.append('FPs per image'.ljust(name_w) + '  ' + '  '.join(c.rjust(w) for c, w in zip(cols, widths)))
    for name, rep in reports.items():
        lines.append(row(name, rep['sensitivity'] + [headline(rep), rep.get('mAP50')]))
    for name, rep in reports.items():
        if not rep.get('subgroups'):
            continue
        sub_w = max(len(f'{a}: {g}') for a, groups in rep['subgroups'].items() for g in groups)
        lines.append('')
        lines.append(f'{name}: sub-groups (ranking and FPs of all detections, sensitivity over the group)')
        lines.append('group'.ljust(sub_w) + '  ' + 'lesions'.rjust(7) + '  '
                     + '  '.join(c.rjust(w) for c, w in zip(cols[:-1], widths)))
        for analysis, groups in rep['subgroups'].items():
            for group, res in groups.items():
                values = (res['sensitivity'] or [None] * len(levels)) + [res['avg']]
                cells = [(f'{100 * v:.2f}' if v is not None else '-').rjust(w) for v, w in zip(values, widths)]
                lines.append(f'{analysis}: {group}'.ljust(sub_w) + '  ' + str(res['num_lesions']).rjust(7) + '  '
                             + '  '.join(cells))
    return '\n'.join(lines)


def dump_report(report: dict, path: str) -> None:
    """Write a report as JSON (the directory is created if needed)."""
    out_dir = osp.dirname(osp.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(report, f, indent=1)


__all__ = [
    'LESION_TYPE_NAMES', 'DIAMETER_GROUPS', 'INTERVAL_GROUPS', 'SUBGROUPS', 'avg_key', 'avg_json_key', 'make_record',
    'subgroup_masks',
    'evaluate_deeplesion', 'headline', 'format_froc_table', 'dump_report'
]
