"""Registers every 3D-context operator of :mod:`mmdet3dctx.ops` in MMDetection's ``MODELS``.

Configs can then say ``dict(type='A3DConv', num_slices=7)``, and MMCV's ``build_conv_layer`` /
``ConvModule(conv_cfg=dict(type='ACSConv'))`` build them like any convolution. They are also registered in
MMEngine's root ``MODELS`` so that MMCV's builders find them whatever the default scope.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmdet.registry import MODELS

from mmdet3dctx.ops import CONTEXT_CONVS

for _name, _cls in CONTEXT_CONVS.items():
    MODELS.register_module(name=_name, module=_cls)
    if _name not in MMENGINE_MODELS.module_dict:
        MMENGINE_MODELS.register_module(name=_name, module=_cls)

__all__ = list(CONTEXT_CONVS)
