"""A 2D DenseNet with torchvision's module layout (torchvision itself is not a dependency of the tests).

``TVDenseNet().state_dict()`` has the keys of ``torchvision.models.densenet121().state_dict()``
(``features.conv0.weight``, ``features.denseblock1.denselayer1.norm1.weight``, ..., ``classifier.bias``).
"""
from collections import OrderedDict

import torch
import torch.nn as nn


class _DenseLayer(nn.Module):

    def __init__(self, in_channels, growth_rate, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, features):
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class _DenseBlock(nn.ModuleDict):

    def __init__(self, num_layers, in_channels, growth_rate, bn_size):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f'denselayer{i + 1}', _DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.add_module('norm', nn.BatchNorm2d(in_channels))
        self.add_module('relu', nn.ReLU(inplace=True))
        self.add_module('conv', nn.Conv2d(in_channels, out_channels, 1, bias=False))
        self.add_module('pool', nn.AvgPool2d(2, 2))


class TVDenseNet(nn.Module):
    """torchvision's DenseNet (121 by default), RGB input; ``blocks(x)`` returns each dense block's output."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict([('conv0', nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
                         ('norm0', nn.BatchNorm2d(num_init_features)), ('relu0', nn.ReLU(inplace=True)),
                         ('pool0', nn.MaxPool2d(3, 2, 1))]))
        c = num_init_features
        for i, n in enumerate(block_config):
            self.features.add_module(f'denseblock{i + 1}', _DenseBlock(n, c, growth_rate, bn_size))
            c += n * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f'transition{i + 1}', _Transition(c, c // 2))
                c //= 2
        self.features.add_module('norm5', nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def blocks(self, x):
        outs = []
        for name, m in self.features.named_children():
            if name == 'norm5':
                break
            x = m(x)
            if name.startswith('denseblock'):
                outs.append(x)
        return outs


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and random BN statistics (so that loading them is visible)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(('running_mean', 'bias')):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.dim() == 1:  # norm weights
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:  # kernels: He-like scale keeps activations O(1) through deep nets
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in)**0.5)
    model.eval()
    return model
