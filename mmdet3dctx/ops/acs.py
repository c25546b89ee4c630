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


def _align_axis(x: torch.Tensor, axis: int, kernel: int, stride: int, padding: int,
                dilation: int) -> torch.Tensor:
    """Select, along ``axis`` (0..2 of D, H, W), the inputs a full ``kernel``-long convolution would read at
    its centre tap, so that a size-1 kernel there gives the full Conv3d's output length.

    Output o reads input ``o * stride + dilation * (kernel // 2) - padding`` (zero where that falls outside).
    The common case (``padding = dilation * (kernel // 2)``) is a view of ``x`` with no copy.
    """
    dim = axis + 2
    size = x.shape[dim]
    out = conv_output_size(size, kernel, stride, padding, dilation)
    if out < 1:
        raise ValueError(f'ACS convolution: input of length {size} along axis {"DHW"[axis]} is too small '
                         f'for kernel {kernel}, padding {padding}, dilation {dilation}')
    offset = dilation * (kernel // 2) - padding
    last = offset + (out - 1) * stride
    before, after = max(0, -offset), max(0, last - (size - 1))
    if before or after:
        pad = [0, 0] * 3
        pad[2 * (2 - axis)], pad[2 * (2 - axis) + 1] = before, after
        x = F.pad(x, pad)
        offset += before
    return x.narrow(dim, offset, (out - 1) * stride + 1)


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
    pad = list(padding)
    pad[axis] = 0
    dil = list(dilation)
    dil[axis] = 1
    return F.conv3d(x, weight2d.unsqueeze(axis + 2), bias, stride, pad, dil, groups)


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
    Conv3d with the given stride/padding/dilation; the three outputs are concatenated on channels.

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
    out_channels, in_per_group, kh, kw = weight.shape
    if kh != kw:
        raise ValueError(f'ACS convolution needs a square 2D kernel, got {kh}x{kw}')
    split = tuple(split) if split is not None else default_acs_split(out_channels)
    if len(split) != 3 or sum(split) != out_channels or min(split) < 0:
        raise ValueError(f'ACS split {split} must be three non-negative counts summing to {out_channels}')
    out_per_group = out_channels // groups
    outputs, start = [], 0
    for axis, count in enumerate(split):
        if count == 0:
            continue
        stop = start + count
        if groups == 1:
            xv, gv = x, 1
        else:
            if start % out_per_group or stop % out_per_group:
                raise ValueError(f'ACS split {split} does not align with groups={groups} '
                                 f'({out_per_group} output channels per group)')
            xv = x[:, start // out_per_group * in_per_group:stop // out_per_group * in_per_group]
            gv = count // out_per_group
        bv = bias[start:stop] if bias is not None else None
        outputs.append(view_conv3d(xv, weight[start:stop], bv, axis, stride, padding, dilation, gv))
        start = stop
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


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
