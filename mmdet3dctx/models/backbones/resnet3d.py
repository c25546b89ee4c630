"""MMDetection's ResNet converted to a 3D-context backbone."""
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch
from mmengine.model import BaseModule

from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmdet3dctx.ops import convert_2d_to_3d, input_slice_interval_operators
from ._utils import context_conv_cfg, strip_prefixes


def resnet_2d_keys(state_dict: Mapping[str, torch.Tensor]) -> Tuple['OrderedDict', Dict[str, str]]:
    """torchvision / MMDetection / MMPretrain ResNet keys -> the keys of MMDetection's ``ResNet`` (and so of
    :class:`ResNet3D` and :class:`~mmdet3dctx.models.ThickenedResNet`).

    The names already agree (``conv1``, ``bn1``, ``layerI.J.convK``, ``downsample.0/1``); ``module.`` and
    ``backbone.`` are removed and the classifier (``fc.*``, MMPretrain's ``head.*``) is dropped.

    Example:
        >>> import torch
        >>> sd, dropped = resnet_2d_keys({'backbone.layer1.0.conv1.weight': torch.ones(1), 'fc.bias': torch.ones(1)})
        >>> list(sd), dropped
        (['layer1.0.conv1.weight'], {'fc.bias': 'classification head'})
    """
    out, dropped = OrderedDict(), {}
    for key, value in strip_prefixes(state_dict).items():
        if key.startswith(('fc.', 'head.')):
            dropped[key] = 'classification head'
        else:
            out[key] = value
    return out, dropped


@MODELS.register_module()
class ResNet3D(ResNet):
    """MMDetection's :class:`~mmdet.models.backbones.ResNet` turned into a 3D-context backbone.

    The 2D ResNet is built (and initialised) as usual, then every layer is converted with
    :func:`mmdet3dctx.ops.convert_2d_to_3d`: convolutions of the residual stages become ``context_conv``, the
    stem convolution ``stem_context_conv`` (per slice by default), BN/GN/pools their in-plane 3D forms; D is
    kept and the strides act in-plane. Parameter names are those of ``ResNet``, so MMDetection ResNet configs
    and checkpoints carry over: ``init_cfg=dict(type='Pretrained2D', checkpoint=<file or URL>)`` loads a 2D
    checkpoint (torchvision's ``resnet50-0676ba61.pth``, ``torchvision://resnet50`` or an MMDetection one) with
    the RGB stem reduced to grey and I3D kernels inflated (:class:`~mmdet3dctx.pretraining.Pretrained2DInit`);
    ``type='Pretrained'`` is MMEngine's plain loading of a checkpoint of this 3D backbone.

    With an operator that needs the slice interval of each sample (AlignShift), the backbone is called through
    :func:`~mmdet3dctx.ops.call_with_input_slice_interval` (the detectors do it with the data samples' values),
    which binds it to the converted operators, as MMDetection's blocks cannot pass it. ``with_cp`` is refused with
    such an operator: MMDetection's blocks checkpoint inside themselves, and their recomputation in backward runs
    after the binding has ended.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        num_slices (int): D, the number of input slices. Default: 7.
        context_conv (dict): Operator of the residual stages. Default: ``dict(type='A3DConv')``.
        stem_context_conv (dict): Operator of the stem convolution(s). Default: ``dict(type='NoFusionConv')``.
        in_channels (int): Input channels. Default: 1.
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
                 init_cfg: OptMultiConfig = None,
                 **kwargs) -> None:
        for key in ('dcn', 'plugins'):
            if kwargs.get(key):
                raise ValueError(f'ResNet3D: {key} cannot be converted to 3D')
        if kwargs.get('pretrained'):
            raise ValueError('ResNet3D: use init_cfg=dict(type="Pretrained2D", checkpoint=<file or URL>)')
        super().__init__(depth=depth, in_channels=in_channels, init_cfg=None, **kwargs)
        super().init_weights()  # the 2D initialisation (Kaiming convs, constant norms), then convert
        self.num_slices = num_slices
        self.context_conv = context_conv_cfg(context_conv, num_slices)
        self.stem_context_conv = context_conv_cfg(stem_context_conv, num_slices)
        for name, child in list(self.named_children()):
            is_stem = name in ('conv1', 'stem')
            cfg = self.stem_context_conv if is_stem else self.context_conv
            setattr(self, name, convert_2d_to_3d(child, cfg))
        interval_ops = sorted({type(m).__name__ for m in input_slice_interval_operators(self)})
        if interval_ops and self.with_cp:
            raise ValueError(f'ResNet3D: with_cp cannot be combined with {", ".join(interval_ops)}: the slice '
                             'interval (input_slice_interval) must be bound while MMDetection\'s checkpointed blocks '
                             'are recomputed in backward, after the binding has ended; set with_cp=False')
        self.init_cfg = init_cfg
        self._is_init = init_cfg is None
        self._freeze_stages()

    def convert_2d_state_dict(self, state_dict: Mapping[str, torch.Tensor],
                              rgb_to_grey: Optional[str] = 'sum') -> Tuple['OrderedDict', Dict[str, str]]:
        """A 2D ResNet checkpoint in this backbone's names (:func:`resnet_2d_keys`); shapes are left to
        ``Pretrained2D``. Returns the state dict and ``{dropped key: reason}``."""
        return resnet_2d_keys(state_dict)

    def init_weights(self) -> None:
        """The init_cfg (``Pretrained2D``: 2D ImageNet weights); without one the weights are those of the 2D
        initialisation done at construction."""
        if not self._is_init:
            BaseModule.init_weights(self)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """``(N, C, D, H, W)`` -> ``(N, C_i, D, H / s_i, W / s_i)`` for each of ``out_indices``."""
        if x.dim() != 5:
            raise ValueError(f'ResNet3D expects (N, C, D, H, W) input, got shape {tuple(x.shape)}')
        return super().forward(x)

    def train(self, mode: bool = True) -> 'ResNet3D':
        """As ``ResNet.train`` (frozen stages, ``norm_eval``), returning the module like ``nn.Module.train``."""
        super().train(mode)
        return self
