"""What a user of the package expects: one version everywhere, the licence setup.py claims, runtime requirements
as ranges that hold the pinned versions, and configs and tools shipped inside the wheel (``mmdet3dctx/.mim``)."""
import ast
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.test_stack.test_requirements_sync import pins

ROOT = Path(__file__).resolve().parents[1]
# what a wheel or an sdist is built from (the rest of the repository stays out)
PACKAGE_SOURCES = ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE', 'CHANGELOG.md',
                   'mmdet3dctx', 'configs', 'tools', 'requirements')


def package_version() -> str:
    ns = {}
    exec((ROOT / 'mmdet3dctx' / 'version.py').read_text(), ns)
    return ns['__version__']


def setup_literal(name: str):
    """A module-level literal of setup.py (``INSTALL_REQUIRES``, ``EXTRAS_REQUIRE``), read without running it."""
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f'setup.py: no {name}')


def test_version_agrees_with_changelog_and_docker_image():
    version = package_version()
    assert re.fullmatch(r'\d+\.\d+\.\d+', version), version
    changelog = (ROOT / 'CHANGELOG.md').read_text()
    releases = re.findall(r'^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$', changelog, flags=re.M)
    assert releases, 'CHANGELOG.md: no release heading "## [X.Y.Z] - YYYY-MM-DD"'
    assert releases[0][0] == version, f'CHANGELOG.md newest release {releases[0][0]} != mmdet3dctx {version}'
    assert changelog.index('## [Unreleased]') < changelog.index(f'## [{version}]')
    dockerfile = (ROOT / 'docker' / 'Dockerfile').read_text()
    label = re.search(r'org\.opencontainers\.image\.version="?([^"\s]+)"?', dockerfile)
    assert label, 'docker/Dockerfile: no LABEL org.opencontainers.image.version'
    assert label.group(1) == version, f'docker/Dockerfile labels {label.group(1)}, the package is {version}'


def test_license_is_the_apache_2_text_setup_py_claims():
    text = (ROOT / 'LICENSE').read_text()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION' in text
    assert 'END OF TERMS AND CONDITIONS' in text and len(text) > 11000  # the full text, not a notice
    assert "license='Apache-2.0'" in (ROOT / 'setup.py').read_text()


def test_runtime_requirements_are_ranges_that_hold_the_pins():
    pinned = pins()
    reqs = [Requirement(r) for r in setup_literal('INSTALL_REQUIRES')]
    extras = {k: [Requirement(r) for r in v] for k, v in setup_literal('EXTRAS_REQUIRE').items()}
    assert {'tensorboard', 'tests'} <= set(extras)
    assert 'tensorboard' in {r.name for r in extras['tensorboard']}
    for req in reqs + [r for rs in extras.values() for r in rs]:
        assert req.specifier, f'{req}: give a range'
        assert not any(s.operator == '==' for s in req.specifier), f'{req}: exact pins belong in requirements/'
        name = req.name.lower()
        assert name in pinned, f'{req.name} is required by setup.py but pinned in no requirements/*.txt'
        version, where = pinned[name]
        assert req.specifier.contains(version, prereleases=True), \
            f'setup.py asks for {req}, requirements/{where} pins {version}'
    names = {r.name.lower() for r in reqs}
    assert {'torch', 'mmengine', 'mmcv', 'mmdet', 'numpy', 'opencv-python', 'pydicom'} <= names


def _copy_package_sources(dst: Path) -> None:
    tracked = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', *PACKAGE_SOURCES], cwd=ROOT,
                             capture_output=True, text=True)
    files = tracked.stdout.split() if tracked.returncode == 0 else None
    if not files:  # not a git checkout
        files = [str(p.relative_to(ROOT)) for name in PACKAGE_SOURCES for p in
                 ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob('*')) if p.is_file()]
    for rel in files:
        if '__pycache__' in rel or rel.startswith('mmdet3dctx/.mim'):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes((ROOT / rel).read_bytes())


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """A wheel built from a copy of the package sources (the checkout, and any editable install pointing at
    it, stay untouched); nothing is installed."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    _copy_package_sources(src)
    out = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index',
                          '-q', '.', '-w', str(tmp / 'dist')], cwd=src, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    (whl,) = (tmp / 'dist').glob('mmdet3dctx-*.whl')
    return whl


def test_wheel_ships_configs_tools_and_licence(wheel):
    assert wheel.name.startswith(f'mmdet3dctx-{package_version()}-')
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = sorted(p.relative_to(ROOT / 'configs').as_posix() for p in (ROOT / 'configs').rglob('*.py'))
    assert configs
    for rel in configs:
        assert f'mmdet3dctx/.mim/configs/{rel}' in names, rel
    for rel in ('train.py', 'test.py', 'infer.py', 'browse_dataset.py', 'dist_train.sh'):
        assert f'mmdet3dctx/.mim/tools/{rel}' in names, rel
    assert not any(n.startswith(('tests/', 'benchmarks/', 'configs/', 'tools/')) for n in names)
    meta = next(n for n in names if n.endswith('.dist-info/METADATA'))
    metadata = zipfile.ZipFile(wheel).read(meta).decode()
    assert 'Requires-Python: >=3.11' in metadata
    assert 'License :: OSI Approved :: Apache Software License' in metadata
    assert re.search(r'^Requires-Dist: tensorboard.*extra == "tensorboard"$', metadata, flags=re.M)
    assert re.search(r'^Requires-Dist: mmdet<3\.4,>=3\.3$', metadata, flags=re.M)
    assert any(n.endswith('.dist-info/LICENSE') for n in names)
    assert not (ROOT / 'mmdet3dctx' / '.mim').exists(), 'the build wrote into the source tree'


def test_installed_package_finds_its_shipped_configs(wheel, tmp_path):
    """Unpacked as pip would install it, ``get_config_path`` returns the copy inside the package, and the
    config's ``_base_`` chain resolves there."""
    site = tmp_path / 'site'
    zipfile.ZipFile(wheel).extractall(site)
    code = ('import mmdet3dctx, sys; from mmdet3dctx.apis import read_config; '
            "p = mmdet3dctx.get_config_path('demo/a3d_7slice_synthetic.py'); print(p); "
            'print(read_config(p).num_slices); '
            "print(mmdet3dctx.get_tool_path('train.py'))")
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    path, num_slices, tool = out.stdout.split()[-3:]
    assert path == str(site / 'mmdet3dctx' / '.mim' / 'configs' / 'demo' / 'a3d_7slice_synthetic.py')
    assert num_slices == '7'
    assert tool == str(site / 'mmdet3dctx' / '.mim' / 'tools' / 'train.py')


def test_config_path_in_a_source_checkout():
    from mmdet3dctx import get_config_path, get_tool_path
    assert get_config_path('deeplesion/a3d_7slice.py') == str(ROOT / 'configs' / 'deeplesion' / 'a3d_7slice.py')
    assert get_tool_path('train.py') == str(ROOT / 'tools' / 'train.py')
    with pytest.raises(FileNotFoundError, match='deeplesion/no_such.py: not found'):
        get_config_path('deeplesion/no_such.py')
    with pytest.raises(ValueError, match='relative to configs/'):
        get_config_path('/etc/passwd')
