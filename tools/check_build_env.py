"""What `make install` needs, checked before the long steps; the decisions the Makefile acts on.

Standard library only (it runs before anything is installed, with the system Python and then the venv's), so its
logic lives here rather than in the package. Subcommands (the Makefile calls each; see docs/install.md):

  python                 the Python version (exit 1 if too old)
  venv-args [--use-system-torch auto|0|1]
                         prints ``--system-site-packages`` when the venv should see an existing torch: ``1``, or
                         ``auto`` and this Python already imports torch
  has-torch              exit 0 (and says which) when this Python imports torch, so requirements/torch.txt is skipped
  torch-pip-args [--index-url auto|none|URL]
                         pip options for installing requirements/torch.txt: with ``auto`` the CPU wheel index on a
                         machine without an NVIDIA GPU, unless pip already has find-links (wheels given to it)
  mmcv --wheel-dir DIR   checks a C++ compiler, torch, and for a CUDA build nvcc matching torch's CUDA and the GPU
                         architectures; prints shell ``export`` lines (FORCE_CUDA, TORCH_CUDA_ARCH_LIST,
                         MMCV_WHEEL_DIR, MMCV_BUILD) on stdout, what is missing on stderr (exit 1)
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
MIN_PYTHON = (3, 11)  # setup.py's python_requires
MIN_TORCH = (2, 4)  # autocast queried per device type (torch.is_autocast_enabled('cpu'), get_autocast_dtype)
CPU_INDEX_URL = 'https://download.pytorch.org/whl/cpu'
ARCH_RE = re.compile(r'^\d+\.\d+a?(\+PTX)?$')


@dataclass
class Probe:
    """What the build environment has (filled by :func:`probe`; tests build it directly)."""
    python: Tuple[int, int] = sys.version_info[:2]
    torch_version: Optional[str] = None  # None: torch does not import
    torch_cuda: Optional[str] = None  # torch.version.cuda (None for a CPU build)
    gpu_capabilities: List[Tuple[int, int]] = field(default_factory=list)  # visible GPUs
    cxx: Optional[str] = None  # path of the C++ compiler
    nvcc: Optional[str] = None  # path of nvcc
    nvcc_version: Optional[str] = None  # e.g. '12.1'
    env: Dict[str, str] = field(default_factory=dict)


def pinned_torch(path: str = os.path.join(ROOT, 'requirements', 'torch.txt')) -> str:
    """The torch version of requirements/torch.txt (``torch==X``)."""
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*torch\s*==\s*([^\s;#]+)', line)
            if m:
                return m.group(1)
    raise ValueError(f'{path}: no "torch==VERSION" line')


def find_cxx(env: Dict[str, str]) -> Optional[str]:
    """``$CXX`` if set, else the first of c++, g++, clang++ on PATH."""
    if env.get('CXX'):
        return shutil.which(env['CXX'].split()[0]) or None
    for name in ('c++', 'g++', 'clang++'):
        path = shutil.which(name)
        if path:
            return path
    return None


def find_nvcc(env: Dict[str, str]) -> Optional[str]:
    """nvcc where PyTorch's extension builder looks: ``$CUDA_HOME``/``$CUDA_PATH``, PATH, /usr/local/cuda."""
    home = env.get('CUDA_HOME') or env.get('CUDA_PATH')
    if home:
        path = os.path.join(home, 'bin', 'nvcc')
        return path if os.path.exists(path) else None
    return shutil.which('nvcc') or (
        '/usr/local/cuda/bin/nvcc' if os.path.exists('/usr/local/cuda/bin/nvcc') else None)


def nvcc_release(text: str) -> Optional[str]:
    """``'12.1'`` from ``nvcc --version`` output (``... release 12.1, V12.1.105``)."""
    m = re.search(r'release (\d+\.\d+)', text)
    return m.group(1) if m else None


def probe(env: Optional[Dict[str, str]] = None, tools: bool = True) -> Probe:
    """Look at this Python's torch and (with ``tools``) at the compilers of this machine."""
    env = dict(os.environ if env is None else env)
    p = Probe(env=env)
    if tools:
        p.cxx, p.nvcc = find_cxx(env), find_nvcc(env)
    if p.nvcc:
        try:
            out = subprocess.run([p.nvcc, '--version'], capture_output=True, text=True, timeout=60).stdout
            p.nvcc_version = nvcc_release(out)
        except (OSError, subprocess.SubprocessError):
            p.nvcc_version = None
    try:
        import torch
    except ImportError:
        return p
    except Exception as e:  # a torch that is there but broken is not one to keep
        print(f'warning: torch is installed in {sys.executable} but does not import ({type(e).__name__}: {e})',
              file=sys.stderr)
        return p
    p.torch_version, p.torch_cuda = torch.__version__, torch.version.cuda
    if p.torch_cuda and torch.cuda.is_available():
        p.gpu_capabilities = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    return p


