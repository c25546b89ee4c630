"""Transforms for multi-slice ``(H, W, D)`` CT inputs, registered in MMDetection's ``TRANSFORMS``."""
from .depth_flip import RandomDepthFlip
from .formatting import CT_META_KEYS, PackCTInputs
from .loading import LoadDeepLesionSlices
from .shift_scale_rotate import RandomShiftScaleRotate, warp_affine_nd
from .volume_loading import LoadVolumeSlices

__all__ = [
    'LoadDeepLesionSlices', 'PackCTInputs', 'CT_META_KEYS', 'RandomShiftScaleRotate', 'RandomDepthFlip',
    'warp_affine_nd', 'LoadVolumeSlices'
]
