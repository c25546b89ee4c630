"""State dicts laid out as the published ImageNet files the configs point at, with their tensor shapes.

Random values (so that loading is visible), the keys and shapes of:

- torchvision's ``densenet121-a639ec97.pth``: ``features.*`` and ``classifier.*``, dense-layer keys in the old form
  (``denselayer1.norm.1.weight``, ``conv.1``, ``norm.2``, ``conv.2``; no ``num_batches_tracked``), or in today's
  form (``norm1``, ``conv1``, ...) as ``torchvision.models.densenet121().state_dict()`` writes them;
- torchvision's ``resnet50-0676ba61.pth`` (``conv1``, ``bn1``, ``layerI.J.convK``/``bnK``, ``downsample.0/1``,
  ``fc``), and the MMDetection form of the same weights (``backbone.`` under ``state_dict``);
- the Swin authors' ``swin_tiny_patch4_window7_224.pth`` (``model`` entry; ``patch_embed.proj``,
  ``layers.I.blocks.J.attn.qkv``, ``relative_position_bias_table``/``_index``, ``attn_mask`` of shifted blocks,
  ``layers.I.downsample.reduction``/``norm``, ``norm``, ``head``).

torchvision itself is not needed (it does not import beside the PyTorch of the tests).
"""
import re
from collections import OrderedDict

import torch

from .torchvision_densenet import TVDenseNet, randomise

_NEW_TO_OLD = re.compile(r'(denselayer\d+\.(?:norm|conv))([12])\.')


def densenet121_torchvision(old_keys: bool = True, seed: int = 0) -> 'OrderedDict[str, torch.Tensor]':
    """torchvision's DenseNet-121 ImageNet weights: the published file's old key form, or today's."""
    state = randomise(TVDenseNet(), seed=seed).state_dict()
    if not old_keys:
        return OrderedDict((k, v.clone()) for k, v in state.items())
    return OrderedDict((_NEW_TO_OLD.sub(r'\1.\2.', k), v.clone()) for k, v in state.items()
                       if not k.endswith('num_batches_tracked'))


def _random(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=g) + 0.5
        else:
            out[key] = torch.randn(shape, generator=g) * 0.1
    return out


def resnet50_torchvision(seed: int = 0) -> 'OrderedDict[str, torch.Tensor]':
    """torchvision's ResNet-50 ImageNet weights (``conv1.weight`` (64, 3, 7, 7) ... ``fc.weight`` (1000, 2048))."""
    shapes = OrderedDict()

    def bn(prefix, c):
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{prefix}.{name}'] = (c, )

    shapes['conv1.weight'] = (64, 3, 7, 7)
    bn('bn1', 64)
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for j in range(blocks):
            p = f'layer{i + 1}.{j}'
            shapes[f'{p}.conv1.weight'] = (planes, inplanes, 1, 1)
            bn(f'{p}.bn1', planes)
            shapes[f'{p}.conv2.weight'] = (planes, planes, 3, 3)
            bn(f'{p}.bn2', planes)
            shapes[f'{p}.conv3.weight'] = (planes * 4, planes, 1, 1)
            bn(f'{p}.bn3', planes * 4)
            if j == 0:
                shapes[f'{p}.downsample.0.weight'] = (planes * 4, inplanes, 1, 1)
                bn(f'{p}.downsample.1', planes * 4)
            inplanes = planes * 4
    shapes['fc.weight'] = (1000, 2048)
    shapes['fc.bias'] = (1000, )
    return _random(shapes, seed)


def resnet50_mmdet(seed: int = 0) -> dict:
    """The same weights as an MMDetection checkpoint: ``backbone.`` keys under ``state_dict``, with ``meta``."""
    state = OrderedDict((f'backbone.{k}', v) for k, v in resnet50_torchvision(seed).items() if not k.startswith('fc.'))
    state['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 256, 1, 1)
    return dict(meta=dict(epoch=12), state_dict=state)


def swin_tiny_original(seed: int = 0) -> dict:
    """The Swin authors' Swin-T ImageNet file (``{'model': state_dict}``), window 7, 224 px."""
    shapes, ints = OrderedDict(), {}
    dims, depths, heads, window, resolution = 96, (2, 2, 6, 2), (3, 6, 12, 24), 7, 56
    shapes['patch_embed.proj.weight'] = (dims, 3, 4, 4)
    shapes['patch_embed.proj.bias'] = (dims, )
    shapes['patch_embed.norm.weight'] = shapes['patch_embed.norm.bias'] = (dims, )
    for i, (depth, h) in enumerate(zip(depths, heads)):
        dim, res = dims * 2**i, resolution // 2**i
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}'
            shapes[f'{p}.norm1.weight'] = shapes[f'{p}.norm1.bias'] = (dim, )
            shapes[f'{p}.attn.relative_position_bias_table'] = ((2 * window - 1)**2, h)
            ints[f'{p}.attn.relative_position_index'] = (window**2, window**2)
            shapes[f'{p}.attn.qkv.weight'] = (3 * dim, dim)
            shapes[f'{p}.attn.qkv.bias'] = (3 * dim, )
            shapes[f'{p}.attn.proj.weight'] = (dim, dim)
            shapes[f'{p}.attn.proj.bias'] = (dim, )
            shapes[f'{p}.norm2.weight'] = shapes[f'{p}.norm2.bias'] = (dim, )
            shapes[f'{p}.mlp.fc1.weight'] = (4 * dim, dim)
            shapes[f'{p}.mlp.fc1.bias'] = (4 * dim, )
            shapes[f'{p}.mlp.fc2.weight'] = (dim, 4 * dim)
            shapes[f'{p}.mlp.fc2.bias'] = (dim, )
            if j % 2 == 1 and res > window:  # shifted windows: the mask is a buffer of the block
                shapes[f'{p}.attn_mask'] = ((res // window)**2, window**2, window**2)
        if i < len(depths) - 1:
            shapes[f'layers.{i}.downsample.reduction.weight'] = (2 * dim, 4 * dim)
            shapes[f'layers.{i}.downsample.norm.weight'] = shapes[f'layers.{i}.downsample.norm.bias'] = (4 * dim, )
    shapes['norm.weight'] = shapes['norm.bias'] = (dims * 8, )
    shapes['head.weight'] = (1000, dims * 8)
    shapes['head.bias'] = (1000, )
    state = _random(shapes, seed)
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    index = rel[..., 0] * (2 * window - 1) + rel[..., 1]  # Swin's relative position index, (49, 49)
    for key in ints:
        state[key] = index.clone()
    return dict(model=state)
