"""DeepLesion evaluation: the FROC protocol (numpy only), saved detections and their ground truth
(``detection_results``) and, with MMDetection installed, ``DeepLesionMetric``.

``froc`` and ``detection_results`` are importable without MMDetection; ``DeepLesionMetric`` registers itself in
``mmdet.registry.METRICS`` when this package is imported (``import mmdet3dctx`` does it).
"""
from .. import HAS_MMDET
from .deeplesion_eval import dump_report, evaluate_deeplesion, format_froc_table
from .detection_results import EvalError, build_records, find_ann_file, load_ground_truth, read_results
from .froc import (DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS, FROCMatch, box_overlaps, froc_curve,
                   interp_sensitivity, match_detections, sensitivity_at_fp)
from .froc_plot import plot_froc

__all__ = [
    'DEFAULT_AVG_LEVELS', 'DEFAULT_FP_LEVELS', 'FROCMatch', 'box_overlaps', 'froc_curve',
    'interp_sensitivity', 'match_detections', 'sensitivity_at_fp', 'evaluate_deeplesion', 'format_froc_table',
    'dump_report', 'plot_froc', 'EvalError', 'find_ann_file', 'load_ground_truth', 'read_results', 'build_records'
]

if HAS_MMDET:
    from .deeplesion_metric import DeepLesionMetric  # noqa: F401  (registers the metric)
    __all__ += ['DeepLesionMetric']
