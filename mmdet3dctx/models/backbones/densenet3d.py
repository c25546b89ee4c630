"""Truncated DenseNet-121 on ``(N, 1, D, H, W)`` CT volumes with a 3D-context operator in every dense layer."""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmdet3dctx.ops import bind_input_slice_interval, bound_input_slice_interval
from ._utils import COMMON_PREFIXES, FrozenStagesMixin, context_conv_cfg, strip_prefixes

# torchvision's published densenet121-a639ec97.pth: ``denselayerN.norm.1.weight`` for today's ``norm1.weight``
_OLD_DENSE_KEY = re.compile(r'^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|'
                            r'running_var|num_batches_tracked))$')


def densenet_2d_keys(state_dict: Mapping[str, torch.Tensor]) -> Tuple['OrderedDict', Dict[str, str]]:
    """torchvision DenseNet keys -> :class:`DenseNet3D` keys.

    ``features.`` (and ``module.``/``backbone.``) is removed; the old form of torchvision's published file
    (``denselayerN.norm.1``, ``conv.1``, ``norm.2``, ``conv.2``) and today's (``norm1``, ``conv1``, ...) both
    become ``norm1``/``conv1``/``norm2``/``conv2``; ``classifier.*`` and ``norm5.*`` (not part of the truncated
    backbone) are dropped.

    Returns:
        tuple: the renamed state dict and ``{dropped source key: reason}``.

    Example:
        >>> import torch
        >>> sd, dropped = densenet_2d_keys({'features.denseblock1.denselayer1.norm.1.weight': torch.ones(2),
        ...                                 'classifier.weight': torch.ones(2, 2)})
        >>> list(sd), dropped
        (['denseblock1.denselayer1.norm1.weight'], {'classifier.weight': 'classification head'})
    """
    out, dropped = OrderedDict(), {}
    for key, value in strip_prefixes(state_dict, COMMON_PREFIXES + ('features.', )).items():
        m = _OLD_DENSE_KEY.match(key)
        if m:
            key = m.group(1) + m.group(2)
        if key.startswith('classifier.'):
            dropped[key] = 'classification head'
        elif key.startswith('norm5.'):
            dropped[key] = 'final norm (after the dropped block 4)'
        else:
            out[key] = value
    return out, dropped


