"""Argument normalisation and input checks shared by the 3D-context operators (pure PyTorch)."""
from typing import Sequence, Tuple, Union

import torch

IntOrSeq = Union[int, Sequence[int]]


def to_pair(value: IntOrSeq, name: str) -> Tuple[int, int]:
    """Return ``(h, w)`` from an int or a 2-sequence."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f'{name} must be an int or a pair (h, w), got {value}')
    return value


def to_triple_inplane(value: IntOrSeq, name: str, depth_default: int) -> Tuple[int, int, int]:
    """An int acts in-plane only: ``s -> (depth_default, s, s)``; a 3-tuple ``(d, h, w)`` is taken as is;
    a pair ``(h, w)`` is completed with ``depth_default``."""
    if isinstance(value, int):
        return (depth_default, value, value)
    value = tuple(int(v) for v in value)
    if len(value) == 2:
        return (depth_default, ) + value
    if len(value) != 3:
        raise ValueError(f'{name} must be an int, (h, w) or (d, h, w), got {value}')
    return value


def to_triple(value: IntOrSeq, name: str) -> Tuple[int, int, int]:
    """``nn.Conv3d`` semantics: an int acts on all three axes; a 3-tuple ``(d, h, w)`` is taken as is."""
    if isinstance(value, int):
        return (value, value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 3:
        raise ValueError(f'{name} must be an int or (d, h, w), got {value}')
    return value


def check_5d(module: torch.nn.Module, x: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is a ``(N, C, D, H, W)`` tensor with the module's channels."""
    if not isinstance(x, torch.Tensor) or x.dim() != 5:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f'{type(module).__name__} expects a 5-D input (N, C, D, H, W), got {shape}')
    in_channels = getattr(module, 'in_channels', None)
    if in_channels is not None and x.shape[1] != in_channels:
        raise ValueError(f'{type(module).__name__} was built for {in_channels} input channels, '
                         f'got input of shape {tuple(x.shape)}')
