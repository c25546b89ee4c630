"""The operator comparison of the A3D paper (its Table 2): FROC of every 3D-context operator in one detector.

Input: the FROC reports (``froc.json``) of runs keyed by ``(operator, num_slices, seed)``. Output: per operator
and slice count the sensitivity (%) at 0.5, 1, 2, 4, 8 and 16 FPs per image and the average over 0.5-4, as
mean ± sample standard deviation over seeds, the published figures next to them, and the difference to no
fusion paired by seed. Nothing here trains: ``tools/compare_operators.py`` runs the detectors
(:mod:`mmdet3dctx.apis.operator_runs`) and hands their reports to these functions.
"""
import json
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.ops import CONTEXT_CONVS
from .deeplesion_eval import avg_json_key, avg_key

#: The operators of the paper's Table 2 in its row order: short name (command line, config file prefix) and name
#: in the tables. The registered type is the operator of ``mmdet3dctx.ops.CONTEXT_CONVS`` whose name it shortens.
TABLE2_ROWS = (('nofusion', 'No fusion'), ('i3d', 'I3D'), ('p3d', 'P3D'), ('acs', 'ACS'), ('tsm', 'TSM shift'),
               ('alignshift', 'AlignShift'), ('a3d', 'A3D'))
#: Operator short name -> (name in the tables, registered operator type).
OPERATORS = OrderedDict((short, (label, next(t for t in CONTEXT_CONVS if t[:-len('Conv')].lower() == short)))
                        for short, label in TABLE2_ROWS)
#: The operator every other one is compared with, seed by seed.
BASELINE = 'nofusion'

#: Published DeepLesion figures (%, official test split), keyed by ``(operator, num_slices)``: ``'avg'`` is the
#: mean sensitivity over 0.5, 1, 2 and 4 FPs per image, a number key the sensitivity at that many FPs. Only
#: these figures are recorded with the toolkit; the other cells of the A3D paper's Table 2 (per-level rows,
#: no fusion, I3D, P3D, TSM) are not, and are shown as ``n/a`` rather than guessed.
PUBLISHED = {
    ('a3d', 3): {'avg': 83.98},
    ('a3d', 7): {'avg': 88.11, 0.5: 80.27},
    ('alignshift', 7): {'avg': 87.06},
    ('acs', 7): {'avg': 86.76},
}

RunKey = Tuple[str, int, int]  # (operator, num_slices, seed)


def operator_label(operator: str) -> str:
    """Name of an operator in the tables (``'a3d'`` -> ``'A3D'``); unknown names are returned unchanged."""
    return OPERATORS[operator][0] if operator in OPERATORS else operator


def load_report(path: str) -> dict:
    """Read one run's ``froc.json``, checking it has what the comparison needs.

    Args:
        path (str): The file.

    Returns:
        dict: The report (``fp_levels``, ``sensitivity``, ``avg_levels``, the average, ``curve``).

    Raises:
        ValueError: Naming the file, if it is not valid JSON or lacks a field.
    """
    try:
        with open(path) as f:
            report = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from None
    missing = [k for k in ('fp_levels', 'sensitivity', 'avg_levels', 'curve') if k not in report]
    if not missing and avg_json_key(report['avg_levels']) not in report:
        missing = [avg_json_key(report['avg_levels'])]
    if missing:
        raise ValueError(f'{path}: not a FROC report of DeepLesionMetric/tools/eval_froc.py (missing {missing})')
    return report


