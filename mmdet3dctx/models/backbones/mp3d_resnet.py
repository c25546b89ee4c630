"""The modified pseudo-3D ResNet of MP3D FPN."""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule, Sequential

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from ._utils import FrozenStagesMixin, strip_prefixes

P3D_TYPES = ('A', 'B', 'C')
_RESNET_UNIT = {'1': 'conv1', '2': 'conv_s', '3': 'conv3'}  # bottleneck conv index -> MP3D ConvModule


def resnet_2d_to_mp3d_keys(state_dict: Mapping[str, torch.Tensor],
                           model: Optional[nn.Module] = None) -> Tuple['OrderedDict', Dict[str, str]]:
    """ResNet-50-style bottleneck keys -> :class:`MP3DResNet` keys.

    ``conv1``/``bn1`` -> ``stem.conv``/``stem.<norm>``; in ``layerI.J``: ``convK``/``bnK`` -> ``conv1``,
    ``conv_s`` (the 3x3 kernel becomes the spatial ``1x3x3`` conv of the P3D unit), ``conv3`` (each ``.conv``
    and ``.<norm>``); ``downsample.0/1`` keep their names. ``<norm>`` is the norm layer name of the target
    ``ConvModule`` (``gn`` for GroupNorm, ``bn`` for BN), read from ``model`` when given. The depth convs
    ``conv_t`` have no 2D counterpart. Basic-block keys (ResNet-18/34 have no ``conv3``) are mapped by the same
    rule and then fail the shape check, so they are reported, not guessed.

    Example:
        >>> import torch
        >>> sd, _ = resnet_2d_to_mp3d_keys({'layer1.0.conv2.weight': torch.ones(1),
        ...                                 'layer1.0.bn2.bias': torch.ones(1), 'conv1.weight': torch.ones(1)})
        >>> list(sd)
        ['layer1.0.conv_s.conv.weight', 'layer1.0.conv_s.gn.bias', 'stem.conv.weight']
    """

    def norm_name(path: str) -> str:
        if model is not None:
            try:
                return model.get_submodule(path).norm_name
            except AttributeError:
                pass
        return 'gn'

    out, dropped = OrderedDict(), {}
    for key, value in strip_prefixes(state_dict).items():
        if key.startswith(('fc.', 'head.')):
            dropped[key] = 'classification head'
            continue
        m = re.match(r'^(conv|bn)1\.(\w+)$', key)
        if m:
            kind, param = m.groups()
            out[f'stem.conv.{param}' if kind == 'conv' else f'stem.{norm_name("stem")}.{param}'] = value
            continue
        m = re.match(r'^(layer\d+\.\d+)\.(conv|bn)([123])\.(\w+)$', key)
        if m:
            block, kind, idx, param = m.groups()
            unit = f'{block}.{_RESNET_UNIT[idx]}'
            out[f'{unit}.conv.{param}' if kind == 'conv' else f'{unit}.{norm_name(unit)}.{param}'] = value
            continue
        out[key] = value  # downsample.0/1 and anything else: same name
    return out, dropped


