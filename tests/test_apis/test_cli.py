"""The training and testing command lines: the parsers, LOCAL_RANK, the argument vectors of child processes,
``python -m mmdet3dctx.apis.cli`` and the console scripts setup.py declares."""
import importlib
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from mmdet3dctx.apis.cli import MODULE, build_parser, command_argv, parse_launcher_args

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_parsers_share_the_launcher_arguments(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_launcher_args(build_parser('train'), ['cfg.py', '--work-dir', 'w', '--resume', '--local_rank', '3',
                                                       '--cfg-options', 'a.b=1', 'c=[1, 2]'])
    assert (args.config, args.work_dir, args.resume, args.amp, args.launcher) == ('cfg.py', 'w', 'auto', False, 'none')
    assert args.cfg_options == {'a.b': 1, 'c': [1, 2]} and os.environ['LOCAL_RANK'] == '3'
    monkeypatch.setenv('LOCAL_RANK', '1')  # torchrun's value wins over --local_rank
    args = parse_launcher_args(build_parser('test'), ['cfg.py', 'e.pth', '--launcher', 'pytorch', '--local-rank',
                                                      '0', '--out', 'r.pkl'])
    assert (args.checkpoint, args.out, args.score_thr, args.launcher) == ('e.pth', 'r.pkl', 0.3, 'pytorch')
    assert args.cfg_options is None and os.environ['LOCAL_RANK'] == '1'
    with pytest.raises(ValueError, match="unknown command 'infer'; choose from train, test"):
        build_parser('infer')


def test_command_argv_runs_the_package_module():
    assert MODULE == 'mmdet3dctx.apis.cli'
    assert command_argv('test', ['c.py', 'e.pth'], python='py') == ['py', '-m', MODULE, 'test', 'c.py', 'e.pth']
    assert command_argv('train')[:4] == [sys.executable, '-m', MODULE, 'train']
    with pytest.raises(ValueError, match='unknown command'):
        command_argv('tools/train.py')


def test_python_m_usage_and_help():
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, '-m', MODULE], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith(f'usage: python -m {MODULE} {{train,test}} ...')
    out = subprocess.run([sys.executable, '-m', MODULE, 'test', '--help'], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith(f'usage: python -m {MODULE} test [-h]')
    assert 'checkpoint' in out.stdout and '--launcher {none,pytorch,slurm}' in out.stdout
    assert 'RuntimeWarning' not in out.stderr  # the module runs once, not imported by mmdet3dctx.apis first


def test_console_scripts_name_functions_of_the_package():
    with open(osp.join(ROOT, 'setup.py')) as f:
        scripts = dict(re.findall(r"'(mmdet3dctx-\w+) = ([\w.]+:\w+)'", f.read()))
    assert sorted(scripts) == ['mmdet3dctx-test', 'mmdet3dctx-train']
    for target in scripts.values():
        module, func = target.split(':')
        assert module == MODULE and callable(getattr(importlib.import_module(module), func))
