"""`tools/gpu_check.py --device cpu --quick` as a user runs it: every correctness row passes, the timing tables list
every operator beside the published formulations, and rows that cannot run say why."""
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from mmdet3dctx.apis.gpu_check import CHECKED_OPS, precisions_for, timing_rows

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')


@pytest.mark.slow  # about 30 s of CPU: the tool end to end, MMDetection's imports included
def test_gpu_check_cpu_quick():
    proc = subprocess.run([sys.executable, 'tools/gpu_check.py', '--device', 'cpu', '--quick'], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    rows = [ln.split() for ln in out.splitlines() if ln.split() and ln.split()[0] in CHECKED_OPS
            and len(ln.split()) > 2 and ln.split()[1] == 'cpu']
    expected = len(CHECKED_OPS) * len(precisions_for('cpu'))
    assert len(rows) == expected
    assert all(r[-1] == 'PASS' for r in rows), out
    assert {(r[0], r[2]) for r in rows} == {(o, p) for o in CHECKED_OPS for p in precisions_for('cpu')}
    for r in rows:  # out err and grad err within the stated tolerance
        assert float(r[3]) <= float(r[5]) and float(r[4]) <= float(r[5]), r
    assert f'correctness: {expected}/{expected} rows pass' in out

    dense = out.split('== dense layer')[1].split('\n== ')[0]
    names = [ln.split()[0] for ln in dense.splitlines()[2:] if ln.strip()]
    assert names == timing_rows()
    assert {'A3D-einsum', 'TSM-slicing'} <= set(names)
    assert re.search(r'^NoFusionConv\s+[\d.]+\s+1\.000\s+n/a\s+n/a', dense, re.M)  # its own baseline, no CPU memory
    for section in ('== DenseNet3D backbone', '== detector'):
        assert section in out
    if 'backbone: skipped' not in out:
        backbone = out.split('== DenseNet3D backbone')[1].split('\n== ')[0]
        assert [ln.split()[0] for ln in backbone.splitlines()[2:] if ln.strip()] == [
            n for n in timing_rows() if n in CHECKED_OPS]
    if 'detector: skipped' not in out:
        assert re.search(r'^train\s+\d+\.\d+\s+n/a$', out, re.M) and re.search(r'^test\s+\d+\.\d+\s+n/a$', out, re.M)


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA device is visible')
def test_cuda_without_a_gpu_says_so():
    proc = subprocess.run([sys.executable, 'tools/gpu_check.py', '--device', 'cuda', '--quick'], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and 'no CUDA device is visible' in proc.stderr


@pytest.mark.parametrize('args,want', [
    (['python', 'tools/gpu_check.py'], ['tools/gpu_check.py']),  # the smoke command runs as given
    (['configs/deeplesion/a3d_7slice.py', '--work-dir', 'w'],
     ['/opt/mmdet3dctx/tools/train.py', 'configs/deeplesion/a3d_7slice.py', '--work-dir', 'w']),
    (['--help'], ['/opt/mmdet3dctx/tools/train.py', '--help']),
])
def test_docker_entrypoint(tmp_path, args, want):
    """docker/entrypoint.sh: `docker run IMAGE python tools/gpu_check.py` runs that command; a config trains."""
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    env = {'PATH': f'{tmp_path}:/usr/bin:/bin'}
    out = subprocess.run(['sh', osp.join(ROOT, 'docker', 'entrypoint.sh'), *args], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.splitlines() == want


def test_torch_only_machine():
    """With nothing but torch (MMEngine, MMCV, MMDetection absent) the check still runs and says what it skipped."""
    code = ('import sys\n'
            'for m in ("mmengine", "mmcv", "mmdet"): sys.modules[m] = None\n'
            'from mmdet3dctx.apis.gpu_check import run_gpu_check\n'
            'sys.exit(run_gpu_check("cpu", quick=True, rounds=1))\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the reason names the first missing package the backbone's import meets (MMEngine's registry, MMDetection)
    assert re.search(r'== DenseNet3D backbone: skipped \(DenseNet3D does not import \(.*(mmengine|mmdet)', proc.stdout)
    assert re.search(r"== detector: skipped \(MMCV's compiled ops or the detectors do not import", proc.stdout)
    assert 'mmcv -, mmdet -' in proc.stdout
