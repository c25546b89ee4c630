"""A3D: asymmetric slice-mixing before a per-slice 2D convolution."""
import torch
import torch.nn as nn

from ._utils import check_5d
from .base import ContextConv2dBase
from .premix_conv import A3DMix, premix_slice_conv, use_premix


def a3d_fuse(x: torch.Tensor, fusion_weight: torch.Tensor) -> torch.Tensor:
    """Mix slices per channel with the A3D weight ``P``: ``X' = einsum('ncdhw,dkc->nckhw', X, P)``.

    Computed by :class:`~.premix_conv.A3DMix` (one batched ``D x D`` product per ``(sample, channel)`` block on
    contiguous views), recorded by autograd like any tensor op.

    Args:
        x (Tensor): ``(N, C, D, H, W)``.
        fusion_weight (Tensor): ``P``, ``(D, D, C)``; ``P[d, k, c]`` weighs input slice d into output slice k.

    Returns:
        Tensor: ``(N, C, D, H, W)``.
    """
    return A3DMix().apply(x, fusion_weight)


class A3DConv(ContextConv2dBase):
    """A3D convolution (asymmetric 3D context fusion), from "Asymmetric 3D Context Fusion for Universal
    Lesion Detection" (MICCAI 2021).

    ``X' = einsum('ncdhw,dkc->nckhw', X, P)`` with a learned ``P`` of shape ``(D, D, C_in)`` (one D x D
    slice-mixing matrix per input channel), then the per-slice 2D convolution with ``W2D``. ``P(c)`` starts
    at the identity plus U(-init_noise, init_noise). There is no padding along slices: the operator is not
    translation-equivariant over D on purpose, so the input must have exactly ``num_slices`` slices.
    Parameters over no fusion: ``1 + D^2 / (C_out k^2)``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as ``nn.Conv2d``.
        num_slices (int): D, the number of slices of the input. Default: 7.
        init_noise (float): half-width of the uniform noise added to the identity. Default: 0.1.

    Example:
        >>> conv = A3DConv(8, 16, 3, padding=1, num_slices=5)
        >>> conv.fusion_weight.shape
        torch.Size([5, 5, 8])
        >>> conv(torch.rand(2, 8, 5, 32, 32)).shape
        torch.Size([2, 16, 5, 32, 32])
    """

    def __init__(self, *args, num_slices: int = 7, init_noise: float = 0.1, **kwargs) -> None:
        if num_slices < 1:
            raise ValueError(f'num_slices must be >= 1, got {num_slices}')
        self.num_slices = num_slices
        self.init_noise = init_noise
        super().__init__(*args, **kwargs)
        if self.stride[0] != 1 or self.padding[0] != 0 or self.dilation[0] != 1:
            raise ValueError('A3DConv keeps D: stride/padding/dilation along slices must be 1/0/1, got '
                             f'{self.stride}, {self.padding}, {self.dilation}')
        self.fusion_weight = nn.Parameter(torch.empty(num_slices, num_slices, self.in_channels))
        self.reset_fusion_weight()

    def reset_fusion_weight(self) -> None:
        """``P(c) = I + U(-init_noise, init_noise)`` for every channel c."""
        with torch.no_grad():
            eye = torch.eye(self.num_slices, device=self.fusion_weight.device, dtype=self.fusion_weight.dtype)
            eye = eye.unsqueeze(-1).expand_as(self.fusion_weight)
            self.fusion_weight.uniform_(-self.init_noise, self.init_noise).add_(eye)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, D, H, W) -> (N, C_out, D, H', W')`` with ``D == num_slices``."""
        check_5d(self, x)
        if x.shape[2] != self.num_slices:
            raise ValueError(f'A3DConv was built for num_slices={self.num_slices}, got an input with '
                             f'{x.shape[2]} slices (shape {tuple(x.shape)})')
        if use_premix(x):
            return premix_slice_conv(x, self.weight, self.bias, self.fusion_weight, A3DMix(), self.stride,
                                     self.padding, self.dilation, self.groups)
        return self.slice_conv(a3d_fuse(x, self.fusion_weight))

    def extra_repr(self) -> str:
        return super().extra_repr() + f', num_slices={self.num_slices}'
