"""mmdet3dctx: universal lesion detection in CT with 3D context, as MMDetection 3.x plugins.

``pip install .`` (or a wheel) ships ``configs/`` (with their ``metafile.yml``), ``tools/`` and the model index
``model-index.yml`` inside the package as ``mmdet3dctx/.mim/``, as OpenMMLab packages do, so installed use finds them
(``mmdet3dctx.get_config_path('demo/a3d_7slice_synthetic.py')``, ``mim search mmdet3dctx``, ``mim train``).
The reproducible install pins every version in ``requirements/*.txt`` (``make install``); the ranges below are
what a package installed into an existing environment asks for.
"""
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# copied into the package at build time (mmdet3dctx/.mim/<name>), never into the source tree: the folders, and the
# model index whose Import paths (configs/<folder>/metafile.yml) resolve beside it there as in the repository
MIM_DIRS = ('configs', 'tools')
MIM_FILES = ('model-index.yml', )

# Runtime requirements as ranges. Lower bounds: the release series the test suite runs with (the exact pins of
# requirements/*.txt, which tests/test_packaging.py checks lie inside these ranges; older releases may work but
# are not tested), except torch: 2.4.1 is the oldest release the toolkit runs on (the Docker image's CUDA
# build). Upper bounds: the next major release, or what MMDetection 3.3 itself requires (mmcv < 2.2).
INSTALL_REQUIRES = [
    'torch>=2.4.1,<3',
    'mmengine>=0.10,<1.0',
    'mmcv>=2.1,<2.2',  # with its compiled ops (RoIAlign, NMS): docs/get_started.md
    'mmdet>=3.3,<3.4',
    'numpy>=2.2,<3',
    'scipy>=1.15,<2',
    'opencv-python>=4.11,<5',
    'pycocotools>=2.0,<3',
    'pydicom>=3.0,<4',
    'nibabel>=5.4,<6',
    'SimpleITK>=2.5,<3',  # MetaImage/NRRD volumes (tools/prepare_volumes.py, LUNA16-style tables)
    'matplotlib>=3.10,<4',
    'isal>=1.9,<2',  # fast 16-bit PNG decoding; the loader falls back to zlib without it
    # DICOM as PACS exports it: compressed pixel data (pydicom's plugins) and the SR/SEG results (highdicom)
    'pylibjpeg>=2.1,<3',
    'pylibjpeg-libjpeg>=2.5,<3',
    'pylibjpeg-openjpeg>=2.6,<3',
    'pylibjpeg-rle>=2.2,<3',
    'pyjpegls>=1.5,<2',
    'highdicom>=0.28,<0.29',
]
EXTRAS_REQUIRE = {
    # TensorBoard as a visualisation backend (docs/get_started.md, "Watching training in TensorBoard")
    'tensorboard': ['tensorboard>=2.21,<3'],
    'tests': ['pytest>=8.3,<9'],
}


def read_version():
    ns = {}
    with open(osp.join(HERE, 'mmdet3dctx', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def read_readme():
    path = osp.join(HERE, 'README.md')
    if not osp.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


class BuildPyWithMim(build_py):
    """``build_py`` that also copies ``configs/``, ``tools/`` and ``model-index.yml`` into
    ``<build_lib>/mmdet3dctx/.mim/``."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):  # an editable install finds <repository>/configs itself
            return
        mim = osp.join(self.build_lib, 'mmdet3dctx', '.mim')
        for name in MIM_DIRS:
            src = osp.join(HERE, name)
            if not osp.isdir(src):  # an sdist always has them (MANIFEST.in)
                raise FileNotFoundError(f'{src}: missing, cannot ship it as mmdet3dctx/.mim/{name}')
            dst = osp.join(mim, name)
            if osp.isdir(dst):
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        for name in MIM_FILES:
            src = osp.join(HERE, name)
            if not osp.isfile(src):
                raise FileNotFoundError(f'{src}: missing, cannot ship it as mmdet3dctx/.mim/{name}')
            shutil.copyfile(src, osp.join(mim, name))


setup(
    name='mmdet3dctx',
    version=read_version(),
    description='3D-context universal lesion detection in CT on MMDetection 3.x',
    long_description=read_readme(),
    long_description_content_type='text/markdown',
    keywords='computer vision, medical imaging, CT, lesion detection, DeepLesion, MMDetection',
    license='Apache-2.0',
    classifiers=[
        'Development Status :: 4 - Beta',
        'Intended Audience :: Science/Research',
        'Intended Audience :: Healthcare Industry',
        'License :: OSI Approved :: Apache Software License',
        'Operating System :: POSIX :: Linux',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3 :: Only',
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
        'Topic :: Scientific/Engineering :: Image Recognition',
        'Topic :: Scientific/Engineering :: Medical Science Apps.',
    ],
    python_requires='>=3.11',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'configs.*', 'tools', 'benchmarks')),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    cmdclass={'build_py': BuildPyWithMim},
    # the training and testing commands of tools/train.py and tools/test.py, from the package itself
    entry_points={
        'console_scripts': [
            'mmdet3dctx-train = mmdet3dctx.apis.cli:main_train',
            'mmdet3dctx-test = mmdet3dctx.apis.cli:main_test',
        ],
    },
    zip_safe=False,
)
