"""TSM: temporal (here: slice) shift of a fraction of the channels before a per-slice convolution."""
import torch

from ._utils import check_5d
from .base import ContextConv2dBase


def slice_shift(x: torch.Tensor, fold: int) -> torch.Tensor:
    """Shift channel groups along slices with zeros past the ends.

    Channels ``[0, fold)`` take slice ``d + 1``, channels ``[fold, 2·fold)`` take slice ``d − 1``, the rest
    are kept. ``(N, C, D, H, W) -> (N, C, D, H, W)``.
    """
    out = torch.empty_like(x)
    out[:, :fold, :-1] = x[:, :fold, 1:]
    out[:, :fold, -1:] = 0
    out[:, fold:2 * fold, 1:] = x[:, fold:2 * fold, :-1]
    out[:, fold:2 * fold, :1] = 0
    out[:, 2 * fold:] = x[:, 2 * fold:]
    return out


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
        return self.slice_conv(slice_shift(x, self.fold))

    def extra_repr(self) -> str:
        return super().extra_repr() + f', shift_div={self.shift_div}'
