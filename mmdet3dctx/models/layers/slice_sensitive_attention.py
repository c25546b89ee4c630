"""Slice-sensitive attention: a channel-wise non-local block from key-slice features to fused features."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule


class SliceSensitiveAttention(BaseModule):
    """Channel-wise non-local attention that makes fused multi-slice features key-slice specific.

    ``q = θ(pool(K))``, ``k = φ(pool(F))`` (1×1 convs on maps average-pooled to the same side, at most
    ``pool_size``), channel affinity ``A = softmax(q kᵀ / √P)`` ``(N, C, C)`` (between channels, not pixels),
    ``Y = A · g(F)`` over the full-resolution fused map, returned as ``F + W_z(Y)`` (highway connection; ``W_z``
    starts at zero so the block starts as the identity on ``F``). The key may come from an earlier stage, with
    other channels and a larger map than ``F`` (thickened 2D networks link the pre-fusion features of the first
    stage to the outputs of the later stages).

    Args:
        channels (int): C of the fused input (and of the output).
        pool_size (int): largest side of the pooled maps the affinity is computed on. Default: 32.
        key_channels (int, optional): channels of the key input. Default: None (= ``channels``).
        init_cfg (dict, optional): Initialization config. Default: None.

    Inputs: ``key`` ``(N, C_k, H_k, W_k)`` (the key group's pre-fusion features), ``fused`` ``(N, C, H, W)``.

    Example:
        >>> import torch
        >>> ssa = SliceSensitiveAttention(128, key_channels=64)
        >>> tuple(ssa(torch.rand(2, 64, 32, 32), torch.rand(2, 128, 16, 16)).shape)
        (2, 128, 16, 16)
    """

    def __init__(self, channels: int, pool_size: int = 32, key_channels: Optional[int] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pool_size = pool_size
        self.theta = nn.Conv2d(key_channels or channels, channels, 1)
        self.phi = nn.Conv2d(channels, channels, 1)
        self.g = nn.Conv2d(channels, channels, 1)
        self.w_z = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.w_z.weight)
        nn.init.zeros_(self.w_z.bias)

    def forward(self, key: torch.Tensor, fused: torch.Tensor) -> torch.Tensor:
        n, c, h, w = fused.shape
        size = (min(self.pool_size, h), min(self.pool_size, w))
        q = self.theta(F.adaptive_avg_pool2d(key, size)).flatten(2)
        k = self.phi(F.adaptive_avg_pool2d(fused, size)).flatten(2)
        affinity = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)  # (N, C, C)
        y = (affinity @ self.g(fused).flatten(2)).view(n, c, h, w)
        return fused + self.w_z(y)