def check_python(version: Sequence[int]) -> Optional[str]:
    """None, or what is wrong with the Python version."""
    if tuple(version[:2]) < MIN_PYTHON:
        return (f'Python {version[0]}.{version[1]} is too old: mmdet3dctx needs Python >= '
                f'{MIN_PYTHON[0]}.{MIN_PYTHON[1]} (set PYTHON_SYS=python3.11 or newer)')
    return None


def use_system_site_packages(choice: str, has_torch: bool) -> bool:
    """Whether the venv is created with ``--system-site-packages`` (to keep an existing torch)."""
    if choice not in ('auto', '0', '1'):
        raise ValueError(f'USE_SYSTEM_TORCH must be auto, 0 or 1, got {choice!r}')
    return choice == '1' or (choice == 'auto' and has_torch)


def nvidia_gpu_present(env: Dict[str, str]) -> bool:
    """An NVIDIA driver with at least one GPU on this machine (without importing torch)."""
    if env.get('CUDA_VISIBLE_DEVICES', None) in ('', '-1'):
        return False
    return bool(glob.glob('/proc/driver/nvidia/gpus/*')) or bool(glob.glob('/dev/nvidia[0-9]*'))


def pip_has_find_links(env: Dict[str, str], pip_config: str = '') -> bool:
    """Whether pip is given local wheels (``PIP_FIND_LINKS`` or a ``find-links`` in its configuration)."""
    return bool(env.get('PIP_FIND_LINKS')) or bool(re.search(r'^[\w:.]*find-links=', pip_config, re.M))


def torch_pip_args(index_url: str, gpu_present: bool, find_links: bool) -> List[str]:
    """pip options for requirements/torch.txt.

    ``auto``: nothing where pip has local wheels or an NVIDIA GPU is present (PyPI's torch is the CUDA build);
    the CPU wheel index otherwise, so a CPU machine gets no CUDA libraries. ``none``: nothing. A URL: that index,
    added to pip's (its local ``+cpu``/``+cuXXX`` versions sort above PyPI's).
    """
    if index_url in ('', 'none'):
        return []
    if index_url == 'auto':
        return [] if find_links or gpu_present else ['--extra-index-url', CPU_INDEX_URL]
    return ['--extra-index-url', index_url]


def _base_version(version: str) -> str:
    return version.split('+')[0]


def arch_list(p: Probe) -> Tuple[Optional[str], Optional[str]]:
    """``(TORCH_CUDA_ARCH_LIST, problem)``: the user's, else the visible GPUs' (e.g. ``'8.0;9.0'``)."""
    given = p.env.get('TORCH_CUDA_ARCH_LIST', '').strip()
    if given:
        bad = [a for a in re.split(r'[;\s]+', given) if a and not ARCH_RE.match(a)]
        if bad:
            return None, (f'TORCH_CUDA_ARCH_LIST={given!r}: {bad} are not compute capabilities '
                          "(write e.g. '8.0;9.0+PTX')")
        return given, None
    if p.gpu_capabilities:
        return ';'.join(f'{a}.{b}' for a, b in sorted(set(p.gpu_capabilities))), None
    return None, ('no GPU is visible to torch to take the architectures from: set TORCH_CUDA_ARCH_LIST '
                  "(e.g. TORCH_CUDA_ARCH_LIST='8.0;9.0' for A100 and H100)")


@dataclass
class MmcvPlan:
    """What the mmcv build will be, or what stops it."""
    problems: List[str]
    notes: List[str]
    exports: Dict[str, str]


