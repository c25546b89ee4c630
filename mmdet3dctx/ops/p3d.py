"""P3D: a per-slice 2D convolution followed by a depth-only convolution."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._utils import check_5d
from .base import ContextConv2dBase


class P3DConv(ContextConv2dBase):
    """Pseudo-3D convolution (Qiu et al., "Learning Spatio-Temporal Representation with Pseudo-3D Residual
    Networks", ICCV 2017), in the A3D paper's form.

    ``Y = conv_depth(conv_2d(X))``: the ``1×k×k`` per-slice convolution with the 2D ``weight`` (and ``bias``),
    then a ``depth_kernel×1×1`` convolution ``C_out -> C_out`` (``depth_weight``, padded to keep D, no bias)
    initialised to ``[0, …, 1, …, 0]`` per channel, so the operator starts as no fusion. Parameters over no
    fusion: ``1 + C_out · kd / (C_in · k²)``.

    Args:
        depth_kernel (int): odd kernel length over slices. Default: 3.
        Other args as ``nn.Conv2d``.

    Example:
        >>> conv = P3DConv(8, 16, 3, padding=1)
        >>> conv.depth_weight.shape
        torch.Size([16, 16, 3, 1, 1])
        >>> conv(torch.rand(2, 8, 5, 32, 32)).shape
        torch.Size([2, 16, 5, 32, 32])
    """

    def __init__(self, *args, depth_kernel: int = 3, **kwargs) -> None:
        if depth_kernel < 1 or depth_kernel % 2 == 0:
            raise ValueError(f'depth_kernel must be a positive odd number, got {depth_kernel}')
        self.depth_kernel = depth_kernel
        super().__init__(*args, **kwargs)
        self.depth_weight = nn.Parameter(torch.empty(self.out_channels, self.out_channels, depth_kernel, 1, 1))
        self.reset_depth_weight()

    def reset_depth_weight(self) -> None:
        """Identity over depth: ``depth_weight[o, o, kd // 2] = 1``, zeros elsewhere."""
        with torch.no_grad():
            self.depth_weight.zero_()
            idx = torch.arange(self.out_channels, device=self.depth_weight.device)
            self.depth_weight[idx, idx, self.depth_kernel // 2] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, D, H, W) -> (N, C_out, D, H', W')``."""
        check_5d(self, x)
        y = self.slice_conv(x)
        return F.conv3d(y, self.depth_weight.to(y.dtype), None, 1, (self.depth_kernel // 2, 0, 0))

    def extra_repr(self) -> str:
        return super().extra_repr() + f', depth_kernel={self.depth_kernel}'
