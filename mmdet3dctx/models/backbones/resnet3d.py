"""MMDetection's ResNet converted to a 3D-context backbone."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmdet3dctx.ops import bind_thickness, convert_2d_to_3d
from ._utils import context_conv_cfg, load_2d_checkpoint, needs_thickness


@MODELS.register_module()
class ResNet3D(ResNet):
    """MMDetection's :class:`~mmdet.models.backbones.ResNet` turned into a 3D-context backbone.

    The 2D ResNet is built (and initialised) as usual, then every layer is converted with
    :func:`mmdet3dctx.ops.convert_2d_to_3d`: convolutions of the residual stages become ``context_conv``, the
    stem convolution ``stem_context_conv`` (per slice by default), BN/GN/pools their in-plane 3D forms; D is
    kept and the strides act in-plane. Parameter names are those of ``ResNet``, so MMDetection ResNet configs
    and checkpoints carry over: ``init_cfg=dict(type='Pretrained', checkpoint='resnet50.pth')`` loads a 2D
    checkpoint from a local file with RGB stems reduced to grey and I3D kernels inflated.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        num_slices (int): D, the number of input slices. Default: 7.
        context_conv (dict): Operator of the residual stages. Default: ``dict(type='A3DConv')``.
        stem_context_conv (dict): Operator of the stem convolution(s). Default: ``dict(type='NoFusionConv')``.
        in_channels (int): Input channels. Default: 1.
        rgb_mode (str): RGB -> grey reduction of a pretrained stem. Default: 'sum'.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.
        **kwargs: Any other argument of MMDetection's ``ResNet`` (``num_stages``, ``out_indices``,
            ``frozen_stages``, ``norm_cfg`` (2D: ``BN``, ``SyncBN``, ``GN``), ``norm_eval``, ``style``,
            ``with_cp``, ...).

    Example:
        >>> import torch
        >>> self = ResNet3D(depth=18, num_slices=3).eval()
        >>> outputs = self(torch.rand(1, 1, 3, 64, 64))
        >>> for out in outputs:
        ...     print(tuple(out.shape))
        (1, 64, 3, 16, 16)
        (1, 128, 3, 8, 8)
        (1, 256, 3, 4, 4)
        (1, 512, 3, 2, 2)
    """

    def __init__(self,
                 depth: int,
                 num_slices: int = 7,
                 context_conv: ConfigType = dict(type='A3DConv'),
                 stem_context_conv: ConfigType = dict(type='NoFusionConv'),
                 in_channels: int = 1,
                 rgb_mode: str = 'sum',
                 init_cfg: OptMultiConfig = None,
                 **kwargs) -> None:
        for key in ('dcn', 'plugins'):
            if kwargs.get(key):
                raise ValueError(f'ResNet3D: {key} cannot be converted to 3D')
        if kwargs.get('pretrained'):
            raise ValueError('ResNet3D: use init_cfg=dict(type="Pretrained", checkpoint=<local file>)')
        super().__init__(depth=depth, in_channels=in_channels, init_cfg=None, **kwargs)
        super().init_weights()  # the 2D initialisation (Kaiming convs, constant norms), then convert
        self.num_slices = num_slices
        self.context_conv = context_conv_cfg(context_conv, num_slices)
        self.stem_context_conv = context_conv_cfg(stem_context_conv, num_slices)
        self.rgb_mode = rgb_mode
        for name, child in list(self.named_children()):
            is_stem = name in ('conv1', 'stem')
            cfg = self.stem_context_conv if is_stem else self.context_conv
            setattr(self, name, convert_2d_to_3d(child, cfg))
        self.with_thickness = needs_thickness(self)
        if self.with_thickness and self.with_cp:
            raise ValueError(f'ResNet3D: with_cp cannot be combined with {self.context_conv["type"]}, which '
                             'needs the slice thickness during recomputation')
        self.init_cfg = init_cfg
        self._is_init = init_cfg is None
        self._freeze_stages()

    def init_weights(self) -> None:
        """A ``Pretrained`` init_cfg loads a 2D checkpoint (local file); otherwise the weights are those of the
        2D initialisation done at construction."""
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_2d_checkpoint(self, self.init_cfg['checkpoint'], self.init_cfg.get('prefix'),
                               rgb_mode=self.rgb_mode)
            self._is_init = True
        elif not self._is_init:
            BaseModule.init_weights(self)

    def forward(self, x: torch.Tensor, thickness: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        """``(N, C, D, H, W)`` -> ``(N, C_i, D, H / s_i, W / s_i)`` for each of ``out_indices``.

        ``thickness`` (``(N,)`` slice intervals in mm) is bound to the operators that need it for this call.
        """
        if x.dim() != 5:
            raise ValueError(f'ResNet3D expects (N, C, D, H, W) input, got shape {tuple(x.shape)}')
        if not self.with_thickness:
            return super().forward(x)
        if thickness is None:
            raise ValueError(f'ResNet3D: context_conv {self.context_conv["type"]} needs the slice thickness; '
                             'call forward(x, thickness)')
        with bind_thickness(self, thickness):
            return super().forward(x)

    def train(self, mode: bool = True) -> 'ResNet3D':
        """As ``ResNet.train`` (frozen stages, ``norm_eval``), returning the module like ``nn.Module.train``."""
        super().train(mode)
        return self
