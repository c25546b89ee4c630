"""Real distributed training and testing on CPU: 2 processes, gloo, through tools/train.py and tools/test.py."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

pytest.importorskip('mmdet')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, **kw)
    assert out.returncode == 0, f'{cmd}\nSTDOUT:\n{out.stdout[-3000:]}\nSTDERR:\n{out.stderr[-5000:]}'
    return out


@pytest.mark.slow
def test_two_process_gloo_train_then_test(tmp_path):
    from mmdet3dctx.testing import make_synthetic_deeplesion
    data = make_synthetic_deeplesion(str(tmp_path / 'data'), num_patients=8, seed=3, image_size=64)
    cfg = tmp_path / 'dist_demo.py'
    cfg.write_text(f'''
_base_ = {osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')!r}
data_root = {data!r}
max_epochs = 1
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
test_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=1))
custom_hooks = [dict(type='DataOrderHook')]
model = dict(backbone=dict(block_config=(1, 1, 1)), neck=dict(neck=dict(in_channels=[48, 40, 36])))
''')
    work = tmp_path / 'work'
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                f'--master_port={free_port()}']
    run(torchrun + ['tools/train.py', str(cfg), '--launcher', 'pytorch', '--work-dir', str(work)])
    orders = [open(work / f'data_order_rank{r}.txt').read().split('\n') for r in (0, 1)]
    ids = [{line.split()[2] for line in o if line.strip()} for o in orders]
    assert ids[0] and ids[1] and not ids[0] & ids[1]  # each rank its own shard
    ckpts = sorted(f for f in os.listdir(work) if f.endswith('.pth'))
    assert ckpts == ['epoch_1.pth'] and not [f for f in os.listdir(work) if f.endswith('.tmp')]

    run(torchrun[:-1] + [f'--master_port={free_port()}', 'tools/test.py', str(cfg), str(work / 'epoch_1.pth'),
                         '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'test_dist')])
    run([sys.executable, 'tools/test.py', str(cfg), str(work / 'epoch_1.pth'), '--work-dir',
         str(tmp_path / 'test_single')])
    dist = json.load(open(tmp_path / 'test_dist' / 'froc.json'))
    single = json.load(open(tmp_path / 'test_single' / 'froc.json'))
    assert dist['num_images'] == single['num_images'] > 0
    assert dist['sensitivity'] == pytest.approx(single['sensitivity'], abs=1e-9)
