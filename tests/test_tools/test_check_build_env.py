"""The decisions `make install` takes through tools/check_build_env.py: keep an existing torch, the CPU wheel
index on CPU machines, CUDA or CPU mmcv ops, what is missing said first, CPU and CUDA wheels cached apart."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
SCRIPT = osp.join(ROOT, 'tools', 'check_build_env.py')


@pytest.fixture(scope='module')
def cbe(load_tool):
    """The module of ``tools/check_build_env.py``."""
    return load_tool('check_build_env')

WHEELS = '/home/u/.cache/mmdet3dctx/wheels'


def gpu_probe(cbe, **kw):
    base = dict(python=(3, 11), torch_version='2.4.1+cu121', torch_cuda='12.1', gpu_capabilities=[(9, 0), (8, 0),
                (9, 0)], cxx='/usr/bin/g++', nvcc='/usr/local/cuda/bin/nvcc', nvcc_version='12.1', env={})
    base.update(kw)
    return cbe.Probe(**base)


def cpu_probe(cbe, **kw):
    base = dict(python=(3, 11), torch_version='2.13.0+cpu', torch_cuda=None, cxx='/usr/bin/g++', env={})
    base.update(kw)
    return cbe.Probe(**base)


def test_pinned_torch_and_python_floor_match_the_project_files(cbe, tmp_path):
    assert cbe.pinned_torch() == '2.13.0'
    with open(osp.join(ROOT, 'setup.py')) as f:
        floor = re.search(r"python_requires='>=(\d+)\.(\d+)'", f.read())
    assert cbe.MIN_PYTHON == (int(floor.group(1)), int(floor.group(2)))
    bad = tmp_path / 'torch.txt'
    bad.write_text('# nothing pinned\n')
    with pytest.raises(ValueError, match='torch.txt: no "torch==VERSION" line'):
        cbe.pinned_torch(str(bad))


def test_python_version(cbe):
    assert cbe.check_python((3, 11, 7)) is None and cbe.check_python((3, 12)) is None
    assert 'Python 3.9 is too old' in cbe.check_python((3, 9, 1))


@pytest.mark.parametrize('choice,has_torch,want', [('auto', True, True), ('auto', False, False), ('1', False, True),
                                                   ('0', True, False)])
def test_venv_sees_an_existing_torch(cbe, choice, has_torch, want):
    assert cbe.use_system_site_packages(choice, has_torch) is want


def test_venv_choice_is_checked(cbe):
    with pytest.raises(ValueError, match="USE_SYSTEM_TORCH must be auto, 0 or 1, got 'yes'"):
        cbe.use_system_site_packages('yes', True)


def test_torch_source(cbe):
    cpu = ['--extra-index-url', 'https://download.pytorch.org/whl/cpu']
    # this machine (pip finds the wheels given to it): pip's own configuration, as before
    assert cbe.torch_pip_args('auto', gpu_present=False, find_links=True) == []
    # a user's CPU machine: the CPU build, not gigabytes of CUDA libraries
    assert cbe.torch_pip_args('auto', gpu_present=False, find_links=False) == cpu
    # a GPU machine: PyPI's torch (the CUDA build)
    assert cbe.torch_pip_args('auto', gpu_present=True, find_links=False) == []
    assert cbe.torch_pip_args('none', gpu_present=False, find_links=False) == []
    url = 'https://download.pytorch.org/whl/cu121'
    assert cbe.torch_pip_args(url, gpu_present=False, find_links=True) == ['--extra-index-url', url]


def test_find_links_from_env_or_pip_config(cbe):
    assert cbe.pip_has_find_links({'PIP_FIND_LINKS': '/opt/wheels'})
    assert cbe.pip_has_find_links({}, "global.cert='/etc/ssl'\nglobal.find-links='/opt/wheels'\n")
    assert not cbe.pip_has_find_links({}, "global.index-url='https://pypi.org/simple'\n")


def test_nvcc_release(cbe):
    out = 'nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 12.1, V12.1.105\n'
    assert cbe.nvcc_release(out) == '12.1'
    assert cbe.nvcc_release('no version here') is None


def test_cpu_build_against_the_pinned_torch_reuses_the_cached_wheel(cbe):
    plan = cbe.plan_mmcv_build(cpu_probe(cbe), WHEELS, '2.13.0')
    assert plan.problems == []
    assert plan.exports == {'FORCE_CUDA': '0', 'MMCV_BUILD': 'CPU ops', 'MMCV_WHEEL_DIR': WHEELS}


def test_cpu_build_against_another_torch_has_its_own_cache(cbe):
    plan = cbe.plan_mmcv_build(cpu_probe(cbe, torch_version='2.4.1+cpu'), WHEELS, '2.13.0')
    assert plan.exports['MMCV_WHEEL_DIR'] == osp.join(WHEELS, 'torch2.4.1+cpu-cpu')


def test_cuda_build_from_visible_gpus(cbe):
    plan = cbe.plan_mmcv_build(gpu_probe(cbe), WHEELS, '2.13.0')
    assert plan.problems == [] and plan.notes == []
    assert plan.exports['FORCE_CUDA'] == '1'
    assert plan.exports['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0'  # sorted, once each
    assert plan.exports['MMCV_WHEEL_DIR'] == osp.join(WHEELS, 'torch2.4.1+cu121-cu121-sm80_90')
    assert plan.exports['MMCV_BUILD'] == 'CUDA 12.1 ops for 8.0;9.0'


def test_cuda_build_with_the_users_arch_list_and_no_gpu(cbe):
    plan = cbe.plan_mmcv_build(gpu_probe(cbe, gpu_capabilities=[], env={'TORCH_CUDA_ARCH_LIST': '7.0;8.0;9.0+PTX'}),
                               WHEELS, '2.13.0')
    assert plan.problems == []
    assert plan.exports['TORCH_CUDA_ARCH_LIST'] == '7.0;8.0;9.0+PTX'
    assert plan.exports['MMCV_WHEEL_DIR'].endswith('-sm70_80_90+PTX')


def test_cuda_build_problems_are_all_said_first(cbe):
    probe = gpu_probe(cbe, gpu_capabilities=[], nvcc=None, cxx=None, python=(3, 10))
    plan = cbe.plan_mmcv_build(probe, WHEELS, '2.13.0')
    text = '\n'.join(plan.problems)
    assert len(plan.problems) == 4
    assert 'Python 3.10 is too old' in text
    assert 'no C++ compiler' in text
    assert 'built with CUDA 12.1 but nvcc is not found' in text and 'FORCE_CUDA=0' in text
    assert 'set TORCH_CUDA_ARCH_LIST' in text


def test_nvcc_must_match_torch_cuda(cbe):
    plan = cbe.plan_mmcv_build(gpu_probe(cbe, nvcc_version='13.0'), WHEELS, '2.13.0')
    assert plan.problems == ['nvcc /usr/local/cuda/bin/nvcc is CUDA 13.0 but torch 2.4.1+cu121 is built with '
                             'CUDA 12.1: use a CUDA 12.1 toolkit (CUDA_HOME)']
    plan = cbe.plan_mmcv_build(gpu_probe(cbe, nvcc_version='12.4'), WHEELS, '2.13.0')
    assert plan.problems == [] and 'same major version' in plan.notes[0]


def test_bad_arch_list(cbe):
    plan = cbe.plan_mmcv_build(gpu_probe(cbe, env={'TORCH_CUDA_ARCH_LIST': 'sm_90'}), WHEELS, '2.13.0')
    assert "['sm_90'] are not compute capabilities" in plan.problems[0]


def test_force_cuda_0_builds_cpu_ops_apart(cbe):
    plan = cbe.plan_mmcv_build(gpu_probe(cbe, env={'FORCE_CUDA': '0'}, nvcc=None), WHEELS, '2.13.0')
    assert plan.problems == []
    assert plan.exports['FORCE_CUDA'] == '0' and 'TORCH_CUDA_ARCH_LIST' not in plan.exports
    assert plan.exports['MMCV_WHEEL_DIR'] == osp.join(WHEELS, 'torch2.4.1+cu121-cpu')


def test_no_torch(cbe):
    plan = cbe.plan_mmcv_build(cpu_probe(cbe, torch_version=None), WHEELS, '2.13.0')
    assert plan.problems == ['torch does not import in this Python: mmcv is built against it']


def test_probe_finds_compilers(cbe, monkeypatch, tmp_path):
    nvcc = tmp_path / 'bin' / 'nvcc'
    nvcc.parent.mkdir()
    nvcc.write_text('#!/bin/sh\necho "Cuda compilation tools, release 12.1, V12.1.105"\n')
    nvcc.chmod(0o755)
    monkeypatch.setattr(cbe.shutil, 'which', lambda name: '/usr/bin/g++' if name == 'g++' else None)
    p = cbe.probe({'CUDA_HOME': str(tmp_path)})
    assert p.cxx == '/usr/bin/g++' and p.nvcc == str(nvcc) and p.nvcc_version == '12.1'
    assert cbe.probe({'CUDA_HOME': str(tmp_path / 'none')}).nvcc is None


def test_mmcv_command_exports_for_the_shell(cbe, tmp_path):
    """What the Makefile evaluates, on this machine's torch (the CPU path CI runs)."""
    import torch
    env = dict(os.environ, FORCE_CUDA='0')
    script = f'eval "$({sys.executable} {SCRIPT} mmcv --wheel-dir {tmp_path})"; echo "$FORCE_CUDA|$MMCV_WHEEL_DIR"'
    out = subprocess.run(['bash', '-c', script], env=env, capture_output=True, text=True, check=True)
    force, wheel_dir = out.stdout.strip().split('|')
    assert force == '0'
    if torch.version.cuda is None and torch.__version__.split('+')[0] == cbe.pinned_torch():
        assert wheel_dir == str(tmp_path)  # the cached CPU wheel is found where earlier installs put it
    assert 'mmcv build: CPU ops against torch' in out.stderr