class P3DBottleneck(BaseModule):
    """P3D bottleneck: ``1x1x1`` conv (in-plane stride) -> P3D-A/B/C unit -> ``1x1x1`` conv to 4x planes.

    The unit combines a spatial ``1x3x3`` conv ``S`` and a depth ``3x1x1`` conv ``T``, each followed by norm
    and ReLU: A = ``T(S(x))``, B = ``S(x) + T(x)``, C = ``s + T(s)`` with ``s = S(x)``.

    Args:
        in_channels (int): Input channels.
        planes (int): Bottleneck channels; the output has ``4 * planes``.
        p3d_type (str): 'A', 'B' or 'C'.
        stride (int): In-plane stride (carried by the first ``1x1x1`` conv and the shortcut).
        conv_cfg (dict): Conv config. Default: ``dict(type='Conv3d')``.
        norm_cfg (dict): Norm config. Default: ``dict(type='GN', num_groups=32)``.
        with_cp (bool): Checkpoint the block. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config.
    """
    expansion = 4

    def __init__(self,
                 in_channels: int,
                 planes: int,
                 p3d_type: str,
                 stride: int = 1,
                 conv_cfg: ConfigType = dict(type='Conv3d'),
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if p3d_type not in P3D_TYPES:
            raise ValueError(f'p3d_type must be one of {P3D_TYPES}, got {p3d_type!r}')
        self.p3d_type = p3d_type
        self.with_cp = with_cp
        out_channels = planes * self.expansion
        kw = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, bias=False)
        self.conv1 = ConvModule(in_channels, planes, 1, stride=(1, stride, stride), **kw)
        self.conv_s = ConvModule(planes, planes, (1, 3, 3), padding=(0, 1, 1), **kw)
        self.conv_t = ConvModule(planes, planes, (3, 1, 1), padding=(1, 0, 0), **kw)
        self.conv3 = ConvModule(planes, out_channels, 1, act_cfg=None, **kw)
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                build_conv_layer(conv_cfg, in_channels, out_channels, 1, stride=(1, stride, stride), bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
        else:
            self.downsample = None
        self.relu = nn.ReLU(inplace=True)

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        if self.p3d_type == 'A':
            return self.conv_t(self.conv_s(x))
        if self.p3d_type == 'B':
            return self.conv_s(x) + self.conv_t(x)
        s = self.conv_s(x)
        return s + self.conv_t(s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            out = self.conv3(self.unit(self.conv1(x)))
            identity = x if self.downsample is None else self.downsample(x)
            return out + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x, use_reentrant=False)
        else:
            out = _inner_forward(x)
        return self.relu(out)


@MODELS.register_module()
class MP3DResNet(FrozenStagesMixin, BaseModule):
    """Modified pseudo-3D ResNet of MP3D FPN (Zhang et al., MICCAI 2020, "Revisiting 3D Context Modeling with
    Supervised Pre-training for Universal Lesion Detection in CT Slices").

    Stem ``1x7x7`` conv with stride (1, 2, 2), 64 channels, norm, ReLU, ``1x3x3`` max-pool with stride (1, 2, 2)
    (in-plane only); four stages of :class:`P3DBottleneck` whose middle unit cycles P3D-A/B/C by global block
    index; the in-plane stride (1, 2, 2) of stages 2-4 sits in the first ``1x1x1`` conv. Nothing pools over
    slices ("modified" P3D: isotropic pooling hurts), so D is kept. GN(32) everywhere by default. Outputs
    256/512/1024/2048 channels at strides 4/8/16/32.

    Args:
        depth (int): 63 (stages (3, 4, 6, 3)) or 18 (stages (1, 1, 1, 1), a light variant). Default: 63.
        in_channels (int): Input channels. Default: 1.
        base_channels (int): Stem channels and planes of the first stage. Default: 64.
        out_indices (Sequence[int]): Stages whose outputs are returned. Default: (0, 1, 2, 3).
        frozen_stages (int): Freeze the stem (0) and stages up to this index (1-based). Default: -1.
        stem_pool_kernel (Sequence[int]): ``(d, h, w)`` kernel of the stem max-pool (stride (1, 2, 2), padding
            ``k // 2`` per axis). Default: (1, 3, 3), the paper's: no pooling over slices. ``(3, 3, 3)`` mixes
            neighbouring slices (the earlier default of this toolkit).
        conv_cfg (dict): Conv config. Default: ``dict(type='Conv3d')``.
        norm_cfg (dict): Norm config. Default: ``dict(type='GN', num_groups=32)``.
        norm_eval (bool): Keep BN layers in eval mode while training. Default: False.
        with_cp (bool): Checkpoint each block. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config.
            Default: Kaiming on convs, constant 1 on norms.

    Example:
        >>> import torch
        >>> self = MP3DResNet(depth=18).eval()
        >>> outputs = self(torch.rand(1, 1, 3, 64, 64))
        >>> for out in outputs:
        ...     print(tuple(out.shape))
        (1, 256, 3, 16, 16)
        (1, 512, 3, 8, 8)
        (1, 1024, 3, 4, 4)
        (1, 2048, 3, 2, 2)
    """
    arch_settings = {18: (1, 1, 1, 1), 63: (3, 4, 6, 3)}

    def __init__(self,
                 depth: int = 63,
                 in_channels: int = 1,
                 base_channels: int = 64,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 stem_pool_kernel: Sequence[int] = (1, 3, 3),
                 conv_cfg: ConfigType = dict(type='Conv3d'),
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = [
                     dict(type='Kaiming', layer='Conv3d'),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'MP3DResNet: invalid depth {depth}; choose from {sorted(self.arch_settings)}')
        self.depth = depth
        self.stage_blocks = self.arch_settings[depth]
        if any(i < 0 or i >= len(self.stage_blocks) for i in out_indices):
            raise ValueError(f'MP3DResNet: out_indices {tuple(out_indices)} must be in 0..3')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.stem = ConvModule(in_channels, base_channels, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3),
                               conv_cfg=conv_cfg, norm_cfg=norm_cfg, bias=False)
        if len(stem_pool_kernel) != 3 or any(k < 1 or k % 2 == 0 for k in stem_pool_kernel):
            raise ValueError(f'MP3DResNet: stem_pool_kernel must be three odd sizes (d, h, w), got {stem_pool_kernel}')
        self.maxpool = nn.MaxPool3d(tuple(stem_pool_kernel), stride=(1, 2, 2),
                                    padding=tuple(k // 2 for k in stem_pool_kernel))
        channels, block_index = base_channels, 0
        self.res_layers = []
        self.out_channels = []
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    P3DBottleneck(channels, planes, P3D_TYPES[block_index % 3], stride=2 if (i > 0 and j == 0)
                                  else 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, with_cp=with_cp))
                channels = planes * P3DBottleneck.expansion
                block_index += 1
            name = f'layer{i + 1}'
            self.add_module(name, Sequential(*blocks))
            self.res_layers.append(name)
            self.out_channels.append(channels)
        self._freeze_stages()

    def convert_2d_state_dict(self, state_dict: Mapping[str, torch.Tensor],
                              rgb_to_grey: Optional[str] = 'sum') -> Tuple['OrderedDict', Dict[str, str]]:
        """A 2D ResNet-50-style checkpoint in this backbone's names (:func:`resnet_2d_to_mp3d_keys`); shapes
        are left to ``Pretrained2D``. Returns the state dict and ``{dropped key: reason}``."""
        return resnet_2d_to_mp3d_keys(state_dict, self)

    def start_depth_convs_as_spatial(self) -> List[str]:
        """Set the depth convs ``conv_t`` of the P3D units so each unit starts as its spatial conv when the
        norms are identities: centre-tap identity for P3D-A (``T(S(x)) = S(x)`` since ``S(x) >= 0``), zeros for
        P3D-B and P3D-C (``T = 0``). Used after loading 2D weights (``Pretrained2D(depth_init='identity')``);
        returns the keys set."""
        names = []
        for name, m in self.named_modules():
            if not isinstance(m, P3DBottleneck):
                continue
            w = m.conv_t.conv.weight
            with torch.no_grad():
                w.zero_()
                if m.p3d_type == 'A':
                    idx = torch.arange(w.shape[0])
                    w[idx, idx, w.shape[2] // 2] = 1.0
            names.append(f'{name}.conv_t.conv.weight')
        return names

    def _frozen_modules(self) -> List[nn.Module]:
        modules = [self.stem] if self.frozen_stages >= 0 else []
        return modules + [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """``(N, C, D, H, W)`` -> ``(N, C_i, D, H / s_i, W / s_i)`` for each of ``out_indices``."""
        if x.dim() != 5:
            raise ValueError(f'MP3DResNet expects (N, C, D, H, W) input, got shape {tuple(x.shape)}')
        x = self.maxpool(self.stem(x))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
