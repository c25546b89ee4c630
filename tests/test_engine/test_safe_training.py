import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

pytest.importorskip('mmdet')
import mmdet3dctx  # noqa: E402,F401
from mmdet.registry import RUNNERS  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmdet3dctx.engine import CheckpointError, NonFiniteLossError  # noqa: E402
from mmdet3dctx.testing.toy_runner import Killed, toy_cfg  # noqa: E402
from mmdet3dctx.utils import read_state_dict  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build(cfg):
    return RUNNERS.build(Config(cfg))


def weights(path):
    return read_state_dict(str(path))  # under torch.load's weights_only default: must load


def test_checkpoints_written_whole_and_loadable_with_weights_only(tmp_path):
    runner = build(toy_cfg(tmp_path, max_epochs=2))
    runner.train()
    files = sorted(os.listdir(tmp_path))
    assert 'epoch_1.pth' in files and 'epoch_2.pth' in files and not any(f.endswith('.tmp') for f in files)
    sd = weights(tmp_path / 'epoch_2.pth')
    assert torch.equal(sd['fc.weight'], runner.model.fc.weight.detach())


def test_interrupted_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    runner = build(toy_cfg(tmp_path, max_epochs=1))
    runner.train()
    good = (tmp_path / 'epoch_1.pth').read_bytes()
    import mmengine.runner.runner as runner_mod

    def crash(checkpoint, filepath, **kwargs):
        with open(filepath, 'wb') as f:
            f.write(b'half a checkpoint')
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(runner_mod, 'save_checkpoint', crash)
    with pytest.raises(KeyboardInterrupt):
        runner.save_checkpoint(str(tmp_path), 'epoch_1.pth')
    assert (tmp_path / 'epoch_1.pth').read_bytes() == good  # never overwritten by a partial file


def test_corrupt_checkpoint_named(tmp_path):
    runner = build(toy_cfg(tmp_path, max_epochs=1))
    runner.train()
    path = tmp_path / 'epoch_1.pth'
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    fresh = build(toy_cfg(tmp_path / 'b', max_epochs=2))
    with pytest.raises(CheckpointError, match='epoch_1.pth: corrupt or truncated'):
        fresh.resume(str(path))
    with pytest.raises(CheckpointError, match='checkpoint not found: .*missing.pth'):
        fresh.load_checkpoint(str(tmp_path / 'missing.pth'))


def test_nan_loss_stops_before_saving(tmp_path):
    runner = build(toy_cfg(tmp_path, max_epochs=2, nan_at=3, ckpt_by_epoch=False, interval=1))
    with pytest.raises(NonFiniteLossError, match=r'iteration 3 \(epoch 1\): loss=nan'):
        runner.train()
    files = os.listdir(tmp_path)
    assert 'iter_2.pth' in files and 'iter_3.pth' not in files


def test_resume_equals_uninterrupted_run(tmp_path):
    straight = build(toy_cfg(tmp_path / 'a', max_epochs=3))
    straight.train()
    # the same run killed after epoch 1, then resumed for the remaining epochs
    with pytest.raises(Killed):
        build(toy_cfg(tmp_path / 'b', max_epochs=3, extra_hooks=[dict(type='KillAfterEpoch', n=1)])).train()
    cfg = toy_cfg(tmp_path / 'b', max_epochs=3)
    cfg.update(load_from=str(tmp_path / 'b' / 'epoch_1.pth'), resume=True)
    build(cfg).train()
    for k, v in weights(tmp_path / 'a' / 'epoch_3.pth').items():
        assert torch.equal(v, weights(tmp_path / 'b' / 'epoch_3.pth')[k]), k


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(tmp_path):
    """A real process killed with SIGKILL in the middle of epoch 2 resumes from epoch_1.pth and ends with the
    uninterrupted run's weights."""
    script = tmp_path / 'run.py'
    script.write_text(textwrap.dedent('''
        import sys, time
        import mmdet3dctx
        from mmengine.config import Config
        from mmengine.hooks import Hook
        from mmdet.registry import HOOKS, RUNNERS
        from mmdet3dctx.testing.toy_runner import toy_cfg

        @HOOKS.register_module(force=True)
        class SlowDown(Hook):
            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                if runner.epoch == 1 and batch_idx == 3:
                    print('MID-EPOCH', flush=True)
                    time.sleep(60)

        work_dir, resume, slow = sys.argv[1], sys.argv[2] == '1', sys.argv[3] == '1'
        cfg = toy_cfg(work_dir, max_epochs=3, extra_hooks=[dict(type='SlowDown')] if slow else [])
        cfg['resume'] = resume
        RUNNERS.build(Config(cfg)).train()
    '''))
    run = [sys.executable, str(script)]
    subprocess.run(run + [str(tmp_path / 'a'), '0', '0'], check=True, cwd=ROOT)
    proc = subprocess.Popen(run + [str(tmp_path / 'b'), '0', '1'], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if 'MID-EPOCH' in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sorted(f for f in os.listdir(tmp_path / 'b') if f.endswith('.pth')) == ['epoch_1.pth']
    subprocess.run(run + [str(tmp_path / 'b'), '1', '0'], check=True, cwd=ROOT)
    for k, v in weights(tmp_path / 'a' / 'epoch_3.pth').items():
        assert torch.equal(v, weights(tmp_path / 'b' / 'epoch_3.pth')[k]), k
