"""Common base of the 3D-context convolutions that keep a 2D kernel, and the protocol that gives the operators
needing it the slice interval of each sample (pure PyTorch)."""
import contextlib
import math
from typing import Iterator, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._utils import IntOrSeq, to_pair, to_triple, to_triple_inplane

#: what an operator that needs the slice interval takes: an ``(N,)`` tensor of mm, or one float for the batch
IntervalLike = Union[torch.Tensor, float]


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

    #: whether ``forward`` needs the slice interval of each sample (``input_slice_interval``): such an operator
    #: reads it from :func:`bind_input_slice_interval` (or :func:`call_with_input_slice_interval`) around the call
    needs_input_slice_interval = False
    #: the value bound by :func:`bind_input_slice_interval`, None outside a binding
    _bound_input_slice_interval: Optional[IntervalLike] = None
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

    def resolve_input_slice_interval(self, input_slice_interval: Optional[IntervalLike] = None) -> IntervalLike:
        """``input_slice_interval`` when given, else the bound value; an error naming the operator without either.

        Raises:
            ValueError: neither an explicit nor a bound slice interval.
        """
        t = self._bound_input_slice_interval if input_slice_interval is None else input_slice_interval
        if t is None:
            name = type(self).__name__
            raise ValueError(
                f'{name} needs `input_slice_interval`, the mm between the input slices of each sample (an (N,) '
                f'tensor): call the model as call_with_input_slice_interval(model, x, input_slice_interval=t) or '
                f'inside `with bind_input_slice_interval(model, t):` (mmdet3dctx.ops), or pass it to '
                f'{name}.forward; ContextMaskRCNN reads it from the data samples\' metainfo `input_slice_interval`')
        return t

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


def input_slice_interval_operators(module: nn.Module) -> List[nn.Module]:
    """The modules inside ``module`` (itself included) whose class sets ``needs_input_slice_interval``.

    Example:
        >>> from mmdet3dctx.ops import AlignShiftConv, NoFusionConv
        >>> net = nn.Sequential(NoFusionConv(4, 4, 1), AlignShiftConv(4, 4, 1))
        >>> [type(m).__name__ for m in input_slice_interval_operators(net)]
        ['AlignShiftConv']
    """
    return [m for m in module.modules() if getattr(type(m), 'needs_input_slice_interval', False)]


def bound_input_slice_interval(module: nn.Module) -> Optional[IntervalLike]:
    """The slice interval bound now to the operators inside ``module`` that need it (the first one's), or None
    when none is bound or none needs it."""
    ops = input_slice_interval_operators(module)
    return getattr(ops[0], '_bound_input_slice_interval', None) if ops else None


@contextlib.contextmanager
def bind_input_slice_interval(module: nn.Module, input_slice_interval: Optional[IntervalLike]) -> Iterator[nn.Module]:
    """Within the block, every operator of ``module`` that needs the slice interval uses ``input_slice_interval``
    when its ``forward`` is called without one.

    This is how the slice interval reaches the operators of any backbone, those converted from 2D models
    (:func:`convert_2d_to_3d`, MMDetection's ResNet blocks) included, whose ``forward`` cannot pass an extra
    argument. The binding is scoped: on leaving the block (normally or by an exception) each operator gets back
    the value it had before, so bindings nest; nothing global is set. Work that runs after the block does not see
    the value, such as the recomputation of checkpointed layers in backward: a checkpointed function binds again
    the value that was bound when its forward ran (:class:`~mmdet3dctx.models.DenseNet3D` reads it with
    :func:`bound_input_slice_interval`).

    Args:
        module (nn.Module): the model whose operators get the value.
        input_slice_interval (Tensor | float | None): ``(N,)`` mm between the input slices of each sample (best on
            the input's device), or one float for the whole batch.

    Example:
        >>> from mmdet3dctx.ops import AlignShiftConv
        >>> net = nn.Sequential(AlignShiftConv(8, 8, 3, padding=1), AlignShiftConv(8, 8, 3, padding=1))
        >>> with bind_input_slice_interval(net, torch.tensor([1.0, 5.0])):
        ...     y = net(torch.rand(2, 8, 3, 16, 16))
        >>> y.shape
        torch.Size([2, 8, 3, 16, 16])
    """
    ops = input_slice_interval_operators(module)
    previous = [getattr(m, '_bound_input_slice_interval', None) for m in ops]
    for m in ops:
        m._bound_input_slice_interval = input_slice_interval
    try:
        yield module
    finally:
        for m, p in zip(ops, previous):
            m._bound_input_slice_interval = p


def call_with_input_slice_interval(module: nn.Module, *args, input_slice_interval: Optional[IntervalLike] = None,
                                   **kwargs):
    """``module(*args, **kwargs)`` with ``input_slice_interval`` bound to the operators inside it that need it.

    The detectors, the tools and the benchmarks call every backbone or layer that may hold such operators through
    it; for a module without them it is a plain call. ``input_slice_interval=None`` binds nothing (a binding
    around the call, if any, stays in force).

    Args:
        module (nn.Module): the backbone or layer to call.
        *args, **kwargs: its arguments.
        input_slice_interval (Tensor | float, optional): ``(N,)`` mm between the input slices of each sample.

    Returns:
        What ``module`` returns.

    Example:
        >>> from mmdet3dctx.ops import AlignShiftConv
        >>> conv = AlignShiftConv(8, 8, 3, padding=1)
        >>> call_with_input_slice_interval(conv, torch.rand(2, 8, 3, 16, 16),
        ...                                input_slice_interval=torch.tensor([1.0, 5.0])).shape
        torch.Size([2, 8, 3, 16, 16])
    """
    if input_slice_interval is None:
        return module(*args, **kwargs)
    with bind_input_slice_interval(module, input_slice_interval):
        return module(*args, **kwargs)