def test_mmcv_command_fails_with_the_list(cbe, monkeypatch, capsys):
    monkeypatch.setattr(cbe, 'probe', lambda env, tools=True: gpu_probe(cbe, nvcc=None, gpu_capabilities=[]))
    assert cbe.main(['mmcv', '--wheel-dir', WHEELS]) == 1
    out = capsys.readouterr()
    assert out.out == ''
    assert 'cannot build mmcv with its ops yet:\n  - torch 2.4.1+cu121 is built with CUDA 12.1' in out.err


def test_has_torch_and_venv_args(cbe, monkeypatch, capsys):
    monkeypatch.setattr(cbe, 'probe', lambda env, tools=True: cpu_probe(cbe))
    assert cbe.main(['has-torch']) == 0
    assert 'torch 2.13.0+cpu (CUDA none) is already installed: kept' in capsys.readouterr().err
    assert cbe.main(['venv-args', '--use-system-torch', 'auto']) == 0
    assert capsys.readouterr().out.strip() == '--system-site-packages'
    monkeypatch.setattr(cbe, 'probe', lambda env, tools=True: cpu_probe(cbe, torch_version=None))
    assert cbe.main(['has-torch']) == 1
    assert cbe.main(['venv-args', '--use-system-torch', 'auto']) == 0
    assert capsys.readouterr().out == ''


def test_torch_too_old_for_the_toolkit(cbe):
    plan = cbe.plan_mmcv_build(gpu_probe(cbe, torch_version='2.1.2+cu121'), WHEELS, '2.13.0')
    assert plan.problems == ['torch 2.1.2+cu121 is too old: mmdet3dctx needs torch >= 2.4 (USE_SYSTEM_TORCH=0 installs '
                             'requirements/torch.txt)']
