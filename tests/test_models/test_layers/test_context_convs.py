"""The operators' one registration (MMEngine's root MODELS) serves every builder, with and without a default
scope: configs (MMDetection's MODELS), MMCV's ``build_conv_layer`` / ``ConvModule(conv_cfg=...)``."""
from collections import OrderedDict

import pytest
import torch

pytest.importorskip('mmdet')
from mmcv.cnn import ConvModule, build_conv_layer  # noqa: E402
from mmdet.registry import MODELS as MMDET_MODELS  # noqa: E402
from mmengine.registry import MODELS, DefaultScope  # noqa: E402

import mmdet3dctx  # noqa: E402,F401
from mmdet3dctx.ops import CONTEXT_CONVS  # noqa: E402

SCOPES = ['mmdet', None]


@pytest.fixture(params=SCOPES, ids=['default_scope=mmdet', 'no default scope'])
def scope(request, monkeypatch):
    """Run the test under ``default_scope='mmdet'`` (configs, the Runner) or with no default scope at all (a
    script that builds layers without MMEngine's Runner)."""
    if request.param is None:
        monkeypatch.setattr(DefaultScope, '_instance_dict', OrderedDict())
    assert (DefaultScope.get_current_instance() is None) == (request.param is None)
    return request.param


def test_registered_once_in_the_root():
    for name, cls in CONTEXT_CONVS.items():
        assert MODELS.module_dict[name] is cls
        assert name not in MMDET_MODELS.module_dict  # MMDetection's MODELS finds it in its parent


@pytest.mark.parametrize('registry', [MODELS, MMDET_MODELS], ids=['mmengine', 'mmdet'])
def test_every_operator_found_from_each_registry(scope, registry):
    for name, cls in CONTEXT_CONVS.items():
        with registry.switch_scope_and_registry(None) as found_in:  # what Registry.build and build_conv_layer do
            assert found_in.get(name) is cls, (name, found_in.scope)


@pytest.mark.parametrize('registry', [MODELS, MMDET_MODELS], ids=['mmengine', 'mmdet'])
def test_build_from_each_registry(scope, registry):
    conv = registry.build(dict(type='A3DConv', in_channels=4, out_channels=8, kernel_size=3, padding=1,
                               num_slices=3))
    assert type(conv) is CONTEXT_CONVS['A3DConv']
    assert conv(torch.randn(1, 4, 3, 8, 8)).shape == (1, 8, 3, 8, 8)


def test_mmcv_builders(scope):
    conv = build_conv_layer(dict(type='TSMConv'), 4, 8, 3, padding=1)
    assert type(conv) is CONTEXT_CONVS['TSMConv']
    m = ConvModule(4, 8, 3, padding=1, conv_cfg=dict(type='ACSConv'), norm_cfg=dict(type='BN3d'))
    assert type(m.conv) is CONTEXT_CONVS['ACSConv']
    y = m(torch.randn(2, 4, 3, 8, 8))
    assert y.shape == (2, 8, 3, 8, 8) and (y >= 0).all()  # ReLU after BN
