"""3D-context operators on ``(N, C, D, H, W)`` that keep 2D kernels (pure PyTorch; no MMDetection needed).

Every operator follows ``nn.Conv2d``'s constructor and holds its main kernel as a 2D ``weight`` so 2D
checkpoints load unchanged (``I3DConv`` inflates a 2D ``weight`` on load). Operators that need the slice interval
of each sample (``needs_input_slice_interval``: ``AlignShiftConv``) get it through
:func:`call_with_input_slice_interval` or :func:`bind_input_slice_interval` around the model's call.
"""
from .a3d import A3DConv, a3d_fuse
from .acs import ACSConv, SoftACSConv, acs_conv3d, default_acs_split, view_conv3d
from .align_shift import AlignShiftConv
from .base import (ContextConv2dBase, bind_input_slice_interval, bound_input_slice_interval,
                   call_with_input_slice_interval, input_slice_interval_operators)
from .builder import CONTEXT_CONVS, build_context_conv, get_context_conv_class
from .converter import InPlaneUpsample, convert_2d_to_3d
from .i3d import I3DConv
from .no_fusion import NoFusionConv
from .p3d import P3DConv
from .shift import TSMConv, slice_shift
from .slice_group_norm import SliceGroupNorm
from .weight_utils import inflate_2d_weight, inflate_patch_embedding, inflate_state_dict, rgb_to_grey

__all__ = [
    'ContextConv2dBase', 'NoFusionConv', 'A3DConv', 'ACSConv', 'SoftACSConv', 'I3DConv', 'P3DConv', 'TSMConv',
    'AlignShiftConv', 'a3d_fuse', 'acs_conv3d', 'view_conv3d', 'default_acs_split', 'slice_shift',
    'bind_input_slice_interval', 'bound_input_slice_interval', 'call_with_input_slice_interval',
    'input_slice_interval_operators',
    'convert_2d_to_3d', 'InPlaneUpsample', 'CONTEXT_CONVS', 'build_context_conv',
    'get_context_conv_class', 'SliceGroupNorm', 'inflate_2d_weight', 'inflate_patch_embedding', 'rgb_to_grey',
    'inflate_state_dict'
]
