"""ACS convolutions: a 2D kernel split over the axial, coronal and sagittal views."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._utils import check_5d
from .base import ContextConv2dBase

#: the axis (0 = D, 1 = H, 2 = W) along which each view's kernel has size 1
VIEW_AXES = {'axial': 0, 'coronal': 1, 'sagittal': 2}


def default_acs_split(out_channels: int) -> Tuple[int, int, int]:
    """Output channels per view, ``≈ C_out / 3`` each, the remainder to the first views."""
    base, rem = divmod(out_channels, 3)
    return (base + (rem > 0), base + (rem > 1), base)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (``nn.Conv3d``'s formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _alignment(size: int, kernel: int, stride: int, padding: int, dilation: int, axis: int):
    """Where the inputs of one view lie along its size-1 axis (0..2 of D, H, W).

    A full ``kernel``-long convolution reads, at its centre tap, input ``o * stride + offset`` for output
    o, ``offset = dilation * (kernel // 2) - padding`` (zero where that falls outside the input). Returns
    ``(offset, length, before, after)``: the aligned input is ``x[offset : offset + length]`` along that axis
    after zero-padding ``before``/``after`` slices where it runs past the ends.
    """
    out = conv_output_size(size, kernel, stride, padding, dilation)
    if out < 1:
        raise ValueError(f'ACS convolution: input of length {size} along axis {"DHW"[axis]} is too small '
                         f'for kernel {kernel}, padding {padding}, dilation {dilation}')
    offset = dilation * (kernel // 2) - padding
    length = (out - 1) * stride + 1
    return offset, length, max(0, -offset), max(0, offset + length - size)


def _align_axis(x: torch.Tensor, axis: int, kernel: int, stride: int, padding: int,
                dilation: int) -> torch.Tensor:
    """The inputs a view's size-1 kernel reads along ``axis`` (see :func:`_alignment`); in the common case
    (``padding = dilation * (kernel // 2)``) a view of ``x`` with no copy."""
    dim = axis + 2
    offset, length, before, after = _alignment(x.shape[dim], kernel, stride, padding, dilation, axis)
    if before or after:
        pad = [0, 0] * 3
        pad[2 * (2 - axis)], pad[2 * (2 - axis) + 1] = before, after
        x = F.pad(x, pad)
    return x.narrow(dim, offset + before, length)


def _view_args(axis, padding, dilation):
    pad, dil = list(padding), list(dilation)
    pad[axis], dil[axis] = 0, 1
    return pad, dil


def view_conv3d(x: torch.Tensor, weight2d: torch.Tensor, bias: Optional[torch.Tensor], axis: int,
                stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
                groups: int = 1) -> torch.Tensor:
    """One ACS view: the 2D kernel unsqueezed to size 1 along ``axis``, output size of a full k×k×k Conv3d.

    Args:
        x (Tensor): ``(N, C_in, D, H, W)``.
        weight2d (Tensor): ``(C_out, C_in / groups, k, k)``.
        axis (int): 0 axial (``1×k×k``), 1 coronal (``k×1×k``), 2 sagittal (``k×k×1``).
    """
    k = weight2d.shape[-1]
    x = _align_axis(x, axis, k, stride[axis], padding[axis], dilation[axis])
    pad, dil = _view_args(axis, padding, dilation)
    return F.conv3d(x, weight2d.unsqueeze(axis + 2), bias, stride, pad, dil, groups)


def _view_plan(in_channels: int, weight: torch.Tensor, groups: int, split: Sequence[int]):
    """``(axis, out_start, out_stop, in_start, in_stop, groups)`` for each non-empty view."""
    out_channels, in_per_group = weight.shape[:2]
    out_per_group = out_channels // groups
    plan, start = [], 0
    for axis, count in enumerate(split):
        stop = start + count
        if count:
            if groups == 1:
                plan.append((axis, start, stop, 0, in_channels, 1))
            else:
                if start % out_per_group or stop % out_per_group:
                    raise ValueError(f'ACS split {tuple(split)} does not align with groups={groups} '
                                     f'({out_per_group} output channels per group)')
                plan.append((axis, start, stop, start // out_per_group * in_per_group,
                             stop // out_per_group * in_per_group, count // out_per_group))
        start = stop
    return plan


class _ACSConvFunction(torch.autograd.Function):
    """ACS convolution with a memory-lean backward.

    Forward writes each view straight into one output (no concatenation copy). Backward sums the three
    views' input gradients into one buffer one sample at a time, so the transient is 1/N of the input instead
    of a whole extra input-sized gradient.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, plan):
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, plan, bias is not None)
        return _acs_forward(x, weight, bias, stride, padding, dilation, plan)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, plan, has_bias = ctx.conf
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        k = weight.shape[-1]
        grad_x = torch.zeros_like(x) if need_x else None
        grad_w = torch.empty_like(weight) if need_w else None
        for axis, o0, o1, i0, i1, g in plan:
            dim = axis + 2
            x_v = _align_axis(x[:, i0:i1], axis, k, stride[axis], padding[axis], dilation[axis])
            w_v = weight[o0:o1].unsqueeze(dim)
            g_v = grad_out[:, o0:o1]
            pad, dil = _view_args(axis, padding, dilation)
            if need_w:
                grad_w[o0:o1] = torch.ops.aten.convolution_backward(
                    g_v, x_v, w_v, None, stride, pad, dil, False, [0, 0, 0], g, [False, True, False])[1].squeeze(dim)
            if need_x:
                size = x.shape[dim]
                offset, length, _, _ = _alignment(size, k, stride[axis], padding[axis], dilation[axis], axis)
                s0 = max(0, offset)
                n_overlap = min(size, offset + length) - s0
                for n in range(x.shape[0]):  # one sample at a time: a 1/N transient
                    gi = torch.ops.aten.convolution_backward(g_v[n:n + 1], x_v[n:n + 1], w_v, None, stride, pad,
                                                             dil, False, [0, 0, 0], g, [True, False, False])[0]
                    if n_overlap > 0:
                        grad_x[n:n + 1, i0:i1].narrow(dim, s0, n_overlap).add_(gi.narrow(dim, s0 - offset, n_overlap))
                    del gi
        grad_b = grad_out.sum((0, 2, 3, 4)) if has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b, None, None, None, None


def _acs_forward(x, weight, bias, stride, padding, dilation, plan):
    """Every view written straight into one preallocated output (no concatenation copy)."""
    out = None
    for axis, o0, o1, i0, i1, g in plan:
        y = view_conv3d(x[:, i0:i1], weight[o0:o1], None if bias is None else bias[o0:o1], axis, stride, padding,
                        dilation, g)
        if len(plan) == 1:
            return y
        if out is None:
            out = y.new_empty((y.shape[0], weight.shape[0]) + tuple(y.shape[2:]))
        out[:, o0:o1] = y
        del y
    return out


def acs_conv3d(x: torch.Tensor,
               weight: torch.Tensor,
               bias: Optional[torch.Tensor],
               stride: Sequence[int] = (1, 1, 1),
               padding: Sequence[int] = (0, 0, 0),
               dilation: Sequence[int] = (1, 1, 1),
               groups: int = 1,
               split: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Functional ACS convolution (Yang et al., "Reinventing 2D Convolutions for 3D Images", JBHI 2021).

    The 2D kernel ``W2D`` ``(C_out, C_in / groups, k, k)`` is split by output channel into
    ``split = (a, c, s)`` parts; part one is applied as an axial ``1×k×k`` kernel, part two as a coronal
    ``k×1×k`` and part three as a sagittal ``k×k×1`` kernel, each with the output size of a full ``k×k×k``
    Conv3d with the given stride/padding/dilation; the three outputs are concatenated on channels. A ``1×1``
    kernel is the same on every view, so it runs as one ``1×1×1`` convolution.

    Args:
        x (Tensor): ``(N, C_in, D, H, W)``.
        weight (Tensor): ``(C_out, C_in / groups, k, k)``, square.
        bias (Tensor, optional): ``(C_out,)``.
        stride, padding, dilation: 3-tuples ``(d, h, w)``.
        groups (int): convolution groups; each view's channels must align with group boundaries.
        split (tuple[int], optional): output channels per view. Default: :func:`default_acs_split`.

    Returns:
        Tensor: ``(N, C_out, D', H', W')``, the shape ``nn.Conv3d`` with a ``k×k×k`` kernel gives.
    """
    out_channels, _, kh, kw = weight.shape
    if kh != kw:
        raise ValueError(f'ACS convolution needs a square 2D kernel, got {kh}x{kw}')
    split = tuple(split) if split is not None else default_acs_split(out_channels)
    if len(split) != 3 or sum(split) != out_channels or min(split) < 0:
        raise ValueError(f'ACS split {split} must be three non-negative counts summing to {out_channels}')
    stride, padding, dilation = tuple(stride), tuple(padding), tuple(dilation)
    plan = _view_plan(x.shape[1], weight, groups, split)
    if kh == 1:  # every view is the same 1x1x1 kernel
        return F.conv3d(x, weight[..., None], bias, stride, padding, dilation, groups)
    if torch.is_autocast_enabled(x.device.type) or torch.is_autocast_enabled('cpu') or not torch.is_grad_enabled():
        return _acs_forward(x, weight, bias, stride, padding, dilation, plan)
    return _ACSConvFunction.apply(x, weight, bias, stride, padding, dilation, plan)


class ACSConv(ContextConv2dBase):
    """ACS convolution: the 2D kernel split over axial/coronal/sagittal views
    ("Reinventing 2D Convolutions for 3D Images", Yang et al., JBHI 2021).

    ``weight`` is the 2D kernel ``(C_out, C_in / groups, k, k)``; output channels are split into
    ``≈ C_out / 3`` per view (remainder to the first views), see :func:`acs_conv3d`. As in ``nn.Conv3d``, ints
    for stride/padding/dilation act on all three axes. Same parameters and FLOPs as no fusion.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as ``nn.Conv3d``
            with a cubic kernel.
        acs_split (tuple[int], optional): output channels of the (axial, coronal, sagittal) views.

    Example:
        >>> conv = ACSConv(8, 16, 3, padding=1)
        >>> conv.acs_split
        (6, 5, 5)
        >>> conv(torch.rand(2, 8, 5, 32, 32)).shape
        torch.Size([2, 16, 5, 32, 32])
    """
    int_args_inplane = False

    def __init__(self, *args, acs_split: Optional[Sequence[int]] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        k = self.kernel_size_2d
        if k[0] != k[1]:
            raise ValueError(f'{type(self).__name__} needs a square kernel, got {k}')
        self.acs_split = tuple(acs_split) if acs_split is not None else default_acs_split(self.out_channels)
        if len(self.acs_split) != 3 or sum(self.acs_split) != self.out_channels:
            raise ValueError(f'acs_split {self.acs_split} must have three counts summing to '
                             f'out_channels={self.out_channels}')

    @property
    def kernel_size(self) -> Tuple[int, int, int]:
        return (self.kernel_size_2d[0], ) * 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, D, H, W) -> (N, C_out, D', H', W')`` as a ``k×k×k`` ``nn.Conv3d``."""
        check_5d(self, x)
        return acs_conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                          self.acs_split)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', acs_split={self.acs_split}'


class SoftACSConv(ACSConv):
    """Soft-ACS / Mean-ACS: the full 2D kernel on all three views, outputs combined per output channel.

    Soft-ACS (``mean=False``): ``Y = Σ_v softmax(view_logits)[:, v] · conv_v(X)`` with learned
    ``view_logits`` ``(C_out, 3)`` (initialised to zeros, i.e. starting as Mean-ACS). Mean-ACS
    (``mean=True``): ``Y = (conv_a(X) + conv_c(X) + conv_s(X)) / 3``. The bias is added once, after combining.
    Three times the FLOPs of ACS.

    Args:
        mean (bool): Mean-ACS instead of Soft-ACS. Default: False.
        Other args as :class:`ACSConv`.

    Example:
        >>> conv = SoftACSConv(8, 16, 3, padding=1)
        >>> conv(torch.rand(2, 8, 5, 32, 32)).shape
        torch.Size([2, 16, 5, 32, 32])
    """

    def __init__(self, *args, mean: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mean = mean
        if mean:
            self.register_parameter('view_logits', None)
        else:
            self.view_logits = nn.Parameter(torch.zeros(self.out_channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_5d(self, x)
        views = [view_conv3d(x, self.weight, None, axis, self.stride, self.padding, self.dilation, self.groups)
                 for axis in range(3)]
        if self.mean:
            out = (views[0] + views[1] + views[2]) / 3
        else:
            w = self.view_logits.softmax(-1).to(x.dtype)
            out = sum(v * w[:, i].view(1, -1, 1, 1, 1) for i, v in enumerate(views))
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1, 1)
        return out

    def extra_repr(self) -> str:
        return super().extra_repr() + f', mean={self.mean}'
