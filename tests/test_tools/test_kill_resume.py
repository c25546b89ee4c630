"""tools/train.py killed with SIGKILL in the middle of an epoch and restarted with --resume ends with the same
weights as an uninterrupted run of the same length (the demo config, shrunk and seeded)."""
import os
import re
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

pytest.importorskip('mmdet')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')
from mmdet3dctx.testing.tiny_detector import tiny_cfg_argv  # noqa: E402


def train_cmd(work, root, *extra):
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), DEMO, '--work-dir', work, *extra] + \
        tiny_cfg_argv(**{'data_root': root, 'train_cfg.max_epochs': 3, 'train_dataloader.batch_size': 2,
                         'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.max_keep_ckpts': 3})


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    from mmdet3dctx.testing import make_synthetic_deeplesion
    root = make_synthetic_deeplesion(str(tmp_path / 'data'), num_patients=8, seed=5, image_size=64)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    straight = str(tmp_path / 'straight')
    subprocess.run(train_cmd(straight, root), cwd=ROOT, env=env, check=True, capture_output=True, timeout=900)

    killed = str(tmp_path / 'killed')
    proc = subprocess.Popen(train_cmd(killed, root), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    log_seen = None
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if osp.isfile(osp.join(killed, 'epoch_1.pth')):
            # wait until epoch 2 is under way (its first iteration is logged), then kill without warning
            logs = [osp.join(d, f) for d, _, fs in os.walk(killed) for f in fs if f.endswith('.log')]
            log_seen = logs and any(re.search(r'Epoch\(train\)\s+\[2\]', open(p).read()) for p in logs)
            if log_seen:
                break
        time.sleep(0.2)
    assert proc.poll() is None, 'training ended before it could be killed: ' + proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not osp.isfile(osp.join(killed, 'epoch_2.pth'))
    subprocess.run(train_cmd(killed, root, '--resume'), cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=900)
    from mmdet3dctx.utils import read_checkpoint
    a = read_checkpoint(osp.join(straight, 'epoch_3.pth'))
    b = read_checkpoint(osp.join(killed, 'epoch_3.pth'))
    assert a['meta']['iter'] == b['meta']['iter']
    for k, v in a['state_dict'].items():
        assert torch.equal(v, b['state_dict'][k]), k
