"""Pretraining and weight transfer: 2D checkpoints into 3D backbones, COCO as pseudo-3D, slice-count transfer."""
from .pretrained_2d import Pretrained2DInit, summarise_keys
from .rgb_to_pseudo3d import RGBToPseudo3D
from .slice_transfer import (format_transfer_table, transfer_a3d_matrix, transfer_depth_kernel,
                             transfer_state_dict)
from .synthetic_coco import COCO_CATEGORIES, make_synthetic_coco

__all__ = [
    'Pretrained2DInit', 'summarise_keys', 'RGBToPseudo3D', 'make_synthetic_coco', 'COCO_CATEGORIES',
    'transfer_state_dict', 'transfer_depth_kernel', 'transfer_a3d_matrix', 'format_transfer_table'
]
