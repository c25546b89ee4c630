"""Registers every 3D-context operator of :mod:`mmdet3dctx.ops` in MMDetection's ``MODELS``.

Configs can then say ``dict(type='A3DConv', num_slices=7)``, and MMCV's ``build_conv_layer`` /
``ConvModule(conv_cfg=dict(type='ACSConv'))`` build them like any convolution. They are also registered in
MMEngine's root ``MODELS`` so that MMCV's builders find them whatever the default scope.
"""
from mmdet.registry import MODELS
from mmengine.registry import MODELS as MMENGINE_MODELS

from mmdet3dctx.ops import CONTEXT_CONVS

__all__ = []  # the classes live in mmdet3dctx.ops; this module only registers them

for _cls in CONTEXT_CONVS.values():
    MODELS.register_module(module=_cls)
    if _cls.__name__ not in MMENGINE_MODELS.module_dict:
        MMENGINE_MODELS.register_module(module=_cls)
