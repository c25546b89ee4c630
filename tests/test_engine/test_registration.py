"""SafeRunner and CPUAutocastOptimWrapper are registered once (MMEngine's root registries) and every builder
finds them, with and without a default scope: ``mmdet3dctx.apis`` (MMEngine's RUNNERS), MMDetection's tools
(MMDetection's RUNNERS), MMEngine's ``build_optim_wrapper``."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

pytest.importorskip('mmdet')
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS  # noqa: E402
from mmdet.registry import RUNNERS as MMDET_RUNNERS  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import OPTIM_WRAPPERS, RUNNERS, DefaultScope  # noqa: E402

from mmdet3dctx.engine import CPUAutocastOptimWrapper, SafeRunner  # noqa: E402
from mmdet3dctx.testing.toy_runner import toy_cfg  # noqa: E402


@pytest.fixture(params=['mmdet', None], ids=['default_scope=mmdet', 'no default scope'])
def scope(request, monkeypatch):
    """Under ``default_scope='mmdet'`` (inside a Runner, or after one was built) or with no default scope at all
    (a fresh process before its first Runner)."""
    if request.param is None:
        monkeypatch.setattr(DefaultScope, '_instance_dict', OrderedDict())
    assert (DefaultScope.get_current_instance() is None) == (request.param is None)
    return request.param


def test_registered_once_in_the_root():
    assert RUNNERS.module_dict['SafeRunner'] is SafeRunner and 'SafeRunner' not in MMDET_RUNNERS.module_dict
    assert OPTIM_WRAPPERS.module_dict['CPUAutocastOptimWrapper'] is CPUAutocastOptimWrapper
    assert 'CPUAutocastOptimWrapper' not in MMDET_OPTIM_WRAPPERS.module_dict


@pytest.mark.parametrize('registry', [RUNNERS, MMDET_RUNNERS], ids=['mmengine', 'mmdet'])
def test_runner_built_from_each_registry(scope, registry, tmp_path):
    """``RUNNERS.build(cfg)`` with ``runner_type='SafeRunner'``, as ``mmdet3dctx.apis`` (MMEngine's registry)
    and MMDetection's ``tools/train.py`` (its own) call it."""
    runner = registry.build(Config(toy_cfg(tmp_path, max_epochs=1)))
    assert type(runner) is SafeRunner


@pytest.mark.parametrize('registry', [OPTIM_WRAPPERS, MMDET_OPTIM_WRAPPERS], ids=['mmengine', 'mmdet'])
def test_optim_wrapper_built_from_each_registry(scope, registry):
    model = nn.Linear(4, 2)
    wrapper = registry.build(dict(type='CPUAutocastOptimWrapper', optimizer=torch.optim.SGD(model.parameters(), 0.1)))
    assert type(wrapper) is CPUAutocastOptimWrapper


def test_build_optim_wrapper(scope):
    """The Runner's route: MMEngine's ``build_optim_wrapper`` from an ``optim_wrapper`` config."""
    model = nn.Linear(4, 2)
    wrapper = build_optim_wrapper(model, dict(type='CPUAutocastOptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    assert type(wrapper) is CPUAutocastOptimWrapper and wrapper.cast_dtype == torch.bfloat16
    with wrapper.optim_context(model):
        assert model(torch.randn(3, 4)).dtype == torch.bfloat16
