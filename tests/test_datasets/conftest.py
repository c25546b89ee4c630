import pytest
from mmengine.registry import init_default_scope


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Build transforms from MMDetection's registries, as a Runner with ``default_scope='mmdet'`` does."""
    init_default_scope('mmdet')
