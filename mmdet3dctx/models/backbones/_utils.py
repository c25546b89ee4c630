"""Helpers shared by the 3D backbones: the config of their context operators, frozen stages and norms in training
mode, renaming the keys of 2D checkpoints."""
import inspect
from collections import OrderedDict
from typing import List, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet3dctx.ops import A3DConv, get_context_conv_class

#: wrappers removed from the keys of every 2D checkpoint (DataParallel, MMDetection / MMPretrain models)
COMMON_PREFIXES = ('module.', 'backbone.')


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


def strip_prefixes(state_dict: Mapping[str, torch.Tensor], prefixes: Sequence[str] = COMMON_PREFIXES) -> 'OrderedDict':
    """Remove each of ``prefixes`` (in order) from the keys that start with it.

    Example:
        >>> import torch
        >>> list(strip_prefixes({'module.backbone.conv1.weight': torch.zeros(1)}))
        ['conv1.weight']
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        for p in prefixes:
            if key.startswith(p):
                key = key[len(p):]
        out[key] = value
    return out


class FrozenStagesMixin:
    """``frozen_stages`` and ``norm_eval`` for a backbone written from scratch, as MMDetection's ``ResNet`` has them.

    The backbone lists the modules of its frozen stages in :meth:`_frozen_modules` and sets ``self.norm_eval``;
    :meth:`_freeze_stages` (call it at the end of ``__init__``) puts them in eval mode without gradients, and
    :meth:`train` keeps them so, and every BatchNorm in eval mode with ``norm_eval``.
    """
    norm_eval: bool

    def _frozen_modules(self) -> List[nn.Module]:
        """The stem and stages that ``frozen_stages`` freezes."""
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        """Set train mode, keeping frozen stages and (with ``norm_eval``) BatchNorm layers in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
