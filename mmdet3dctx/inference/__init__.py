"""Running a trained detector on CT studies: model inputs from volumes, 3D linking of 2D detections, reports."""
from .lesion_linking import LesionFinding, box_iou, link_detections, mask_diameters
from .report import render_overlay, write_findings
from .volume_slices import volume_slice_input

__all__ = ['LesionFinding', 'box_iou', 'link_detections', 'mask_diameters', 'volume_slice_input', 'write_findings',
           'render_overlay']

try:  # the detector and its transform need MMDetection
    import mmdet  # noqa: F401
except ModuleNotFoundError as e:
    if e.name != 'mmdet':
        raise
else:
    from .study_detector import CTStudyDetector
    from .transforms import LoadCTVolumeSlices, inference_pipeline
    __all__ += ['CTStudyDetector', 'LoadCTVolumeSlices', 'inference_pipeline']
