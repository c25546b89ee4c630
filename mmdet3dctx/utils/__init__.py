"""Small utilities shared by the package and the tools."""
from .checkpoint import BACKBONE_CHECKPOINT_OPTION, allow_mmengine_checkpoints, read_state_dict

__all__ = ['allow_mmengine_checkpoints', 'read_state_dict', 'BACKBONE_CHECKPOINT_OPTION']
