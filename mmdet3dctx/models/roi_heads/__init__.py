from .mask_heads import DiceFCNMaskHead

__all__ = ['DiceFCNMaskHead']
