"""TSM: temporal (here: slice) shift of a fraction of the channels before a per-slice convolution."""
from typing import Optional

import torch

from ._utils import check_5d
from .base import ContextConv2dBase
from .premix_conv import ShiftMix, premix_slice_conv, use_premix


class _SliceShift(torch.autograd.Function):
    """The autograd node of :func:`slice_shift`. The shift is linear; its adjoint is the same mix in the opposite
    direction, so the backward is one more pass (no per-slice zero-filled gradients as slicing under autograd
    would allocate), itself differentiable."""

    @staticmethod
    def forward(ctx, x, fold, ratio, reverse):
        ctx.fold, ctx.reverse = fold, reverse
        ctx.save_for_backward(ratio) if ratio is not None else ctx.save_for_backward()
        ctx.has_ratio = ratio is not None
        out = torch.empty_like(x, memory_format=torch.contiguous_format).copy_(x)
        return ShiftMix(fold).run_(out, ratio, reverse)

    @staticmethod
    def backward(ctx, grad):
        ratio = ctx.saved_tensors[0] if ctx.has_ratio else None
        return _SliceShift.apply(grad, ctx.fold, ratio, not ctx.reverse), None, None, None


def slice_shift(x: torch.Tensor, fold: int, ratio: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Shift channel groups along slices (TSM), or mix them partially with a per-sample ratio (AlignShift).

    Channels ``[0, fold)`` take slice ``d + 1``, channels ``[fold, 2·fold)`` take slice ``d − 1`` (zeros past the
    ends), the rest are kept. With ``ratio`` ``r`` ``(N,)`` the shifted channels become
    ``(1 − r)·x[d] + r·x[d ± 1]`` (no gradient flows to ``r``): ``r = 1`` is the full shift, ``r = 0`` the
    identity. Computed by :class:`~.premix_conv.ShiftMix` on a new tensor.

    Args:
        x (Tensor): ``(N, C, D, H, W)``.
        fold (int): channels shifted each way.
        ratio (Tensor, optional): ``(N,)`` in [0, 1]. Default: None (the full shift).

    Returns:
        Tensor: ``(N, C, D, H, W)``.
    """
    return _SliceShift.apply(x, fold, None if ratio is None else ratio.detach(), False)


class TSMConv(ContextConv2dBase):
    """Shift convolution (Lin et al., "TSM: Temporal Shift Module", ICCV 2019), along CT slices.

    ``X'[:, c, d] = X[:, c, d + 1]`` for ``c < C/s``, ``X[:, c, d − 1]`` for ``C/s ≤ c < 2C/s`` (zeros past
    the ends), ``X[:, c, d]`` otherwise, with ``s = shift_div``; then the per-slice 2D convolution. Same
    parameters and FLOPs as no fusion.

    Args:
        shift_div (int): 1/shift_div of the channels move each way. Default: 8.
        Other args as ``nn.Conv2d``.

    Example:
        >>> conv = TSMConv(16, 8, 3, padding=1)
        >>> conv(torch.rand(2, 16, 5, 32, 32)).shape
        torch.Size([2, 8, 5, 32, 32])
    """

    def __init__(self, *args, shift_div: int = 8, **kwargs) -> None:
        if shift_div < 2:
            raise ValueError(f'shift_div must be >= 2, got {shift_div}')
        self.shift_div = shift_div
        super().__init__(*args, **kwargs)

    @property
    def fold(self) -> int:
        return self.in_channels // self.shift_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_5d(self, x)
        if use_premix(x):
            return premix_slice_conv(x, self.weight, self.bias, None, ShiftMix(self.fold), self.stride, self.padding,
                                     self.dilation, self.groups)
        return self.slice_conv(slice_shift(x, self.fold))

    def extra_repr(self) -> str:
        return super().extra_repr() + f', shift_div={self.shift_div}'
