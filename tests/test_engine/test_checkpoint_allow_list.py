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


# -- the readers allow-list MMEngine's types themselves: nothing needs to call allow_mmengine_checkpoints first --


@pytest.fixture
def forget_allow_list(monkeypatch):
    """``forget()`` puts PyTorch's allow-list back as a fresh process has it (nothing added); the list is restored
    after the test."""
    from mmdet3dctx.utils import checkpoint
    saved = torch.serialization.get_safe_globals()

    def forget():
        torch.serialization.clear_safe_globals()
        monkeypatch.setattr(checkpoint, '_DONE', False)

    yield forget
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


def _mmengine_checkpoint(path, state_dict):
    """A checkpoint as MMEngine's Runner writes it: tensors plus the message hub's ``HistoryBuffer`` and numpy
    values, which ``torch.load(weights_only=True)`` refuses unless allow-listed."""
    buf = HistoryBuffer()
    buf.update(0.5)
    torch.save({'state_dict': state_dict, 'meta': {'iter': 7, 'seed': np.int64(3)},
                'message_hub': {'log_scalars': {'loss': buf}}}, path)
    return path


def test_read_checkpoint_and_state_dict(tmp_path, forget_allow_list):
    from mmdet3dctx.utils import read_checkpoint, read_state_dict
    path = _mmengine_checkpoint(tmp_path / 'c.pth', {'module.w': torch.arange(3.0)})
    forget_allow_list()
    with pytest.raises(Exception, match='Weights only load failed'):  # what a reader meets without the list
        torch.load(path, weights_only=True)
    ckpt = read_checkpoint(str(path))
    assert ckpt['meta']['iter'] == 7 and ckpt['message_hub']['log_scalars']['loss'].mean() == 0.5
    forget_allow_list()
    assert list(read_state_dict(str(path))) == ['w']


def _toy_runner(work_dir, **kwargs):
    from mmdet.registry import RUNNERS
    from mmengine.config import Config

    from mmdet3dctx.testing.toy_runner import toy_cfg
    cfg = toy_cfg(work_dir, **kwargs)
    cfg['optim_wrapper']['optimizer'].update(lr=0.0, momentum=0.0)  # weights stay as loaded
    return RUNNERS.build(Config(cfg))


def test_safe_runner_reads_without_preparation(tmp_path, forget_allow_list):
    """SafeRunner's load_checkpoint, resume and weight initialisation (MMEngine's ``type='Pretrained'``) each
    read an MMEngine checkpoint in a process where nothing allow-listed MMEngine's types before."""
    path = _mmengine_checkpoint(tmp_path / 'src.pth', {'fc.weight': torch.full((1, 4), 0.25),
                                                       'fc.bias': torch.ones(1)})
    runner = _toy_runner(tmp_path / 'load', max_epochs=1)
    forget_allow_list()
    runner.load_checkpoint(str(path))
    torch.testing.assert_close(runner.model.fc.bias, torch.ones(1), rtol=0, atol=0)

    _toy_runner(tmp_path / 'train', max_epochs=1).train()
    resumed = _toy_runner(tmp_path / 'resume', max_epochs=2)
    forget_allow_list()
    resumed.resume(str(tmp_path / 'train' / 'epoch_1.pth'))
    assert resumed.epoch == 1

    runner = _toy_runner(tmp_path / 'init', max_epochs=1)
    runner.model.init_cfg = dict(type='Pretrained', checkpoint=str(path))
    forget_allow_list()
    runner.train()  # initialises the weights from the checkpoint
    torch.testing.assert_close(runner.model.fc.bias, torch.ones(1), rtol=0, atol=0)


def test_study_detector_reads_without_preparation(tmp_path, forget_allow_list):
    """The inference detector loads a Runner's checkpoint of its config (weights as saved, model in eval mode)."""
    from mmdet.registry import MODELS
    from mmdet3dctx.apis import read_config
    from mmdet3dctx.inference import CTStudyDetector
    from mmdet3dctx.utils import get_config_path
    cfg = read_config(get_config_path('demo/a3d_7slice_synthetic.py'))
    saved = {k: torch.randn_like(v) if v.is_floating_point() else v
             for k, v in MODELS.build(cfg.model).state_dict().items()}
    path = _mmengine_checkpoint(tmp_path / 'det.pth', saved)
    forget_allow_list()
    detector = CTStudyDetector(cfg, str(path))
    loaded = detector.model.state_dict()
    assert list(loaded) == list(saved) and not detector.model.training
    for k, v in saved.items():
        assert torch.equal(loaded[k], v), k
