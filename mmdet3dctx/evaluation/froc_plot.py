"""FROC curves of one or several runs on one figure (log-scaled FP axis), written to an image file."""
from typing import Dict, Optional, Sequence

import numpy as np


def plot_froc(reports: Dict[str, dict], out_file: str, title: Optional[str] = None,
              fp_levels: Optional[Sequence[float]] = None, styles: Optional[Dict[str, dict]] = None) -> str:
    """Draw the FROC curve of every run and save the figure.

    Uses Matplotlib's object API with the Agg canvas, so it neither needs a display nor changes the global
    backend or pyplot state of the caller.

    Args:
        reports (dict[str, dict]): Run name -> report from
            :func:`mmdet3dctx.evaluation.deeplesion_eval.evaluate_deeplesion` (its ``curve``,
            ``fp_levels``, ``sensitivity`` and headline average are drawn).
        out_file (str): Image path; the format follows the extension (``.png``, ``.pdf``, ``.svg``).
        title (str, optional): Figure title. Defaults to ``'DeepLesion FROC'``.
        fp_levels (Sequence[float], optional): Levels marked on the x axis. Defaults to the first report's.
        styles (dict[str, dict], optional): Run name -> Matplotlib line properties (``color``, ``linestyle``).
            Defaults to None (Matplotlib's colour cycle, solid lines).

    Returns:
        str: ``out_file``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .deeplesion_eval import avg_key, headline

    first = next(iter(reports.values()))
    levels = list(fp_levels if fp_levels is not None else first['fp_levels'])
    fig = Figure(figsize=(6, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for name, rep in reports.items():
        curve = rep['curve']
        label = f'{name} ({avg_key(rep["avg_levels"])} {100 * headline(rep):.2f})'
        line, = ax.plot(curve['fp_per_image'], 100 * np.asarray(curve['sensitivity']), label=label,
                        **(styles or {}).get(name, {}))
        ax.plot(rep['fp_levels'], 100 * np.asarray(rep['sensitivity']), 'o', color=line.get_color(), ms=4)
    ax.set_xscale('log', base=2)
    positive = [f for f in levels if f > 0]
    if positive:
        ax.set_xlim(min(positive) / 1.5, max(positive) * 1.5)
        ax.set_xticks(positive)
        ax.set_xticklabels([f'{f:g}' for f in positive])
    ax.set_ylim(0, 100)
    ax.set_xlabel('false positives per image')
    ax.set_ylabel('sensitivity (%)')
    ax.set_title(title or 'DeepLesion FROC')
    ax.grid(True, which='major', alpha=0.4)
    ax.legend(loc='lower right', fontsize='small')
    fig.tight_layout()
    fig.savefig(out_file)
    return out_file
