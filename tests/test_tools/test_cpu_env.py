"""The tools turn on PyTorch's huge-page CPU allocation before torch loads (it is read once, at load time)."""
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPTS = ['tools/train.py', 'tools/test.py', 'tools/infer.py', 'benchmarks/ops.py', 'benchmarks/train_step.py']


@pytest.mark.parametrize('script', SCRIPTS)
def test_huge_pages_default_set_before_torch_loads(script):
    src = open(osp.join(ROOT, script)).read()
    setting = src.index("os.environ.setdefault('THP_MEM_ALLOC_ENABLE', '1')")
    first_torch = re.search(r'^\s*(import torch|from train import|import mmdet3dctx|from mmdet3dctx)', src, re.M)
    assert first_torch is None or setting < first_torch.start()


def test_user_setting_wins():
    """setdefault: a user's THP_MEM_ALLOC_ENABLE=0 is kept."""
    code = ("import os, runpy, sys; sys.argv = ['train.py', '--help']\n"
            "try:\n    runpy.run_path(%r, run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('THP=' + os.environ['THP_MEM_ALLOC_ENABLE'])") % osp.join(ROOT, 'tools', 'train.py')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                         env={**__import__('os').environ, 'THP_MEM_ALLOC_ENABLE': '0'}, check=True).stdout
    assert 'THP=0' in out
