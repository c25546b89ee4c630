"""Small utilities shared by the tools."""
from .checkpoint import allow_mmengine_checkpoints

__all__ = ["allow_mmengine_checkpoints"]
