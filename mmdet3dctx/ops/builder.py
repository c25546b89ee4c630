"""Building a 3D-context convolution from a config dict without MMDetection (pure PyTorch)."""
from typing import Dict, Type, Union

import torch.nn as nn

from .a3d import A3DConv
from .acs import ACSConv, SoftACSConv
from .align_shift import AlignShiftConv
from .i3d import I3DConv
from .no_fusion import NoFusionConv
from .p3d import P3DConv
from .shift import TSMConv

#: every 3D-context operator by class name, no fusion first (MMDetection's ``MODELS`` registers these; the
#: benchmarks and the GPU check, :mod:`mmdet3dctx.apis.gpu_check`, iterate over them)
CONTEXT_CONVS: Dict[str, Type[nn.Module]] = {
    cls.__name__: cls
    for cls in (NoFusionConv, A3DConv, ACSConv, SoftACSConv, I3DConv, P3DConv, TSMConv, AlignShiftConv)
}


def get_context_conv_class(type_: Union[str, Type[nn.Module]]) -> Type[nn.Module]:
    """The operator class for a name such as ``'A3DConv'`` (or a class, returned as is)."""
    if isinstance(type_, type):
        return type_
    if type_ not in CONTEXT_CONVS:
        raise KeyError(f'unknown 3D-context operator {type_!r}; known: {sorted(CONTEXT_CONVS)}')
    return CONTEXT_CONVS[type_]


def build_context_conv(cfg: dict, *args, **kwargs) -> nn.Module:
    """Build an operator from ``cfg = dict(type='A3DConv', num_slices=7, ...)`` plus ``nn.Conv2d``-style
    arguments ``(in_channels, out_channels, kernel_size, stride=..., ...)``."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'a context-conv config must be a dict with a "type" key, got {cfg!r}')
    cfg = dict(cfg)
    cls = get_context_conv_class(cfg.pop('type'))
    return cls(*args, **kwargs, **cfg)
