"""Common base of the 3D-context convolutions that keep a 2D kernel (pure PyTorch)."""
import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._utils import IntOrSeq, to_pair, to_triple, to_triple_inplane


class ContextConv2dBase(nn.Module):
    """A convolution on ``(N, C, D, H, W)`` whose main kernel is a 2D tensor.

    ``weight`` has the shape of ``nn.Conv2d``'s, ``(C_out, C_in / groups, kh, kw)``, and ``bias`` is
    ``(C_out,)``, so a 2D checkpoint loads unchanged. ``stride``, ``padding`` and ``dilation`` given as ints
    act in-plane and keep D (``s -> (1, s, s)``, ``p -> (0, p, p)``); a 3-tuple ``(d, h, w)`` is taken as is.
    The constructor follows ``nn.Conv2d``; subclasses add their own keyword arguments.

    Attributes mirror ``nn.Conv2d``/``nn.Conv3d`` (``in_channels``, ``out_channels``, ``kernel_size``,
    ``stride``, ``padding``, ``dilation``, ``groups``, ``transposed``, ``output_padding``) so MMCV's
    ``ConvModule`` can wrap any subclass.
    """

    #: whether ``forward`` needs the per-sample slice interval (``input_slice_interval``)
    needs_input_slice_interval = False
    #: ints for stride/padding/dilation act in-plane (True) or on all three axes like ``nn.Conv3d`` (False)
    int_args_inplane = True

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: IntOrSeq,
                 stride: IntOrSeq = 1,
                 padding: IntOrSeq = 0,
                 dilation: IntOrSeq = 1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros') -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'in_channels ({in_channels}) and out_channels ({out_channels}) must be '
                             f'divisible by groups ({groups})')
        if padding_mode != 'zeros':
            raise ValueError(f"{type(self).__name__} supports padding_mode='zeros' only, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size_2d = to_pair(kernel_size, 'kernel_size')
        if self.int_args_inplane:
            self.stride = to_triple_inplane(stride, 'stride', 1)
            self.padding = to_triple_inplane(padding, 'padding', 0)
            self.dilation = to_triple_inplane(dilation, 'dilation', 1)
        else:
            self.stride = to_triple(stride, 'stride')
            self.padding = to_triple(padding, 'padding')
            self.dilation = to_triple(dilation, 'dilation')
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0, 0, 0)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size_2d))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    @property
    def kernel_size(self) -> Tuple[int, int, int]:
        """The 3D kernel size the operator acts with (``(1, kh, kw)`` for per-slice kernels)."""
        return (1, ) + self.kernel_size_2d

    def reset_parameters(self) -> None:
        """``nn.Conv2d``'s default initialisation of ``weight`` and ``bias``."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)

    def slice_conv(self, x: torch.Tensor) -> torch.Tensor:
        """Per-slice 2D convolution: Conv3d with the 2D kernel unsqueezed to ``1 x kh x kw``.

        ``(N, C_in, D, H, W) -> (N, C_out, D', H', W')``; ``D' = D`` for in-plane arguments.
        """
        return F.conv3d(x, self.weight.unsqueeze(2), self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self) -> str:
        s = (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
             f'stride={self.stride}, padding={self.padding}')
        if self.dilation != (1, 1, 1):
            s += f', dilation={self.dilation}'
        if self.groups != 1:
            s += f', groups={self.groups}'
        if self.bias is None:
            s += ', bias=False'
        return s
