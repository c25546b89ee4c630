"""What a user of the package expects: one version everywhere, the licence setup.py claims, runtime requirements
as ranges that hold the pinned versions, configs, tools and the model index shipped inside the wheel
(``mmdet3dctx/.mim``), and OpenMMLab's ``mim`` searching, training and testing with the installed package."""
import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# what a wheel or an sdist is built from (the rest of the repository stays out)
PACKAGE_SOURCES = ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE', 'CHANGELOG.md',
                   'model-index.yml', 'mmdet3dctx', 'configs', 'tools', 'requirements')


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


def test_runtime_requirements_are_ranges_that_hold_the_pins(requirement_pins):
    pinned = requirement_pins
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


def test_wheel_ships_configs_tools_model_index_and_licence(wheel):
    assert wheel.name.startswith(f'mmdet3dctx-{package_version()}-')
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = sorted(p.relative_to(ROOT / 'configs').as_posix() for pattern in ('*.py', 'metafile.yml')
                     for p in (ROOT / 'configs').rglob(pattern))
    assert configs
    for rel in configs:
        assert f'mmdet3dctx/.mim/configs/{rel}' in names, rel
    index = zipfile.ZipFile(wheel).read('mmdet3dctx/.mim/model-index.yml')
    assert index == (ROOT / 'model-index.yml').read_bytes()
    for rel in yaml.safe_load(index)['Import']:  # resolved beside model-index.yml, as mim does
        assert f'mmdet3dctx/.mim/{rel}' in names, rel
    for rel in ('train.py', 'test.py', 'infer.py', 'browse_dataset.py', 'dist_train.sh'):
        assert f'mmdet3dctx/.mim/tools/{rel}' in names, rel
    assert not any(n.startswith(('tests/', 'benchmarks/', 'configs/', 'tools/')) for n in names)
    meta = next(n for n in names if n.endswith('.dist-info/METADATA'))
    metadata = zipfile.ZipFile(wheel).read(meta).decode()
    assert 'Requires-Python: >=3.11' in metadata
    assert 'License :: OSI Approved :: Apache Software License' in metadata
    assert re.search(r'^Requires-Dist: tensorboard.*extra == "tensorboard"$', metadata, flags=re.M)
    assert re.search(r'^Requires-Dist: mmdet<3\.4,>=3\.3$', metadata, flags=re.M)
    assert re.search(r'^License-File: LICENSE$', metadata, flags=re.M)
    licence = next(n for n in names if n.endswith('.dist-info/licenses/LICENSE'))  # PEP 639's place
    assert zipfile.ZipFile(wheel).read(licence) == (ROOT / 'LICENSE').read_bytes()
    assert not (ROOT / 'mmdet3dctx' / '.mim').exists(), 'the build wrote into the source tree'


@pytest.fixture(scope='module')
def site(wheel, tmp_path_factory):
    """The wheel installed by pip into a folder of its own (``PYTHONPATH=site``): neither the checkout nor the
    editable install can stand in for it there."""
    site = tmp_path_factory.mktemp('installed') / 'site'
    out = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target',
                          str(site), str(wheel)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return site


def installed_env(site: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(site), MPLBACKEND='Agg')
    env.pop('DEEPLESION_ROOT', None)
    return env


def test_installed_package_finds_its_shipped_configs(site, tmp_path):
    """Installed from the wheel, ``get_config_path`` returns the copy inside the package, and the config's
    ``_base_`` chain resolves there."""
    code = ('import mmdet3dctx, sys; from mmdet3dctx.apis import read_config; '
            "p = mmdet3dctx.get_config_path('demo/a3d_7slice_synthetic.py'); print(p); "
            'print(read_config(p).num_slices); '
            "print(mmdet3dctx.get_tool_path('train.py'))")
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=installed_env(site), capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    path, num_slices, tool = out.stdout.split()[-3:]
    assert path == str(site / 'mmdet3dctx' / '.mim' / 'configs' / 'demo' / 'a3d_7slice_synthetic.py')
    assert num_slices == '7'
    assert tool == str(site / 'mmdet3dctx' / '.mim' / 'tools' / 'train.py')


