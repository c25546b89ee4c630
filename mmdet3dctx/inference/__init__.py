"""Running a trained detector on CT studies: model inputs from volumes, 3D linking of 2D detections."""
from .lesion_linking import LesionFinding, box_iou, link_detections, mask_diameters
from .volume_slices import volume_slice_input

__all__ = ['LesionFinding', 'box_iou', 'link_detections', 'mask_diameters', 'volume_slice_input']
