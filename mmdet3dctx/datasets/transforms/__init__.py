"""Transforms for multi-slice ``(H, W, D)`` CT inputs, registered in MMDetection's ``TRANSFORMS``."""
from .depth_flip import RandomDepthFlip
from .loading import LoadDeepLesionSlices
from .shift_scale_rotate import RandomShiftScaleRotate, warp_affine_nd

__all__ = ['LoadDeepLesionSlices', 'RandomShiftScaleRotate', 'RandomDepthFlip', 'warp_affine_nd']
