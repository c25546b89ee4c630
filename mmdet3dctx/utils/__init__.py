"""Small utilities shared by the package and the tools."""
from .atomic_files import atomic_output, read_json, save_npy_atomic, write_json_atomic
from .checkpoint import BACKBONE_CHECKPOINT_OPTION, allow_mmengine_checkpoints, read_checkpoint, read_state_dict
from .config_path import get_config_path, get_tool_path
from .config_refs import ConfigReferenceError, check_config_resolved, find_config_refs, resolve_config_refs

__all__ = [
    'allow_mmengine_checkpoints', 'read_checkpoint', 'read_state_dict', 'BACKBONE_CHECKPOINT_OPTION', 'get_config_path',
    'get_tool_path', 'resolve_config_refs', 'find_config_refs', 'check_config_resolved', 'ConfigReferenceError',
    'atomic_output', 'write_json_atomic', 'save_npy_atomic', 'read_json'
]