def plan_mmcv_build(p: Probe, wheel_dir: str, pinned: str) -> MmcvPlan:
    """Decide the mmcv build (CUDA ops when torch has CUDA and FORCE_CUDA is not 0) and list what is missing.

    The wheel cache: a CPU build against the pinned torch stays in ``wheel_dir`` itself (where earlier
    installs left it); any other build goes to a subfolder named after torch, its CUDA and the architectures,
    so a CPU wheel is never installed into a CUDA environment or the reverse.
    """
    problems, notes = [], []
    py = check_python(p.python)
    if py:
        problems.append(py)
    if not p.cxx:
        problems.append('no C++ compiler: install g++ (Debian/Ubuntu: apt-get install g++; conda: '
                        'conda install gxx_linux-64) or set CXX')
    if p.torch_version is None:
        problems.append('torch does not import in this Python: mmcv is built against it')
        return MmcvPlan(problems, notes, {})
    if tuple(int(v) for v in re.findall(r'\d+', p.torch_version)[:2]) < MIN_TORCH:
        problems.append(f'torch {p.torch_version} is too old: mmdet3dctx needs torch >= '
                        f'{MIN_TORCH[0]}.{MIN_TORCH[1]} (USE_SYSTEM_TORCH=0 installs requirements/torch.txt)')
    force = p.env.get('FORCE_CUDA', '').strip()
    cuda = bool(p.torch_cuda) and force != '0'
    exports = {'FORCE_CUDA': '1' if cuda else '0'}
    if cuda:
        if not p.nvcc:
            problems.append(f'torch {p.torch_version} is built with CUDA {p.torch_cuda} but nvcc is not found '
                            '(load the CUDA toolkit module or set CUDA_HOME); or build without CUDA ops: '
                            'FORCE_CUDA=0')
        elif p.nvcc_version is None:
            problems.append(f'could not read the version of {p.nvcc}')
        elif p.nvcc_version.split('.')[0] != p.torch_cuda.split('.')[0]:
            problems.append(f'nvcc {p.nvcc} is CUDA {p.nvcc_version} but torch {p.torch_version} is built with '
                            f'CUDA {p.torch_cuda}: use a CUDA {p.torch_cuda} toolkit (CUDA_HOME)')
        elif p.nvcc_version != p.torch_cuda:
            notes.append(f'nvcc is CUDA {p.nvcc_version}, torch was built with {p.torch_cuda} '
                         '(same major version: PyTorch accepts it)')
        archs, problem = arch_list(p)
        if problem:
            problems.append(problem)
        else:
            exports['TORCH_CUDA_ARCH_LIST'] = archs
        tag = f'torch{p.torch_version}-cu{p.torch_cuda.replace(".", "")}-sm' + re.sub(
            r'[^0-9A-Za-z+]+', '_', (archs or '').replace('.', ''))
        exports['MMCV_BUILD'] = f'CUDA {p.torch_cuda} ops for {archs}'
    else:
        if p.torch_cuda:
            notes.append(f'FORCE_CUDA=0: CPU ops only, although torch has CUDA {p.torch_cuda}')
        tag = None if (not p.torch_cuda and _base_version(p.torch_version) == _base_version(pinned)) \
            else f'torch{p.torch_version}-cpu'
        exports['MMCV_BUILD'] = 'CPU ops'
    exports['MMCV_WHEEL_DIR'] = wheel_dir if tag is None else os.path.join(wheel_dir, tag)
    return MmcvPlan(problems, notes, exports)


def shell_exports(exports: Dict[str, str]) -> str:
    return '\n'.join(f'export {k}={shlex.quote(v)}' for k, v in exports.items())


def _pip_config() -> str:
    try:
        return subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return ''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('python')
    va = sub.add_parser('venv-args')
    va.add_argument('--use-system-torch', default='auto')
    sub.add_parser('has-torch')
    ta = sub.add_parser('torch-pip-args')
    ta.add_argument('--index-url', default='auto')
    ma = sub.add_parser('mmcv')
    ma.add_argument('--wheel-dir', required=True)
    args = ap.parse_args(argv)
    env = dict(os.environ)

    if args.cmd == 'python':
        problem = check_python(sys.version_info)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    if args.cmd == 'venv-args':
        p = probe(env, tools=False)
        if use_system_site_packages(args.use_system_torch, p.torch_version is not None):
            if p.torch_version is None:
                print(f'USE_SYSTEM_TORCH=1 but {sys.executable} has no torch: requirements/torch.txt will be '
                      'installed into the venv', file=sys.stderr)
            else:
                print(f'keeping torch {p.torch_version} (CUDA {p.torch_cuda or "none"}) of {sys.executable}: the '
                      'venv sees its packages (USE_SYSTEM_TORCH=0 for an isolated venv)', file=sys.stderr)
            print('--system-site-packages')
        return 0
    if args.cmd == 'has-torch':
        p = probe(env, tools=False)
        if p.torch_version is None:
            return 1
        print(f'torch {p.torch_version} (CUDA {p.torch_cuda or "none"}) is already installed: kept '
              '(requirements/torch.txt not installed)', file=sys.stderr)
        return 0
    if args.cmd == 'torch-pip-args':
        opts = torch_pip_args(args.index_url, nvidia_gpu_present(env), pip_has_find_links(env, _pip_config()))
        print(' '.join(shlex.quote(o) for o in opts))
        return 0
    p = probe(env)
    plan = plan_mmcv_build(p, args.wheel_dir, pinned_torch())
    for note in plan.notes:
        print(f'note: {note}', file=sys.stderr)
    if plan.problems:
        print('cannot build mmcv with its ops yet:\n' + '\n'.join(f'  - {m}' for m in plan.problems),
              file=sys.stderr)
        return 1
    print(f'mmcv build: {plan.exports["MMCV_BUILD"]} against torch {p.torch_version}, compiler {p.cxx}'
          + (f', nvcc {p.nvcc} (CUDA {p.nvcc_version})' if plan.exports['FORCE_CUDA'] == '1' else ''),
          file=sys.stderr)
    print(shell_exports(plan.exports))
    return 0


if __name__ == '__main__':
    sys.exit(main())
