"""Pretraining and weight transfer: 2D checkpoints into 3D backbones, COCO as pseudo-3D, slice-count transfer.

The synthetic COCO-format set of the pretraining demo is made by ``mmdet3dctx.testing.make_synthetic_coco``.
"""
from .pretrained_2d import Pretrained2DInit, summarise_keys
from .rgb_to_pseudo3d import RGBToPseudo3D
from .slice_transfer import (format_transfer_table, transfer_a3d_matrix, transfer_depth_kernel,
                             transfer_state_dict)

__all__ = [
    'Pretrained2DInit', 'summarise_keys', 'RGBToPseudo3D', 'transfer_state_dict', 'transfer_depth_kernel',
    'transfer_a3d_matrix', 'format_transfer_table'
]
