"""The single-level top-down 2D neck of A3D and AlignShift."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig


@MODELS.register_module()
class TopDownFusion(BaseModule):
    """Top-down fusion of 2D levels into one map at the finest stride (A3D, AlignShift, MULAN's design).

    Each level goes through a lateral 1x1 conv to ``out_channels``; from the coarsest level down, the running
    map is upsampled (nearest, to the finer level's size) and added to the finer lateral. Only the finest map is
    returned (stride 4 with DenseNet3D), as a one-tuple for single-level RPN and RoI heads.

    Args:
        in_channels (Sequence[int]): Channels of each input level, finest first.
        out_channels (int): Channels of the lateral convs and the output. Default: 512.
        conv_cfg (dict, optional): Conv config of the laterals. Default: None.
        norm_cfg (dict, optional): Norm config of the laterals. Default: None.
        act_cfg (dict, optional): Activation of the laterals. Default: None.
        upsample_cfg (dict): Arguments of ``F.interpolate``. Default: ``dict(mode='nearest')``.
        init_cfg (dict or list[dict], optional): Initialization config.
            Default: Xavier-uniform on the convs.

    Example:
        >>> import torch
        >>> in_channels = [256, 512, 1024]
        >>> inputs = [torch.rand(1, c, 64 // 2**i, 64 // 2**i) for i, c in enumerate(in_channels)]
        >>> self = TopDownFusion(in_channels, 512)
        >>> outputs = self(inputs)
        >>> for out in outputs:
        ...     print(tuple(out.shape))
        (1, 512, 64, 64)
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int = 512,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 act_cfg: OptConfigType = None,
                 upsample_cfg: dict = dict(mode='nearest'),
                 init_cfg: OptMultiConfig = dict(type='Xavier', layer='Conv2d', distribution='uniform')) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels: List[int] = list(in_channels)
        self.out_channels = out_channels
        self.upsample_cfg = dict(upsample_cfg)
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c in self.in_channels)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        """``(N, C_i, H_i, W_i)`` per level, finest first -> ``((N, out_channels, H_0, W_0),)``."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'TopDownFusion was built for {len(self.in_channels)} levels, got {len(inputs)}')
        out = self.lateral_convs[-1](inputs[-1])
        for i in range(len(inputs) - 2, -1, -1):
            lateral = self.lateral_convs[i](inputs[i])
            out = lateral + F.interpolate(out, size=lateral.shape[-2:], **self.upsample_cfg)
        return (out, )
