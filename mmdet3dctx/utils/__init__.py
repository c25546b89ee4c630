"""Small utilities shared by the tools."""
from .checkpoint import allow_mmengine_checkpoints
from .config_path import get_config_path, get_tool_path

__all__ = ["allow_mmengine_checkpoints", "get_config_path", "get_tool_path"]
