"""Turn any 2D PyTorch model into a 3D-context model whose 2D weights carry over (pure PyTorch)."""
import copy
from typing import Iterable, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import ContextConv2dBase
from .builder import build_context_conv, get_context_conv_class
from .i3d import I3DConv
from .slice_group_norm import SliceGroupNorm

# Leaf modules that act element-wise or on the channel axis only: valid on (N, C, D, H, W) as they are.
_DIM_AGNOSTIC = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
                 nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Identity,
                 nn.Dropout, nn.AlphaDropout, nn.SyncBatchNorm, nn.Linear, nn.Flatten,
                 nn.Softmax, nn.Hardtanh)


class InPlaneUpsample(nn.Module):
    """``nn.Upsample`` for ``(N, C, D, H, W)`` that resizes H and W only and keeps D.

    Args:
        size (tuple[int], optional): output ``(H, W)``.
        scale_factor (float | tuple, optional): in-plane scale.
        mode (str): ``nearest`` or ``bilinear`` (applied as ``trilinear`` with depth scale 1).
        align_corners (bool, optional): as ``nn.Upsample``.
    """

    def __init__(self, size=None, scale_factor=None, mode='nearest', align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = {'bilinear': 'trilinear', 'bicubic': 'trilinear'}.get(self.mode, self.mode)
        if self.size is not None:
            size = (self.size, self.size) if isinstance(self.size, int) else tuple(self.size)
            return F.interpolate(x, size=(x.shape[2], ) + size, mode=mode, align_corners=self.align_corners)
        sf = self.scale_factor
        sf = (sf, sf) if not isinstance(sf, (tuple, list)) else tuple(sf)
        return F.interpolate(x, scale_factor=(1.0, ) + tuple(float(s) for s in sf), mode=mode,
                             align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f'size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}'


def _pair(v) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _convert_conv(name: str, conv: nn.Conv2d, cfg: dict, keep_depth: bool) -> nn.Module:
    if conv.padding_mode != 'zeros':
        raise TypeError(f'cannot convert layer {name!r} ({conv!r}): padding_mode={conv.padding_mode!r}')
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    dh, dw = conv.dilation
    if isinstance(conv.padding, str):
        if conv.padding == 'valid':
            ph = pw = 0
        elif kh % 2 and kw % 2:  # 'same' with odd kernels
            ph, pw = dh * (kh // 2), dw * (kw // 2)
        else:
            raise TypeError(f'cannot convert layer {name!r}: padding="same" with an even kernel {conv.kernel_size}')
    else:
        ph, pw = conv.padding
    cls = get_context_conv_class(cfg['type'])
    depth_extent = issubclass(cls, I3DConv) or not getattr(cls, 'int_args_inplane', True)
    if depth_extent:
        # kernels that span slices (ACS, I3D): pad over D to keep it, stride over D only without keep_depth
        if kh != kw and not issubclass(cls, I3DConv):
            raise TypeError(f'cannot convert layer {name!r} to {cls.__name__}: kernel {conv.kernel_size} '
                            'is not square')
        kd = (cfg.get('depth_kernel') or kh) if issubclass(cls, I3DConv) else kh
        stride = (1 if keep_depth else sh, sh, sw)
        padding = (kd // 2, ph, pw)
        dilation = (1, dh, dw)
    else:
        stride, padding, dilation = (1, sh, sw), (0, ph, pw), (1, dh, dw)
    new = build_context_conv(cfg, conv.in_channels, conv.out_channels, (kh, kw), stride=stride, padding=padding,
                             dilation=dilation, groups=conv.groups, bias=conv.bias is not None)
    new = new.to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        if isinstance(new, I3DConv):
            new.load_2d_weight(conv.weight)
        else:
            new.weight.copy_(conv.weight)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    new.weight.requires_grad_(conv.weight.requires_grad)
    return new


def _convert_bn(bn: nn.BatchNorm2d) -> nn.BatchNorm3d:
    new = nn.BatchNorm3d(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    new.load_state_dict(bn.state_dict())
    ref = next(iter(bn.state_dict().values()), None)
    if ref is not None:
        new = new.to(ref.device)
    new.train(bn.training)
    for p_new, p_old in zip(new.parameters(), bn.parameters()):
        p_new.requires_grad_(p_old.requires_grad)
    return new


def _triple_pool(v, keep_depth: bool, depth_value):
    h, w = _pair(v)
    return (depth_value if keep_depth else h, h, w)


def _convert_module(name: str, m: nn.Module, cfg: dict, keep_depth: bool) -> Optional[nn.Module]:
    """The 3D replacement of a leaf module, or None when it is kept as is."""
    if type(m) is nn.Conv2d:
        return _convert_conv(name, m, cfg, keep_depth)
    if type(m) is nn.BatchNorm2d:
        return _convert_bn(m)
    if type(m) is nn.GroupNorm:
        if not keep_depth:  # statistics over the whole volume
            return None
        new = SliceGroupNorm(m.num_groups, m.num_channels, m.eps, m.affine)
        new.load_state_dict(m.state_dict())
        return new.to(m.weight.device) if m.affine else new
    if type(m) is nn.InstanceNorm2d:
        new = nn.InstanceNorm3d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
        new.load_state_dict(m.state_dict())
        return new
    if type(m) is nn.MaxPool2d:
        if m.return_indices:
            raise TypeError(f'cannot convert layer {name!r}: MaxPool2d with return_indices')
        return nn.MaxPool3d(_triple_pool(m.kernel_size, keep_depth, 1), _triple_pool(m.stride, keep_depth, 1),
                            _triple_pool(m.padding, keep_depth, 0), _triple_pool(m.dilation, keep_depth, 1),
                            ceil_mode=m.ceil_mode)
    if type(m) is nn.AvgPool2d:
        return nn.AvgPool3d(_triple_pool(m.kernel_size, keep_depth, 1), _triple_pool(m.stride, keep_depth, 1),
                            _triple_pool(m.padding, keep_depth, 0), ceil_mode=m.ceil_mode,
                            count_include_pad=m.count_include_pad, divisor_override=m.divisor_override)
    if type(m) in (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d):
        cls = nn.AdaptiveAvgPool3d if type(m) is nn.AdaptiveAvgPool2d else nn.AdaptiveMaxPool3d
        oh, ow = _pair(m.output_size)
        kwargs = {} if cls is nn.AdaptiveAvgPool3d else {'return_indices': m.return_indices}
        return cls((None if keep_depth else oh, oh, ow), **kwargs)
    if type(m) in (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d):
        if keep_depth:
            return InPlaneUpsample(m.size, m.scale_factor, m.mode, m.align_corners)
        mode = {'bilinear': 'trilinear', 'bicubic': 'trilinear'}.get(m.mode, m.mode)
        return nn.Upsample(m.size, m.scale_factor, mode, m.align_corners)
    if type(m) is nn.Dropout2d:
        return nn.Dropout3d(m.p, m.inplace)
    if isinstance(m, _DIM_AGNOSTIC):
        return None
    if isinstance(m, ContextConv2dBase):  # already a 3D-context operator
        return None
    if not list(m.children()):
        if isinstance(m, (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                          nn.modules.batchnorm._BatchNorm, nn.modules.pooling._AdaptiveAvgPoolNd,
                          nn.modules.pooling._AdaptiveMaxPoolNd, nn.PixelShuffle, nn.PixelUnshuffle,
                          nn.modules.pooling._LPPoolNd, nn.FractionalMaxPool2d, nn.modules.pooling._MaxUnpoolNd)) \
                or list(m.parameters(recurse=False)) or list(m.buffers(recurse=False)):
            raise TypeError(f'convert_2d_to_3d cannot convert layer {name!r} of type {type(m).__name__}; '
                            'convert it yourself or list it in `skip`')
    return None


def convert_2d_to_3d(model: nn.Module,
                     context_conv: Union[dict, str] = dict(type='NoFusionConv'),
                     keep_depth: bool = True,
                     skip: Optional[Iterable[Union[str, type]]] = None) -> nn.Module:
    """Return a 3D copy of a 2D model for ``(N, C, D, H, W)`` inputs; the original is left untouched.

    ``Conv2d`` becomes the chosen 3D-context operator with the 2D weights (inflated for ``I3DConv``),
    ``BatchNorm2d``/``InstanceNorm2d`` their 3D forms with parameters and running statistics,
    ``MaxPool2d``/``AvgPool2d``/adaptive pools/``Upsample``/``Dropout2d`` their 3D forms, acting in-plane
    only when ``keep_depth`` (else also over D, with the in-plane sizes). ``GroupNorm`` keeps its parameters;
    with ``keep_depth`` it becomes :class:`SliceGroupNorm` (statistics per slice, as the 2D model had them),
    otherwise it stays ``nn.GroupNorm`` (statistics over the volume). Activations, dropout, ``Linear`` and
    containers are kept. A leaf layer it does not know that holds parameters or buffers, or a
    2D layer it cannot map, raises ``TypeError`` naming the layer. With ``NoFusionConv`` the converted model
    equals the 2D model applied slice by slice.

    Functional 2D calls inside a custom ``forward`` (``F.conv2d``, ``F.max_pool2d``, ...) are not visible to a
    module walk: such modules must be converted by hand or listed in ``skip``.

    Args:
        model (nn.Module): the 2D model.
        context_conv (dict | str): operator config, e.g. ``dict(type='A3DConv', num_slices=7)``.
        keep_depth (bool): keep D through pools, upsampling and the strides of slice-spanning kernels.
        skip (Iterable[str | type], optional): qualified module names or types to leave untouched.

    Returns:
        nn.Module: the converted copy.

    Example:
        >>> net2d = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
        >>> net3d = convert_2d_to_3d(net2d, dict(type='A3DConv', num_slices=5))
        >>> net3d(torch.rand(2, 1, 5, 32, 32)).shape
        torch.Size([2, 8, 5, 16, 16])
    """
    if isinstance(context_conv, str):
        context_conv = dict(type=context_conv)
    get_context_conv_class(context_conv.get('type'))  # fail early on an unknown operator
    skip = list(skip or [])
    skip_names = {s for s in skip if isinstance(s, str)}
    skip_types = tuple(s for s in skip if isinstance(s, type))
    model = copy.deepcopy(model)

    def visit(module: nn.Module, prefix: str) -> None:
        for child_name, child in list(module.named_children()):
            name = f'{prefix}.{child_name}' if prefix else child_name
            if name in skip_names or (skip_types and isinstance(child, skip_types)):
                continue
            new = _convert_module(name, child, context_conv, keep_depth)
            if new is not None:
                setattr(module, child_name, new)
            elif list(child.children()):
                visit(child, name)

    root = _convert_module('', model, context_conv, keep_depth) if not list(model.children()) else None
    if root is not None:
        return root
    visit(model, '')
    return model