class DenseLayer3D(BaseModule):
    """One pre-activation dense layer: ``norm-ReLU-conv1x1`` (bottleneck) then ``norm-ReLU-conv3x3``.

    Both convolutions are the 3D-context operator ``conv_cfg``; ``with_cp`` checkpoints the bottleneck. Operators
    that need the slice interval read the value bound around the call
    (:func:`~mmdet3dctx.ops.bind_input_slice_interval`); the checkpointed bottleneck is recomputed in backward,
    after that binding has ended, so it binds again the value that was bound when its forward ran.

    Args:
        in_channels (int): Channels of the concatenated input features.
        growth_rate (int): Output channels.
        bn_size (int): Bottleneck width as a multiple of ``growth_rate``.
        conv_cfg (dict): The context operator config.
        norm_cfg (dict): Norm config (3D).
        with_cp (bool): Checkpoint the bottleneck.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 growth_rate: int,
                 bn_size: int,
                 conv_cfg: ConfigType,
                 norm_cfg: ConfigType,
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        mid = bn_size * growth_rate
        self.add_module('norm1', build_norm_layer(norm_cfg, in_channels)[1])
        self.relu = nn.ReLU(inplace=True)
        self.add_module('conv1', build_conv_layer(conv_cfg, in_channels, mid, 1, stride=1, padding=0, bias=False))
        self.add_module('norm2', build_norm_layer(norm_cfg, mid)[1])
        self.add_module('conv2', build_conv_layer(conv_cfg, mid, growth_rate, 3, stride=1, padding=1, bias=False))
        self.with_cp = with_cp

    def bottleneck(self, features: List[torch.Tensor]) -> torch.Tensor:
        """``norm-ReLU-conv1x1`` on the concatenated ``features``: ``(N, sum C_i, D, H, W) -> (N, mid, D, H, W)``."""
        x = torch.cat(features, 1)
        return self.conv1(self.relu(self.norm1(x)))

    def _bottleneck_bound_to(self, input_slice_interval: Optional[torch.Tensor], *features: torch.Tensor
                             ) -> torch.Tensor:
        """:meth:`bottleneck` with ``input_slice_interval`` bound, so its recomputation in backward sees it."""
        with bind_input_slice_interval(self.conv1, input_slice_interval):
            return self.bottleneck(list(features))

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        """``features``: the block input and the outputs of the previous layers, each ``(N, C_i, D, H, W)``.

        Returns:
            Tensor: ``(N, growth_rate, D, H, W)``.
        """
        if self.with_cp and self.training and any(f.requires_grad for f in features):
            interval = bound_input_slice_interval(self.conv1)
            x = cp.checkpoint(self._bottleneck_bound_to, interval, *features, use_reentrant=False)
        else:
            x = self.bottleneck(features)
        return self.conv2(self.relu(self.norm2(x)))


class DenseBlock3D(nn.ModuleDict):
    """``num_layers`` dense layers; returns the concatenation of the input and every layer's output."""

    def __init__(self, num_layers: int, in_channels: int, **layer_kwargs) -> None:
        super().__init__()
        growth = layer_kwargs['growth_rate']
        for i in range(num_layers):
            self.add_module(f'denselayer{i + 1}', DenseLayer3D(in_channels + i * growth, **layer_kwargs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition3D(nn.Sequential):
    """``norm-ReLU-conv1x1`` per slice (halving channels) then in-plane 2x2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: ConfigType) -> None:
        super().__init__()
        self.add_module('norm', build_norm_layer(norm_cfg, in_channels)[1])
        self.add_module('relu', nn.ReLU(inplace=True))
        self.add_module('conv', build_conv_layer(dict(type='NoFusionConv'), in_channels, out_channels, 1,
                                                 bias=False))
        self.add_module('pool', nn.AvgPool3d((1, 2, 2), (1, 2, 2)))


@MODELS.register_module()
class DenseNet3D(FrozenStagesMixin, BaseModule):
    """Truncated DenseNet-121 for CT volumes, the backbone of A3D and AlignShift.

    From "Asymmetric 3D Context Fusion for Universal Lesion Detection" (A3D, MICCAI 2021) and "AlignShift"
    (MICCAI 2020): DenseNet-121 cut after dense block 3 on a grey ``(N, 1, D, H, W)`` input. The stem
    (7x7/2 conv, norm, ReLU, 3x3/2 max-pool) and the transitions (1x1 conv, 2x2 average pool) act per slice and
    in-plane; both convolutions of every dense layer are the 3D-context operator ``context_conv`` (any operator
    of :mod:`mmdet3dctx.ops`). D is kept throughout. Outputs 3D maps of 256/512/1024 channels at strides
    4/8/16 (with the default sizes).

    Module names follow torchvision's ``densenet121().features`` (``conv0``, ``denseblock1.denselayer1.conv1``,
    ``transition1.conv``, ...). ``init_cfg=dict(type='Pretrained2D', checkpoint=<file or URL of torchvision's
    densenet121-a639ec97.pth>)`` loads the 2D ImageNet weights (:class:`~mmdet3dctx.pretraining.Pretrained2DInit`,
    keys renamed by :meth:`convert_2d_state_dict`): the RGB stem is reduced to grey and kernels of I3D are
    inflated. ``type='Pretrained'`` is MMEngine's plain loading of a checkpoint of this 3D backbone.

    With an operator that needs the slice interval of each sample (AlignShift), the backbone is called through
    :func:`~mmdet3dctx.ops.call_with_input_slice_interval` (the detectors do it with the data samples' values),
    which binds it to the operators; ``with_cp`` keeps working with it.

    Args:
        num_slices (int): D, the number of input slices (A3D's fusion weights depend on it). Default: 7.
        context_conv (dict): The 3D-context operator, e.g. ``dict(type='A3DConv')``; ``num_slices`` is filled
            in for A3D. Default: ``dict(type='A3DConv')``.
        in_channels (int): Input channels (1 for grey CT). Default: 1.
        block_config (Sequence[int]): Dense layers per block. Default: (6, 12, 24).
        growth_rate (int): Channels added by each dense layer. Default: 32.
        bn_size (int): Bottleneck width in multiples of ``growth_rate``. Default: 4.
        num_init_features (int): Stem channels. Default: 64.
        out_indices (Sequence[int]): Blocks whose outputs are returned. Default: (0, 1, 2).
        norm_cfg (dict): Norm config; ``BN3d``, ``SyncBN`` or ``GN``. Default: ``dict(type='BN3d')``.
        norm_eval (bool): Keep norm layers in eval mode (frozen statistics) during training. Default: False.
        frozen_stages (int): Freeze the stem (0) and blocks up to this index (1-based); -1 freezes nothing.
            Default: -1.
        with_cp (bool): Checkpoint each dense layer's bottleneck to save memory. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.

    Example:
        >>> import torch
        >>> from mmdet3dctx.models import DenseNet3D
        >>> self = DenseNet3D(num_slices=3, block_config=(2, 2, 2)).eval()
        >>> outputs = self(torch.rand(1, 1, 3, 64, 64))
        >>> for out in outputs:
        ...     print(tuple(out.shape))
        (1, 128, 3, 16, 16)
        (1, 128, 3, 8, 8)
        (1, 128, 3, 4, 4)
    """

    def __init__(self,
                 num_slices: int = 7,
                 context_conv: ConfigType = dict(type='A3DConv'),
                 in_channels: int = 1,
                 block_config: Sequence[int] = (6, 12, 24),
                 growth_rate: int = 32,
                 bn_size: int = 4,
                 num_init_features: int = 64,
                 out_indices: Sequence[int] = (0, 1, 2),
                 norm_cfg: ConfigType = dict(type='BN3d', requires_grad=True),
                 norm_eval: bool = False,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not block_config:
            raise ValueError('DenseNet3D: block_config must list at least one block')
        if any(i < 0 or i >= len(block_config) for i in out_indices):
            raise ValueError(f'DenseNet3D: out_indices {tuple(out_indices)} out of range for '
                             f'{len(block_config)} blocks (block_config={tuple(block_config)})')
        self.num_slices = num_slices
        self.context_conv = context_conv_cfg(context_conv, num_slices)
        self.block_config = tuple(block_config)
        self.out_indices = tuple(out_indices)
        self.norm_eval = norm_eval
        self.frozen_stages = frozen_stages

        self.add_module('conv0', build_conv_layer(dict(type='NoFusionConv'), in_channels, num_init_features, 7,
                                                  stride=2, padding=3, bias=False))
        self.add_module('norm0', build_norm_layer(norm_cfg, num_init_features)[1])
        self.relu0 = nn.ReLU(inplace=True)
        self.pool0 = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))

        channels = num_init_features
        self.out_channels: List[int] = []
        self.block_names: List[str] = []
        num_blocks = max(self.out_indices) + 1
        for i, num_layers in enumerate(self.block_config[:num_blocks]):
            if i > 0:
                self.add_module(f'transition{i}', Transition3D(channels, channels // 2, norm_cfg))
                channels //= 2
            block = DenseBlock3D(num_layers, channels, growth_rate=growth_rate, bn_size=bn_size,
                                 conv_cfg=self.context_conv, norm_cfg=norm_cfg, with_cp=with_cp)
            self.add_module(f'denseblock{i + 1}', block)
            self.block_names.append(f'denseblock{i + 1}')
            channels += num_layers * growth_rate
            self.out_channels.append(channels)
        self._freeze_stages()

    def _frozen_modules(self) -> List[nn.Module]:
        modules = []
        if self.frozen_stages >= 0:
            modules += [self.conv0, self.norm0]
        for i in range(1, self.frozen_stages + 1):
            if i > 1:
                modules.append(getattr(self, f'transition{i - 1}'))
            if i <= len(self.block_names):
                modules.append(getattr(self, f'denseblock{i}'))
        return modules

    def convert_2d_state_dict(self, state_dict: Mapping[str, torch.Tensor],
                              rgb_to_grey: Optional[str] = 'sum') -> Tuple['OrderedDict', Dict[str, str]]:
        """A 2D DenseNet checkpoint in this backbone's names (:func:`densenet_2d_keys`); shapes are left to
        ``Pretrained2D``. Returns the state dict and ``{dropped key: reason}``."""
        return densenet_2d_keys(state_dict)

    def init_weights(self) -> None:
        """Kaiming init of convolutions without an init_cfg; otherwise the init_cfg (``Pretrained2D``: 2D
        ImageNet weights)."""
        super().init_weights()
        if self.init_cfg is None:
            for m in self.modules():
                w = getattr(m, 'weight', None)
                if isinstance(w, nn.Parameter) and w.dim() >= 4 and hasattr(m, 'in_channels'):
                    nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Args:
            x (Tensor): ``(N, 1, D, H, W)``.

        Returns:
            tuple[Tensor]: ``(N, C_i, D, H / s_i, W / s_i)`` for each of ``out_indices``.
        """
        if x.dim() != 5:
            raise ValueError(f'DenseNet3D expects (N, C, D, H, W) input, got shape {tuple(x.shape)}')
        x = self.pool0(self.relu0(self.norm0(self.conv0(x))))
        outs = []
        for i, name in enumerate(self.block_names):
            if i > 0:
                x = getattr(self, f'transition{i}')(x)
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
