"""3D -> 2D reduction of multi-level ``(N, C, D, H, W)`` feature maps."""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig

REDUCTION_MODES = ('conv', 'gtm', 'center', 'mean')


@MODELS.register_module()
class SliceReduction(BaseModule):
    """Reduce each 3D feature level ``(N, C, D, H, W)`` to a 2D map ``(N, C, H, W)``.

    Modes:

    - ``'conv'``: a ``D x 1 x 1`` Conv3d ``C -> C`` without padding or bias, randomly initialised (A3D,
      AlignShift).
    - ``'gtm'``: the group transform module of MP3D FPN (Zhang et al., MICCAI 2020, "Revisiting 3D Context
      Modeling with Supervised Pre-training for Universal Lesion Detection in CT Slices"): view the map as ``C·D``
      channels (index ``c·D + d``) and apply a 1x1 Conv2d with ``groups=C`` (weight ``(C, D, 1, 1)``), no
      bias, norm or activation: ``y[c] = Σ_d w[c, d] · x[c, d]``.
    - ``'center'``: the centre slice ``x[:, :, D // 2]`` (MP3D's CTM); no parameters.
    - ``'mean'``: the average over slices; no parameters.

    Args:
        in_channels (int | Sequence[int]): Channels of each level.
        num_slices (int): D, the depth of every level.
        mode (str): One of ``'conv'``, ``'gtm'``, ``'center'``, ``'mean'``. Default: 'conv'.
        init_cfg (dict or list[dict], optional): Initialization config. Default: None.

    Example:
        >>> import torch
        >>> self = SliceReduction([8, 16], num_slices=5, mode='gtm')
        >>> outs = self((torch.rand(2, 8, 5, 32, 32), torch.rand(2, 16, 5, 16, 16)))
        >>> for out in outs:
        ...     print(tuple(out.shape))
        (2, 8, 32, 32)
        (2, 16, 16, 16)
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 num_slices: int,
                 mode: str = 'conv',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in REDUCTION_MODES:
            raise ValueError(f'SliceReduction: mode must be one of {REDUCTION_MODES}, got {mode!r}')
        if num_slices < 1:
            raise ValueError(f'SliceReduction: num_slices must be >= 1, got {num_slices}')
        self.in_channels: List[int] = [in_channels] if isinstance(in_channels, int) else list(in_channels)
        self.num_slices = num_slices
        self.mode = mode
        if mode == 'conv':
            self.reducers = nn.ModuleList(
                nn.Conv3d(c, c, (num_slices, 1, 1), bias=False) for c in self.in_channels)
        elif mode == 'gtm':
            self.reducers = nn.ModuleList(
                nn.Conv2d(c * num_slices, c, 1, groups=c, bias=False) for c in self.in_channels)

    def reduce(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Reduce level ``i``."""
        n, c, d, h, w = x.shape
        if c != self.in_channels[i] or d != self.num_slices:
            raise ValueError(f'SliceReduction level {i} was built for {self.in_channels[i]} channels and '
                             f'{self.num_slices} slices, got shape {tuple(x.shape)}')
        if self.mode == 'conv':
            return self.reducers[i](x).squeeze(2)
        if self.mode == 'gtm':
            return self.reducers[i](x.reshape(n, c * d, h, w))
        if self.mode == 'center':
            return x[:, :, d // 2]
        return x.mean(2)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """``(N, C_i, D, H_i, W_i)`` per level -> ``(N, C_i, H_i, W_i)`` per level."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'SliceReduction was built for {len(self.in_channels)} levels, got {len(inputs)}')
        return tuple(self.reduce(i, x) for i, x in enumerate(inputs))
