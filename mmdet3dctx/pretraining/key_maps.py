"""Rename the keys of 2D ImageNet checkpoints (torchvision / MMDetection layouts) to those of the 3D backbones.

A 2D checkpoint and a 3D backbone name the same weights differently: torchvision's DenseNet-121 keeps its
layers under ``features.`` (older releases wrote ``norm.1`` for ``norm1``), MMDetection detectors under
``backbone.``, and :class:`~mmdet3dctx.models.MP3DResNet` wraps each conv in an MMCV ``ConvModule``
(``conv1.conv``, ``conv1.gn``) where ResNet has ``conv1``/``bn1``. Each function here returns the renamed state
dict and the source keys it dropped on purpose (with the reason); shapes are dealt with later by
:func:`mmdet3dctx.ops.inflate_state_dict`.
"""
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn

#: wrappers stripped from every key before matching (DataParallel, MMDetection detectors, torchvision)
COMMON_PREFIXES = ('module.', 'backbone.')
_OLD_DENSE_KEY = re.compile(r'^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|'
                            r'running_var|num_batches_tracked))$')

StateDict = Dict[str, torch.Tensor]


def strip_prefixes(state_dict: Mapping[str, torch.Tensor], prefixes=COMMON_PREFIXES) -> 'OrderedDict':
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


def densenet_2d_to_3d(state_dict: Mapping[str, torch.Tensor]) -> Tuple[StateDict, Dict[str, str]]:
    """torchvision DenseNet keys -> :class:`~mmdet3dctx.models.DenseNet3D` keys.

    ``features.`` is removed, old-style ``denselayerN.norm.1.weight`` becomes ``denselayerN.norm1.weight``;
    ``classifier.*`` and ``norm5.*`` (not part of the truncated backbone) are dropped.

    Returns:
        tuple: the renamed state dict and ``{dropped source key: reason}``.

    Example:
        >>> import torch
        >>> sd, dropped = densenet_2d_to_3d({'features.denseblock1.denselayer1.norm.1.weight': torch.ones(2),
        ...                                  'classifier.weight': torch.ones(2, 2)})
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


def resnet_2d_to_3d(state_dict: Mapping[str, torch.Tensor]) -> Tuple[StateDict, Dict[str, str]]:
    """torchvision / MMDetection ResNet keys -> :class:`~mmdet3dctx.models.ResNet3D` keys.

    The names already agree (``conv1``, ``bn1``, ``layerI.J.convK``, ``downsample.0/1``); ``module.`` and
    ``backbone.`` are removed and the classifier ``fc.*`` is dropped.

    Example:
        >>> import torch
        >>> sd, dropped = resnet_2d_to_3d({'backbone.layer1.0.conv1.weight': torch.ones(1), 'fc.bias': torch.ones(1)})
        >>> list(sd), dropped
        (['layer1.0.conv1.weight'], {'fc.bias': 'classification head'})
    """
    out, dropped = OrderedDict(), {}
    for key, value in strip_prefixes(state_dict).items():
        if key.startswith('fc.'):
            dropped[key] = 'classification head'
        else:
            out[key] = value
    return out, dropped


_RESNET_UNIT = {'1': 'conv1', '2': 'conv_s', '3': 'conv3'}  # bottleneck conv index -> MP3D ConvModule


def resnet_2d_to_mp3d(state_dict: Mapping[str, torch.Tensor],
                      model: Optional[nn.Module] = None) -> Tuple[StateDict, Dict[str, str]]:
    """ResNet-50-style bottleneck keys -> :class:`~mmdet3dctx.models.MP3DResNet` keys.

    ``conv1``/``bn1`` -> ``stem.conv``/``stem.<norm>``; in ``layerI.J``: ``convK``/``bnK`` -> ``conv1``,
    ``conv_s`` (the 3x3 kernel becomes the spatial ``1x3x3`` conv of the P3D unit), ``conv3`` (each ``.conv``
    and ``.<norm>``); ``downsample.0/1`` keep their names. ``<norm>`` is the norm layer name of the target
    ``ConvModule`` (``gn`` for GroupNorm, ``bn`` for BN), read from ``model`` when given. The depth convs
    ``conv_t`` have no 2D counterpart. ``fc.*`` and basic-block keys (ResNet-18/34 have no ``conv3``) are
    mapped by the same rule and then fail the shape check, so they are reported, not guessed.

    Example:
        >>> import torch
        >>> sd, _ = resnet_2d_to_mp3d({'layer1.0.conv2.weight': torch.ones(1), 'layer1.0.bn2.bias': torch.ones(1),
        ...                            'conv1.weight': torch.ones(1)})
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
        if key.startswith('fc.'):
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
