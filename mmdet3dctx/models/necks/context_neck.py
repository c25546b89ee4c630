"""A 3D -> 2D reduction followed by any MMDetection 2D neck."""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig


@MODELS.register_module()
class ContextNeck(BaseModule):
    """Turn the 3D feature levels of a 3D-context backbone into 2D maps, then apply a 2D neck.

    ``reduction`` (default :class:`SliceReduction`) takes ``(N, C, D, H, W)`` levels to ``(N, C, H, W)``;
    ``neck`` is any MMDetection neck (``FPN``, ``ChannelMapper``, :class:`TopDownFusion`, ...) or None.
    ``reduction.in_channels`` defaults to ``neck.in_channels``.

    Args:
        reduction (dict): Config of the 3D -> 2D reduction, e.g.
            ``dict(type='SliceReduction', mode='conv', num_slices=7)``.
        neck (dict, optional): Config of the 2D neck. Default: None (reduction only).
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.

    Example:
        >>> import torch
        >>> self = ContextNeck(
        ...     reduction=dict(type='SliceReduction', mode='center', num_slices=3),
        ...     neck=dict(type='TopDownFusion', in_channels=[8, 16], out_channels=32))
        >>> outs = self((torch.rand(1, 8, 3, 32, 32), torch.rand(1, 16, 3, 16, 16)))
        >>> print(tuple(outs[0].shape))
        (1, 32, 32, 32)
    """

    def __init__(self,
                 reduction: ConfigType = dict(type='SliceReduction', mode='conv'),
                 neck: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        reduction = dict(reduction)
        reduction.setdefault('type', 'SliceReduction')
        if 'in_channels' not in reduction:
            if neck is None or 'in_channels' not in neck:
                raise KeyError('ContextNeck: set reduction.in_channels (or neck.in_channels)')
            reduction['in_channels'] = neck['in_channels']
        self.reduction = MODELS.build(reduction)
        self.neck = MODELS.build(neck) if neck is not None else None

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """3D levels ``(N, C_i, D, H_i, W_i)`` -> the 2D neck's outputs."""
        outs = self.reduction(inputs)
        if self.neck is not None:
            outs = self.neck(list(outs))
        return tuple(outs)
