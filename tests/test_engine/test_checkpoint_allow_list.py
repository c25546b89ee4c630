"""Checkpoints load with weights_only=True through the allow-list; the getattr it allows is restricted."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from mmdet3dctx.utils import allow_mmengine_checkpoints
from mmdet3dctx.utils.checkpoint import _history_buffer_getattr


def test_message_hub_state_round_trips():
    allow_mmengine_checkpoints()
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(2.5)
    state = {'state_dict': {'w': torch.ones(2)}, 'message_hub': {'log_scalars': {'loss': buf}},
             'meta': {'np': np.arange(3), 'scalar': np.float64(2.0)}}
    f = io.BytesIO()
    torch.save(state, f)
    f.seek(0)
    out = torch.load(f, weights_only=True)
    assert out['message_hub']['log_scalars']['loss'].mean() == pytest.approx(2.0)
    assert out['meta']['np'].tolist() == [0, 1, 2]


class _Evil:

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_arbitrary_getattr_refused():
    """A pickle calling getattr for anything but HistoryBuffer's statistics is refused (the builtin getattr
    would hand out any attribute of any allow-listed object)."""
    allow_mmengine_checkpoints()
    f = io.BytesIO()
    torch.save({'x': _Evil()}, f, pickle_module=pickle)
    f.seek(0)
    with pytest.raises(Exception):
        torch.load(f, weights_only=True)
    with pytest.raises(RuntimeError, match='refusing getattr'):
        _history_buffer_getattr(__import__('os'), 'system')
