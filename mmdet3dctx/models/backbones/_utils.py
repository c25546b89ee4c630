"""Helpers shared by the 3D backbones: building context operators, calling them with the slice thickness,
loading 2D (RGB) checkpoints into grey 3D models."""
import inspect
from typing import Optional

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.runner.checkpoint import CheckpointLoader

from mmdet3dctx.ops import A3DConv, get_context_conv_class, inflate_state_dict


def context_conv_cfg(context_conv: Optional[dict], num_slices: int) -> dict:
    """A copy of ``context_conv`` with ``num_slices`` filled in for operators that take it (A3D).

    Raises a ``KeyError``/``TypeError`` naming ``context_conv`` for a bad config.
    """
    if context_conv is None:
        context_conv = dict(type='NoFusionConv')
    if not isinstance(context_conv, dict) or 'type' not in context_conv:
        raise TypeError(f'context_conv must be a dict with a "type" key, got {context_conv!r}')
    cfg = dict(context_conv)
    try:
        cls = get_context_conv_class(cfg['type'])
    except KeyError as e:
        raise KeyError(f'context_conv: {e.args[0]}') from None
    if issubclass(cls, A3DConv) or 'num_slices' in inspect.signature(cls.__init__).parameters:
        given = cfg.setdefault('num_slices', num_slices)
        if given != num_slices:
            raise ValueError(f'context_conv.num_slices={given} differs from the backbone num_slices={num_slices}')
    return cfg


def needs_thickness(module: nn.Module) -> bool:
    """Whether any operator inside ``module`` needs the per-sample slice thickness (AlignShift)."""
    return any(getattr(m, 'needs_thickness', False) for m in module.modules())


def call_conv(conv: nn.Module, x: torch.Tensor, thickness: Optional[torch.Tensor]) -> torch.Tensor:
    """``conv(x, thickness)`` for operators that need the slice thickness, ``conv(x)`` otherwise."""
    if getattr(conv, 'needs_thickness', False):
        return conv(x, thickness)
    return conv(x)


def load_2d_checkpoint(model: nn.Module,
                       checkpoint: str,
                       prefix: Optional[str] = None,
                       inflate: str = 'average',
                       rgb_mode: str = 'sum',
                       logger: str = 'current') -> dict:
    """Load a 2D checkpoint (a local file: no download) into a 3D-context model.

    Keys are matched after removing ``prefix``; equal shapes are copied, 2D kernels whose target is 3D are
    inflated (``inflate``) and RGB stems reduced to one grey channel (``rgb_mode``); see
    :func:`mmdet3dctx.ops.inflate_state_dict`. Returns the report of that function.
    """
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu', logger=logger)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if prefix:
        if not prefix.endswith('.'):
            prefix += '.'
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise KeyError(f'init_cfg.prefix={prefix!r} matches no key of {checkpoint}')
    converted, report = inflate_state_dict(state, model.state_dict(), inflate=inflate, rgb_mode=rgb_mode)
    model.load_state_dict(converted, strict=False)
    print_log(f'{type(model).__name__}: loaded {checkpoint}: {len(report["copied"])} copied, '
              f'{len(report["inflated"])} inflated, {len(report["rgb_reduced"])} RGB->grey, '
              f'{len(report["shape_mismatch"])} shape mismatches, {len(report["missing"])} missing, '
              f'{len(report["unexpected"])} unexpected', logger=MMLogger.get_current_instance())
    return report
