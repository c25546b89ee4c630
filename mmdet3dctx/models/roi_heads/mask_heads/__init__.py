from .dice_fcn_mask_head import DiceFCNMaskHead

__all__ = ['DiceFCNMaskHead']
