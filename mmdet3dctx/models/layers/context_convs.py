"""Registers every 3D-context operator of :mod:`mmdet3dctx.ops` in MMEngine's root ``MODELS``.

Configs can then say ``dict(type='A3DConv', num_slices=7)``, and MMCV's ``build_conv_layer`` /
``ConvModule(conv_cfg=dict(type='ACSConv'))`` build them like any convolution. The root registry is the one that
serves every builder: MMCV's ``build_conv_layer`` looks in the root ``MODELS`` where no default scope is set, and
in the default scope's registry otherwise (MMDetection's ``MODELS`` under ``default_scope='mmdet'``), which finds
what it lacks in its parent, the root.
"""
from mmengine.registry import MODELS

from mmdet3dctx.ops import CONTEXT_CONVS

__all__ = []  # the classes live in mmdet3dctx.ops; this module only registers them

for _cls in CONTEXT_CONVS.values():
    MODELS.register_module(module=_cls)
