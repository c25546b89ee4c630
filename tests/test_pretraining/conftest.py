import pytest
import torch


@pytest.fixture(autouse=True, scope='session')
def _mmdet_scope():
    """Build components in MMDetection's registry scope, as configs do."""
    from mmdet.utils import register_all_modules
    import mmdet3dctx  # noqa: F401
    register_all_modules(init_default_scope=True)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
