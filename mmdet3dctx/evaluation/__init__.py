"""DeepLesion evaluation: the FROC protocol (numpy only) and, with MMDetection installed, ``DeepLesionMetric``.

``froc`` is importable without MMDetection; ``DeepLesionMetric`` registers itself in ``mmdet.registry.METRICS``
when this package is imported (``import mmdet3dctx`` does it).
"""
from .froc import (DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS, FROCMatch, box_overlaps, froc_curve,
                   interp_sensitivity, match_detections, sensitivity_at_fp)

__all__ = [
    'DEFAULT_AVG_LEVELS', 'DEFAULT_FP_LEVELS', 'FROCMatch', 'box_overlaps', 'froc_curve',
    'interp_sensitivity', 'match_detections', 'sensitivity_at_fp'
]