def mean_sd(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (``ddof=1``; None for a single value).

    Example:
        >>> mean_sd([0.5, 0.75, 1.0])
        (0.75, 0.25)
        >>> mean_sd([0.5])
        (0.5, None)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError('mean_sd of no values')
    sd = float(np.std(values, ddof=1)) if values.size > 1 else None
    return float(np.mean(values)), sd


def _row_values(report: dict) -> List[float]:
    """Sensitivities at the report's FP levels, then its average (fractions)."""
    return [float(v) for v in report['sensitivity']] + [float(report[avg_json_key(report['avg_levels'])])]


def summarize(reports: Dict[RunKey, dict], baseline: str = BASELINE) -> dict:
    """Mean ± sd over seeds of every (operator, slice count), and the difference to ``baseline`` paired by seed.

    Args:
        reports (dict): ``(operator, num_slices, seed)`` -> FROC report. All reports must share their FP levels
            and averaged levels.
        baseline (str): Operator the others are compared with. Defaults to ``'nofusion'``.

    Returns:
        dict: ``fp_levels``, ``avg_levels``, ``columns`` (the level names then the average's name) and
        ``rows``: a list, ordered by slice count then by :data:`OPERATORS`, of dicts with ``operator``,
        ``num_slices``, ``seeds``, ``mean`` and ``sd`` (one value per column, fractions; ``sd`` entries None for
        one seed), ``published`` (per column, percent or None) and ``paired`` (None for the baseline or without
        a common seed, else ``seeds``, ``mean`` and ``sd`` of the per-seed difference to the baseline).

    Raises:
        ValueError: If the reports disagree on their FP levels.
    """
    if not reports:
        raise ValueError('no run results to summarize')
    first = next(iter(reports.values()))
    fp_levels, avg_levels = [float(f) for f in first['fp_levels']], [float(f) for f in first['avg_levels']]
    for key, rep in reports.items():
        if [float(f) for f in rep['fp_levels']] != fp_levels or [float(f) for f in rep['avg_levels']] != avg_levels:
            raise ValueError(f'run {key}: FP levels {rep["fp_levels"]} / {rep["avg_levels"]} differ from '
                             f'{fp_levels} / {avg_levels} of the other runs')
    order = list(OPERATORS)
    groups: Dict[Tuple[str, int], Dict[int, List[float]]] = {}
    for (op, n, seed), rep in reports.items():
        groups.setdefault((op, int(n)), {})[int(seed)] = _row_values(rep)
    keys = sorted(groups, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else len(order), k[0]))
    rows = []
    for op, n in keys:
        by_seed = groups[(op, n)]
        seeds = sorted(by_seed)
        values = np.array([by_seed[s] for s in seeds])
        stats = [mean_sd(values[:, j]) for j in range(values.shape[1])]
        published = PUBLISHED.get((op, n), {})
        row = dict(operator=op, num_slices=n, seeds=seeds, mean=[m for m, _ in stats], sd=[s for _, s in stats],
                   published=[published.get(f) for f in fp_levels] + [published.get('avg')], paired=None)
        base = groups.get((baseline, n))
        if op != baseline and base:
            common = [s for s in seeds if s in base]
            if common:
                diffs = np.array([np.subtract(by_seed[s], base[s]) for s in common])
                dstats = [mean_sd(diffs[:, j]) for j in range(diffs.shape[1])]
                row['paired'] = dict(seeds=common, mean=[m for m, _ in dstats], sd=[s for _, s in dstats])
        rows.append(row)
    columns = [f'{f:g}' for f in fp_levels] + [avg_key(avg_levels)]
    return dict(fp_levels=fp_levels, avg_levels=avg_levels, columns=columns, baseline=baseline, rows=rows)


def _cell(mean: Optional[float], sd: Optional[float], scale: float = 100., signed: bool = False) -> str:
    if mean is None:
        return 'n/a'
    text = f'{scale * mean:+.2f}' if signed else f'{scale * mean:.2f}'
    return text if sd is None else f'{text} ± {scale * sd:.2f}'


def _table(header: List[str], lines: List[List[str]]) -> List[str]:
    widths = [max(len(r[j]) for r in [header] + lines) for j in range(len(header))]
    out = [header[0].ljust(widths[0]) + '  ' + '  '.join(h.rjust(w) for h, w in zip(header[1:], widths[1:]))]
    for r in lines:
        out.append(r[0].ljust(widths[0]) + '  ' + '  '.join(c.rjust(w) for c, w in zip(r[1:], widths[1:])))
    return out


