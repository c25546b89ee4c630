"""DeepLesion evaluation: the FROC protocol (numpy only), saved detections and their ground truth
(``detection_results``) and, with MMDetection installed, ``DeepLesionMetric``; the 3D FROC per patient volume
(``volume_froc``, LUNA16's protocol) and its reading of ``findings.json`` files against a prepared volume dataset
(``volume_dataset_eval``).

``froc``, ``detection_results``, ``volume_froc`` and ``volume_dataset_eval`` are importable without MMDetection;
``DeepLesionMetric`` and ``VolumeFROCMetric`` (the 3D FROC of a detector run over prepared volumes, with the
key-slice FROC beside it) register themselves in ``mmdet.registry.METRICS`` when this package is imported
(``import mmdet3dctx`` does it).
"""
from .. import HAS_MMDET
from .deeplesion_eval import dump_report, evaluate_deeplesion, format_froc_table
from .detection_results import EvalError, build_records, find_ann_file, load_ground_truth, read_results
from .froc import (DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS, FROCMatch, box_overlaps, froc_curve,
                   interp_sensitivity, match_detections, sensitivity_at_fp)
from .froc_plot import plot_froc
from .volume_dataset_eval import FindingsError, evaluate_findings, load_volume_records, read_findings
from .volume_froc import (DEFAULT_VOLUME_FP_LEVELS, LesionMap, VolumeEvalError, evaluate_volumes,
                          format_volume_froc_table, match_volumes, volume_record)

__all__ = [
    'DEFAULT_AVG_LEVELS', 'DEFAULT_FP_LEVELS', 'FROCMatch', 'box_overlaps', 'froc_curve',
    'interp_sensitivity', 'match_detections', 'sensitivity_at_fp', 'evaluate_deeplesion', 'format_froc_table',
    'dump_report', 'plot_froc', 'EvalError', 'find_ann_file', 'load_ground_truth', 'read_results', 'build_records',
    'DEFAULT_VOLUME_FP_LEVELS', 'LesionMap', 'VolumeEvalError', 'evaluate_volumes', 'format_volume_froc_table',
    'match_volumes', 'volume_record', 'FindingsError', 'evaluate_findings', 'load_volume_records', 'read_findings'
]

if HAS_MMDET:
    from .deeplesion_metric import DeepLesionMetric  # noqa: F401  (registers the metric)
    from .volume_froc_metric import VolumeFROCMetric  # noqa: F401  (registers the metric)
    __all__ += ['DeepLesionMetric', 'VolumeFROCMetric']
