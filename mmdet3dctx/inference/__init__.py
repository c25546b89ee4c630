"""Running a trained detector on CT studies: model inputs from volumes, 3D linking of 2D detections, result files."""
from .. import HAS_MMDET
from .lesion_linking import LesionFinding, box_iou, link_detections, mask_diameters
from .outputs import (OUTPUT_FILES, existing_outputs, finding_lps, finding_records, label_volume,
                      write_study_outputs)
from .report import render_overlay, write_html_report
from .volume_slices import physical_plan, volume_input_plan, volume_input_spacing, volume_slice_input

__all__ = ['LesionFinding', 'box_iou', 'link_detections', 'mask_diameters', 'volume_slice_input', 'volume_input_plan',
           'physical_plan', 'volume_input_spacing', 'write_study_outputs', 'write_html_report',
           'render_overlay', 'OUTPUT_FILES', 'existing_outputs', 'finding_lps', 'finding_records', 'label_volume']

if HAS_MMDET:  # the detector and its transform need MMDetection
    from .study_detector import CTStudyDetector
    from .transforms import LoadCTVolumeSlices, inference_pipeline
    __all__ += ['CTStudyDetector', 'LoadCTVolumeSlices', 'inference_pipeline']
