"""mmdet3dctx: universal lesion detection in CT with 3D context, as MMDetection 3.x plugins."""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    ns = {}
    with open(osp.join(osp.dirname(__file__), 'mmdet3dctx', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]


setup(
    name='mmdet3dctx',
    version=read_version(),
    description='3D-context universal lesion detection in CT on MMDetection 3.x',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    python_requires='>=3.11',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools', 'benchmarks')),
    install_requires=read_requirements('torch.txt') + read_requirements('mmcv.txt')
    + read_requirements('runtime.txt') + read_requirements('mmdet.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache-2.0',
    zip_safe=False,
)
