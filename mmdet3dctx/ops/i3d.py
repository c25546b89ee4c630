"""I3D: a 2D kernel inflated into a full 3D kernel."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._utils import check_5d
from .base import ContextConv2dBase
from .weight_utils import INFLATE_MODES, inflate_2d_weight


class I3DConv(ContextConv2dBase):
    """Inflated 3D convolution (Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017).

    Holds a full ``depth_kernel × k × k`` kernel ``weight`` ``(C_out, C_in / groups, kd, k, k)``. Loading a 2D
    ``weight`` ``(C_out, C_in / groups, k, k)`` from a state dict inflates it: ``average`` repeats it over depth
    and divides by ``kd``; ``center`` puts it on the centre tap with zeros elsewhere, so right after loading the
    operator equals :class:`NoFusionConv` (with ``padding[0] = kd // 2``). As in ``nn.Conv3d``, ints for
    stride/padding/dilation act on all three axes. Parameters and FLOPs over no fusion: ``kd``.

    Args:
        depth_kernel (int, optional): kernel length over slices. Default: the in-plane kernel size.
        inflate (str): ``'average'`` or ``'center'``, used when a 2D weight is loaded. Default: 'average'.
        Other args as ``nn.Conv3d``.

    Example:
        >>> conv = I3DConv(8, 16, 3, padding=1)
        >>> conv.weight.shape
        torch.Size([16, 8, 3, 3, 3])
        >>> conv(torch.rand(2, 8, 5, 32, 32)).shape
        torch.Size([2, 16, 5, 32, 32])
    """
    int_args_inplane = False

    def __init__(self, *args, depth_kernel: Optional[int] = None, inflate: str = 'average', **kwargs) -> None:
        if inflate not in INFLATE_MODES:
            raise ValueError(f'inflate must be one of {INFLATE_MODES}, got {inflate!r}')
        self.inflate = inflate
        self._depth_kernel = depth_kernel
        super().__init__(*args, **kwargs)

    @property
    def depth_kernel(self) -> int:
        return self._depth_kernel if self._depth_kernel is not None else self.kernel_size_2d[0]

    @property
    def kernel_size(self):
        return (self.depth_kernel, ) + self.kernel_size_2d

    def reset_parameters(self) -> None:
        if self.weight.dim() == 4:  # called by the base constructor: replace by the 3D kernel
            self.weight = nn.Parameter(self.weight.new_empty(*self.weight.shape[:2], self.depth_kernel,
                                                             *self.kernel_size_2d))
        super().reset_parameters()
        if self.bias is not None:  # fan-in of the 3D kernel, as nn.Conv3d
            fan_in = self.weight[0].numel()
            bound = 1 / fan_in**0.5
            nn.init.uniform_(self.bias, -bound, bound)

    def load_2d_weight(self, weight2d: torch.Tensor) -> None:
        """Inflate a 2D kernel into ``weight`` with this operator's ``inflate`` mode."""
        if tuple(weight2d.shape) != (tuple(self.weight.shape[:2]) + tuple(self.weight.shape[3:])):
            raise ValueError(f'cannot inflate a 2D weight of shape {tuple(weight2d.shape)} into '
                             f'{tuple(self.weight.shape)}')
        with torch.no_grad():
            self.weight.copy_(inflate_2d_weight(weight2d, self.depth_kernel, self.inflate))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'weight'
        w = state_dict.get(key)
        if w is not None and w.dim() == 4:
            state_dict[key] = inflate_2d_weight(w, self.depth_kernel, self.inflate)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, D, H, W) -> (N, C_out, D', H', W')`` as ``nn.Conv3d``."""
        check_5d(self, x)
        return F.conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', inflate={self.inflate!r}'
