"""Versions are pinned once (requirements/*.txt) and every installer reads them from there; the installed
environment is consistent (``pip check``)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def test_every_requirement_pinned_exactly_once(requirement_pins):
    p = requirement_pins
    for name in ('torch', 'mmengine', 'mmcv', 'mmdet', 'numpy', 'pytest', 'setuptools', 'openmim'):
        assert name in p, name
    assert p['torch'][0] == '2.13.0' and p['mmcv'][0] == '2.1.0' and p['mmdet'][0] == '3.3.0'
    # torch 2.13 asks for setuptools>=77.0.3; mmcv's setup.py and mmengine import pkg_resources, gone in 82
    assert Version('77.0.3') <= Version(p['setuptools'][0]) < Version('82')


def test_installers_read_requirement_files_and_pin_nothing_themselves():
    makefile = (ROOT / 'Makefile').read_text()
    dockerfile = (ROOT / 'docker' / 'Dockerfile').read_text()
    for name in ('torch.txt', 'build.txt', 'mmcv.txt', 'runtime.txt', 'mmdet.txt', 'dicom.txt', 'tests.txt',
                 'mim.txt', 'tests-nodeps.txt'):
        assert f'requirements/{name}' in makefile, name
    for name in ('build.txt', 'mmcv.txt', 'runtime.txt', 'mmdet.txt'):
        assert f'requirements/{name}' in dockerfile, name
    for text, where in ((makefile, 'Makefile'), (dockerfile, 'docker/Dockerfile')):
        install_lines = [ln for ln in text.splitlines()
                         if re.search(r'(pip|\$\(PIP\))\s+(install|wheel)', ln) or ln.strip().startswith('-r ')]
        assert install_lines, where
        for ln in install_lines:
            assert '==' not in ln, f'{where} pins a version itself: {ln.strip()}'
    assert 'MMCV_WITH_OPS=1' in makefile and 'MMCV_WITH_OPS=1' in dockerfile
    assert 'TORCH_CUDA_ARCH_LIST' in dockerfile and 'USER 1000' in dockerfile
    assert 'ENTRYPOINT ["mmdet3dctx-entrypoint"]' in dockerfile  # docker/entrypoint.sh: tools/train.py by default


def test_dockerfile_base_image_and_architectures():
    """A published CUDA devel tag whose torch (kept, not requirements/torch.txt's CPU pin) runs the toolkit (>= 2.4:
    autocast queried per device type) and builds mmcv's CUDA ops; the architectures are pinned."""
    dockerfile = (ROOT / 'docker' / 'Dockerfile').read_text()
    m = re.search(r'ARG BASE_IMAGE=pytorch/pytorch:(\d+)\.(\d+)\.(\d+)-cuda(\d+)\.(\d+)-cudnn\d+-devel\n', dockerfile)
    assert m, 'BASE_IMAGE must be a pytorch/pytorch:X.Y.Z-cudaA.B-cudnnN-devel tag'
    assert (int(m.group(1)), int(m.group(2))) >= (2, 4)
    assert 'requirements/torch.txt' not in dockerfile.split('FROM')[1]
    archs = re.search(r'ARG TORCH_CUDA_ARCH_LIST="([^"]+)"', dockerfile).group(1).split(';')
    assert all(re.fullmatch(r'\d+\.\d(\+PTX)?', a) for a in archs) and '9.0+PTX' in archs


HADOLINT = shutil.which('hadolint') or str(Path(sys.executable).parent / 'hadolint')


@pytest.mark.skipif(not Path(HADOLINT).exists(), reason='hadolint not installed (requirements/tests.txt installs it '
                    'on x86_64)')
def test_dockerfile_lints_clean():
    out = subprocess.run([HADOLINT, '--config', str(ROOT / 'docker' / '.hadolint.yaml'), '--no-color',
                          str(ROOT / 'docker' / 'Dockerfile')], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_pip_check_finds_no_conflict(requirement_pins):
    """Every installed distribution's requirements are met (``pip check``), except that the reference packages of
    requirements/tests-nodeps.txt, installed without their dependencies on purpose (docs/install.md), may miss
    some: a version conflict is never allowed, and no other package may miss one."""
    nodeps = {name for name, (_, where) in requirement_pins.items() if where == 'tests-nodeps.txt'}
    out = subprocess.run([sys.executable, '-m', 'pip', 'check'], capture_output=True, text=True)
    allowed = re.compile(r'^(\S+) \S+ requires \S+, which is not installed\.$')
    problems = []
    for line in out.stdout.splitlines():
        m = allowed.match(line)
        if line.strip() and line != 'No broken requirements found.' and not (m and m.group(1).lower() in nodeps):
            problems.append(line)
    assert not problems, 'pip check:\n' + '\n'.join(problems)
