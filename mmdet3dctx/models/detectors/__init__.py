from .context_mask_rcnn import ContextMaskRCNN
from .key_group_rpn_mask_rcnn import KeyGroupRPNMaskRCNN

__all__ = ['ContextMaskRCNN', 'KeyGroupRPNMaskRCNN']