def format_comparison(summary: dict, data_name: str = 'DeepLesion') -> str:
    """The comparison as text: one block per slice count in the A3D paper's Table 2 layout, then the paired
    differences to the baseline.

    Args:
        summary (dict): From :func:`summarize`.
        data_name (str): What the runs were tested on, for the titles. Defaults to ``'DeepLesion'``.

    Returns:
        str: The tables (percent, two decimals; ``mean ± sd`` where there are several seeds).
    """
    cols = summary['columns']
    lines = []
    for n in sorted({r['num_slices'] for r in summary['rows']}):
        rows = [r for r in summary['rows'] if r['num_slices'] == n]
        seeds = sorted({len(r['seeds']) for r in rows})
        seed_text = ' or '.join(str(s) for s in seeds) + (' seed' if seeds == [1] else ' seeds')
        spread = ', mean ± sd over seeds' if max(seeds) > 1 else ''
        lines.append(f'{data_name}, {n} slices: sensitivity (%) at FPs per image ({seed_text} per operator'
                     f'{spread})')
        table = []
        for r in rows:
            k = len(r['seeds'])
            table.append([f'{operator_label(r["operator"])} ({k} seed{"s" if k > 1 else ""})']
                         + [_cell(m, s) for m, s in zip(r['mean'], r['sd'])])
            if any(v is not None for v in r['published']):
                table.append(['  published'] + [f'{v:.2f}' if v is not None else 'n/a' for v in r['published']])
        lines += _table(['FPs per image'] + cols, table)
        lines.append('')
    paired = [r for r in summary['rows'] if r['paired'] is not None]
    if paired:
        base = operator_label(summary['baseline'])
        lines.append(f'Difference to {base} (percentage points), paired by seed: mean ± sd of the per-seed '
                     'differences')
        table = [[f'{operator_label(r["operator"])}, {r["num_slices"]} slices ({len(r["paired"]["seeds"])} seed'
                  f'{"s" if len(r["paired"]["seeds"]) > 1 else ""})']
                 + [_cell(m, s, signed=True) for m, s in zip(r['paired']['mean'], r['paired']['sd'])]
                 for r in paired]
        lines += _table(['FPs per image'] + cols, table)
        lines.append('')
    lines.append('"published": the figures published for the official DeepLesion test split; n/a where none is '
                 'recorded with the toolkit.')
    unpublished = [f'{operator_label(r["operator"])} {r["num_slices"]} slices' for r in summary['rows']
                   if all(v is None for v in r['published'])]
    if unpublished:
        lines.append('No published figure is recorded with the toolkit for: ' + ', '.join(unpublished) + ' (the '
                     'A3D paper\'s Table 2 has them; compare with the paper itself).')
    return '\n'.join(lines).rstrip('\n')


def mean_curves(reports: Dict[RunKey, dict], points: int = 200) -> 'OrderedDict[str, dict]':
    """One report-like dict per (operator, slice count) for :func:`~mmdet3dctx.evaluation.froc_plot.plot_froc`:
    the seeds' FROC curves averaged on a common log-spaced grid, and their mean table values.

    Args:
        reports (dict): ``(operator, num_slices, seed)`` -> FROC report.
        points (int): Points of the common grid. Defaults to 200.

    Returns:
        OrderedDict[str, dict]: ``'<Operator>, <n> slices'`` -> ``fp_levels``, ``sensitivity``, ``avg_levels``,
        the average and ``curve``, ordered as :func:`summarize`'s rows.
    """
    summary = summarize(reports)
    lo = min(min(r['curve']['fp_per_image']) for r in reports.values())
    hi = max(max(r['curve']['fp_per_image']) for r in reports.values())
    grid = np.geomspace(lo, max(hi, lo * 1.01), points)
    out = OrderedDict()
    for row in summary['rows']:
        runs = [rep for (op, n, _), rep in reports.items() if op == row['operator'] and n == row['num_slices']]
        curves = []
        for rep in runs:
            fp = np.asarray(rep['curve']['fp_per_image'], dtype=np.float64)
            sens = np.asarray(rep['curve']['sensitivity'], dtype=np.float64)
            curves.append(np.interp(grid, fp, sens))  # beyond the ends: the end values
        label = f'{operator_label(row["operator"])}, {row["num_slices"]} slices'
        out[label] = {
            'fp_levels': summary['fp_levels'],
            'sensitivity': row['mean'][:-1],
            'avg_levels': summary['avg_levels'],
            avg_json_key(summary['avg_levels']): row['mean'][-1],
            'curve': dict(fp_per_image=grid.tolist(), sensitivity=np.mean(curves, axis=0).tolist()),
        }
    return out


def summary_to_json(summary: dict, run_files: Dict[RunKey, str]) -> dict:
    """The summary with the ``froc.json`` of every run it was built from (JSON-serialisable)."""
    runs = [dict(operator=op, num_slices=n, seed=s, froc_json=path) for (op, n, s), path in sorted(run_files.items())]
    return dict(summary, runs=runs)


__all__ = [
    'OPERATORS', 'BASELINE', 'PUBLISHED', 'operator_label', 'load_report', 'mean_sd', 'summarize',
    'format_comparison', 'mean_curves', 'summary_to_json'
]
