from .context_mask_rcnn import ContextMaskRCNN

__all__ = ['ContextMaskRCNN']
