"""AlignShift: a slice shift whose amount adapts to the slice interval of each sample."""
from typing import Optional

import torch

from ._utils import check_5d
from .base import ContextConv2dBase, IntervalLike
from .premix_conv import ShiftMix, premix_slice_conv, use_premix
from .shift import slice_shift


class AlignShiftConv(ContextConv2dBase):
    """AlignShift convolution (Yang et al., "AlignShift: Bridging the Gap of Imaging Thickness in 3D
    Anisotropic Volumes", MICCAI 2020).

    With slice interval ``t`` (mm) per sample, ``r = clamp(ref_slice_interval / t, 0, 1)`` and the shifted channels
    become ``(1 − r)·x[d] + r·x[d ± 1]``: slices of ``ref_slice_interval`` or thinner shift fully (exactly
    :class:`TSMConv`), thicker ones, whose neighbours lie further away, shift less; then the per-slice 2D
    convolution.

    It needs the mm between the input slices of each sample (``needs_input_slice_interval``), an ``(N,)`` tensor
    or a float for the whole batch: a backbone holding it is called through
    :func:`~mmdet3dctx.ops.call_with_input_slice_interval` (or inside
    :func:`~mmdet3dctx.ops.bind_input_slice_interval`), which binds the value to every such operator of the
    model; the operator alone can also take it as ``forward(x, input_slice_interval)``.

    Args:
        ref_slice_interval (float): the reference slice interval in mm. Default: 2.0.
        shift_div (int): 1/shift_div of the channels move each way. Default: 8.
        Other args as ``nn.Conv2d``.

    Example:
        >>> from mmdet3dctx.ops import call_with_input_slice_interval
        >>> conv = AlignShiftConv(16, 8, 3, padding=1)
        >>> call_with_input_slice_interval(conv, torch.rand(2, 16, 5, 32, 32),
        ...                                input_slice_interval=torch.tensor([1.0, 5.0])).shape
        torch.Size([2, 8, 5, 32, 32])
    """
    needs_input_slice_interval = True

    def __init__(self, *args, ref_slice_interval: float = 2.0, shift_div: int = 8, **kwargs) -> None:
        if shift_div < 2:
            raise ValueError(f'shift_div must be >= 2, got {shift_div}')
        if ref_slice_interval <= 0:
            raise ValueError(f'ref_slice_interval must be positive, got {ref_slice_interval}')
        self.ref_slice_interval = float(ref_slice_interval)
        self.shift_div = shift_div
        super().__init__(*args, **kwargs)

    @property
    def fold(self) -> int:
        return self.in_channels // self.shift_div

    def shift_ratio(self, t: torch.Tensor) -> torch.Tensor:
        """``r = clamp(ref_slice_interval / t, 0, 1)``; a NaN or non-positive ``t`` is an error.

        A CPU ``t`` is checked at once (``ValueError``); one on an accelerator is checked there by an
        asynchronous assertion, so the forward never waits for the device (the error surfaces at the next
        synchronisation).
        """
        positive = t > 0  # False for NaN too
        if t.device.type == 'cpu':
            if not bool(positive.all()):
                raise ValueError(f'AlignShiftConv needs positive slice intervals, got {t.tolist()}')
        else:
            torch._assert_async(positive.all(), 'AlignShiftConv needs positive slice intervals')
        return (self.ref_slice_interval / t).clamp(0, 1)

    def forward(self, x: torch.Tensor, input_slice_interval: Optional[IntervalLike] = None) -> torch.Tensor:
        """``(N, C_in, D, H, W) -> (N, C_out, D, H', W')``.

        Args:
            x (Tensor): ``(N, C_in, D, H, W)``.
            input_slice_interval (Tensor | float, optional): ``(N,)`` mm between the input slices; default: the
                value bound by :func:`~mmdet3dctx.ops.bind_input_slice_interval`. Best on ``x``'s device (as the
                detectors give it): one from the host is checked there and copied to the device in every layer.

        Raises:
            ValueError: no slice interval given or bound, a count that is not the batch's, a value that is not
                positive.
        """
        check_5d(self, x)
        t = self.resolve_input_slice_interval(input_slice_interval)
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1)  # a tensor keeps its device
        if t.numel() == 1:
            t = t.expand(x.shape[0])
        if t.numel() != x.shape[0]:
            raise ValueError(f'AlignShiftConv got {t.numel()} slice intervals for a batch of {x.shape[0]}')
        ratio = self.shift_ratio(t).to(x.device)
        if use_premix(x):
            return premix_slice_conv(x, self.weight, self.bias, ratio.detach(), ShiftMix(self.fold), self.stride,
                                     self.padding, self.dilation, self.groups)
        return self.slice_conv(slice_shift(x, self.fold, ratio))

    def extra_repr(self) -> str:
        return super().extra_repr() + f', ref_slice_interval={self.ref_slice_interval}, shift_div={self.shift_div}'