def published_results() -> dict:
    """``{(model, dataset, metric): value}`` of every Results entry of the model index."""
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    out = {}
    for rel in index['Import']:
        for model in yaml.safe_load((ROOT / rel).read_text())['Models']:
            for r in model.get('Results') or []:
                out.update({(model['Name'], r['Dataset'], k): v for k, v in r['Metrics'].items()})
    return out


def mim(args: list, site: Path, cwd: Path) -> str:
    """``mim ARGS`` with the wheel's package importable and no other mmdet3dctx; its output."""
    assert importlib.util.find_spec('mim'), 'openmim is not installed (requirements/mim.txt, make install)'
    out = subprocess.run([sys.executable, '-m', 'mim', *args], cwd=cwd, env=installed_env(site), capture_output=True,
                         text=True)
    assert out.returncode == 0, f'mim {" ".join(args)}:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}'
    return out.stdout


@pytest.mark.slow
def test_mim_searches_trains_and_tests_the_installed_package(site, tmp_path):
    """``mim search`` lists every config of the installed package with the papers' figures; ``mim train`` finds a
    config by its file name in the package and runs the package's tools/train.py (a tiny run of the demo), and
    ``mim test`` evaluates its checkpoint."""
    from mmdet3dctx.testing import make_synthetic_deeplesion
    from mmdet3dctx.testing.tiny_detector import tiny_cfg_argv
    out = subprocess.run([sys.executable, '-c', 'import mmdet3dctx; print(mmdet3dctx.__file__)'], cwd=tmp_path,
                         env=installed_env(site), capture_output=True, text=True)
    assert out.stdout.strip() == str(site / 'mmdet3dctx' / '__init__.py'), out.stdout + out.stderr

    mim(['search', 'mmdet3dctx', '--json', str(tmp_path / 'index.json')], site, tmp_path)
    listed = json.loads((tmp_path / 'index.json').read_text())  # {field: {config id: value}}
    configs = {p.stem for p in (ROOT / 'configs').rglob('*.py') if '_base_' not in p.parts}
    assert set(listed['config']) == configs
    published = published_results()
    assert published[('a3d_7slice', 'DeepLesion (A3D paper, Table 2)', 'avg[0.5-4]')] == 88.11
    for (model, dataset, metric), value in published.items():
        assert listed[f'{dataset.lower()}/{metric.lower()}'][model] == value, (model, dataset, metric)

    root = make_synthetic_deeplesion(str(tmp_path / 'synthetic'), num_patients=8, seed=1, image_size=64)
    work, shrink = tmp_path / 'work', tiny_cfg_argv(data_root=root)
    shipped = site / 'mmdet3dctx' / '.mim'
    log = mim(['train', 'mmdet3dctx', 'a3d_7slice_synthetic.py', '--work-dir', str(work), *shrink], site, tmp_path)
    assert f'{shipped}/tools/train.py {shipped}/configs/demo/a3d_7slice_synthetic.py' in log
    assert (work / 'epoch_1.pth').is_file()
    log = mim(['test', 'mmdet3dctx', 'a3d_7slice_synthetic.py', '--checkpoint', str(work / 'epoch_1.pth'),
               '--work-dir', str(work), *shrink], site, tmp_path)
    assert f'{shipped}/tools/test.py {shipped}/configs/demo/a3d_7slice_synthetic.py' in log
    report = json.loads((work / 'froc.json').read_text())
    assert report['num_images'] > 0 and len(report['sensitivity']) == 6


def test_config_path_in_a_source_checkout():
    from mmdet3dctx import get_config_path, get_tool_path
    assert get_config_path('deeplesion/a3d_7slice.py') == str(ROOT / 'configs' / 'deeplesion' / 'a3d_7slice.py')
    assert get_tool_path('train.py') == str(ROOT / 'tools' / 'train.py')
    with pytest.raises(FileNotFoundError, match='deeplesion/no_such.py: not found'):
        get_config_path('deeplesion/no_such.py')
    with pytest.raises(ValueError, match='relative to configs/'):
        get_config_path('/etc/passwd')
