"""Operating points: a detection score threshold given as a number or read off a validation ``froc.json``.

``froc.json`` (written by ``DeepLesionMetric`` and ``tools/eval_froc.py``) records, for every FP level of its
table, the lowest score threshold whose kept detections make at most that many FPs per image on the split it
was computed on (``score_thresholds``, see :meth:`mmdet3dctx.evaluation.froc.FROCMatch.operating_points`).
``'work_dirs/a3d_7slice/froc.json:4'`` therefore names the threshold that gave 4 FPs per image on validation.
"""
import argparse
import json
import os.path as osp
from typing import Union


class ScoreThresholdError(ValueError, argparse.ArgumentTypeError):
    """A score threshold that cannot be resolved; argparse shows its message as the argument's error."""


def resolve_score_threshold(spec: Union[str, float]) -> float:
    """A score threshold from a number or from ``FROC_JSON:FP`` (the threshold at FP false positives per image).

    Args:
        spec (str | float): ``0.5``, ``'0.5'`` or ``'path/to/froc.json:4'`` (the FP level must be one of the
            file's ``fp_levels``, e.g. 0.5, 1, 2, 4, 8 or 16).

    Returns:
        float: The threshold (keep detections with ``score >= threshold``).

    Raises:
        ScoreThresholdError: (a ``ValueError``) naming the file and the problem: not a number and not
            ``FILE:FP``, missing or unreadable file, a file without thresholds (written before they were
            recorded: evaluate again), an FP level not in the file (the levels it has are listed), or a level
            that no threshold reaches on that split.

    Example:
        >>> resolve_score_threshold('0.3')
        0.3
    """
    if isinstance(spec, (int, float)):
        return float(spec)
    text = str(spec).strip()
    try:
        return float(text)
    except ValueError:
        pass
    path, sep, level_text = text.rpartition(':')
    if not sep or not path:
        raise ScoreThresholdError(f'score threshold {text!r}: give a number (e.g. 0.5) or FROC_JSON:FP '
                                  '(e.g. work_dirs/a3d_7slice/froc.json:4)')
    try:
        level = float(level_text)
    except ValueError:
        raise ScoreThresholdError(f'score threshold {text!r}: {level_text!r} after the last ":" is not an FP '
                                  'level (a number such as 4)') from None
    if not osp.isfile(path):
        raise ScoreThresholdError(f'score threshold {text!r}: {path} not found (a froc.json written by '
                                  'tools/test.py, the validation of tools/train.py or tools/eval_froc.py)')
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ScoreThresholdError(f'{path}: cannot read it as JSON ({e})') from None
    if not isinstance(report, dict) or 'fp_levels' not in report:
        raise ScoreThresholdError(f'{path}: not a FROC report (no fp_levels)')
    levels = [float(f) for f in report['fp_levels']]
    thresholds = report.get('score_thresholds')
    if thresholds is None or len(thresholds) != len(levels):
        raise ScoreThresholdError(f'{path}: has no score_thresholds (written by an older version); evaluate the '
                                  'checkpoint again (tools/test.py) to record them')
    if level not in levels:
        raise ScoreThresholdError(f'{path}: FP level {level:g} is not in the file; it has '
                                  f'{", ".join(f"{f:g}" for f in levels)}')
    thr = thresholds[levels.index(level)]
    if thr is None:
        raise ScoreThresholdError(f'{path}: no score threshold keeps the false positives at or below {level:g} '
                                  'per image on that split (its top-scored detections already exceed it); '
                                  'choose a higher FP level')
    return float(thr)


__all__ = ['ScoreThresholdError', 'resolve_score_threshold']
