"""No fusion (2.5D): each slice convolved on its own."""
import torch

from ._utils import check_5d
from .base import ContextConv2dBase


class NoFusionConv(ContextConv2dBase):
    """Per-slice 2D convolution, the 2.5D baseline (a ``1 x k x k`` Conv3d kernel).

    ``Y[:, :, d] = conv2d(X[:, :, d], W2D)`` for every slice d.

    Args: as ``nn.Conv2d`` (ints for stride/padding/dilation act in-plane and keep D).

    Example:
        >>> conv = NoFusionConv(8, 16, 3, padding=1)
        >>> conv(torch.rand(2, 8, 5, 32, 32)).shape
        torch.Size([2, 16, 5, 32, 32])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, D, H, W) -> (N, C_out, D, H', W')``."""
        check_5d(self, x)
        return self.slice_conv(x)
