"""Versions are pinned once (requirements/*.txt) and every installer reads them from there."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r'^([A-Za-z0-9_.\-]+)==([^\s;#]+)')


def pins():
    out = {}
    for f in sorted((ROOT / 'requirements').glob('*.txt')):
        for line in f.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            m = PIN.match(line)
            assert m, f'{f.name}: every requirement must be pinned with ==, got {line!r}'
            name = m.group(1).lower()
            assert name not in out, f'{name} pinned twice ({out[name][1]} and {f.name})'
            out[name] = (m.group(2), f.name)
    return out


def test_every_requirement_pinned_exactly_once():
    p = pins()
    for name in ('torch', 'mmengine', 'mmcv', 'mmdet', 'numpy', 'pytest', 'setuptools'):
        assert name in p, name
    assert p['torch'][0] == '2.13.0' and p['mmcv'][0] == '2.1.0' and p['mmdet'][0] == '3.3.0'
    assert int(p['setuptools'][0].split('.')[0]) < 70  # pkg_resources for mmcv's setup.py


def test_installers_read_requirement_files_and_pin_nothing_themselves():
    makefile = (ROOT / 'Makefile').read_text()
    dockerfile = (ROOT / 'docker' / 'Dockerfile').read_text()
    for name in ('torch.txt', 'build.txt', 'mmcv.txt', 'runtime.txt', 'mmdet.txt', 'dicom.txt', 'tests.txt',
                 'tests-nodeps.txt'):
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


def test_dockerfile_lints_clean():
    import shutil
    import subprocess
    import sys
    from pathlib import Path as P
    exe = shutil.which('hadolint') or str(P(sys.executable).parent / 'hadolint')
    if not P(exe).exists():
        import pytest
        pytest.skip('hadolint not installed (requirements/tests.txt installs it on x86_64)')
    out = subprocess.run([exe, '--config', str(ROOT / 'docker' / '.hadolint.yaml'), '--no-color',
                          str(ROOT / 'docker' / 'Dockerfile')], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
