"""Fixtures shared by every test directory: a fixed torch seed, MMDetection's registry scope, the tools, the
pinned requirements."""
import importlib.util
import logging
import os.path as osp
import re
from pathlib import Path

import pytest
import torch

import mmdet3dctx

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def _mmdet_registries():
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)


@pytest.fixture(autouse=True)
def mmdet_scope(request):
    """Build from MMDetection's registries (nested heads, data preprocessors, transforms) as configs and a Runner
    with ``default_scope='mmdet'`` do; nothing where MMDetection is not installed."""
    if not mmdet3dctx.HAS_MMDET:
        return
    request.getfixturevalue('_mmdet_registries')
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')


def _load_tool(name: str):
    path = osp.join(ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('train')``: the module of ``tools/train.py``, loaded from its file (tools are scripts, not a
    package), e.g. to call its ``main(argv)`` with the command line a user types."""
    return _load_tool


class _Messages(logging.Handler):
    """Keeps the text of every record it is given."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log_messages():
    """The messages MMEngine's current logger writes during the test, as a list of strings."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    handler = _Messages()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


_PIN = re.compile(r'^([A-Za-z0-9_.\-]+)==([^\s;#]+)')


@pytest.fixture(scope='session')
def requirement_pins():
    """``{name: (version, file)}`` of every ``requirements/*.txt`` line; each must be an exact pin, given once."""
    out = {}
    for f in sorted(Path(ROOT, 'requirements').glob('*.txt')):
        for line in f.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            m = _PIN.match(line)
            assert m, f'{f.name}: every requirement must be pinned with ==, got {line!r}'
            name = m.group(1).lower()
            assert name not in out, f'{name} pinned twice ({out[name][1]} and {f.name})'
            out[name] = (m.group(2), f.name)
    return out
