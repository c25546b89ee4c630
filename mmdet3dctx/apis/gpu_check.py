"""The GPU check: the 3D-context operators checked on a device and measured, in one run (``tools/gpu_check.py``
parses the command line and calls :func:`run_gpu_check`).

It prints:

1. the environment (Python, torch, CUDA, cuDNN, GPU, driver, triton, mmcv, mmdet);
2. operator correctness: forward and backward of every operator in float32 and under autocast (fp16/bf16 on CUDA,
   bf16 on the CPU) against float64 on the CPU, with no host-device sync (CUDA): exit status 1 if a row fails;
3. forward+backward time and peak memory relative to no fusion of the DenseNet dense layer
   (:class:`DenseLayer`) and of the whole DenseNet3D backbone, beside the published formulations (A3D by einsum,
   TSM by slicing, the acsconv package's ACS when it imports);
4. one training iteration and one test pass of a detector config on random inputs (images/s, peak memory).

The operator rows and the dense layer need nothing but torch. The backbone rows need MMDetection and the detector
rows MMCV's compiled ops: both are imported inside the functions that build them, and each ``*_unavailable``
function says why its rows cannot run (printed as ``skipped (reason)``).
"""
import contextlib
import copy
import importlib
import logging
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet3dctx.ops import CONTEXT_CONVS, SliceGroupNorm, build_context_conv, call_with_input_slice_interval

#: every row of the correctness check: the operators, then the per-slice norm
CHECKED_OPS = list(CONTEXT_CONVS) + ['SliceGroupNorm']
#: autocast dtype per precision name (None: plain float32)
PRECISIONS = {'float32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
#: allowed ``max |got - ref| / max |ref|`` of the output and of every gradient against the float64 CPU result
#: (float32 with TF32 off; measured on the CPU: ~5e-7 in float32, ~5e-3 under bf16 autocast)
TOLERANCES = {'float32': 1e-4, 'bf16': 2e-2, 'fp16': 4e-3}
#: the operators' time targets relative to no fusion (forward+backward); the other rows are reported only
TIME_TARGETS = {'A3DConv': 1.10, 'ACSConv': 1.10, 'TSMConv': 1.10, 'AlignShiftConv': 1.10}
#: sizes of the full run and of ``quick`` (the tests' run): the dense layer's input, the backbone's input and
#: blocks, the detector's input side
DENSE_SHAPE = ((2, 128, 7, 128, 128), (2, 32, 3, 16, 16))
BACKBONE_SHAPE = ((2, 1, 7, 512, 512), (1, 1, 3, 32, 32))
BACKBONE_BLOCKS = ((6, 12, 24), (1, 1, 1))
DETECTOR_SIZE = (512, 64)
#: the detector config of the detector rows, relative to ``configs/``
DETECTOR_CONFIG = 'deeplesion/a3d_7slice.py'


def environment(device: str) -> str:
    """One line: Python, torch, and CUDA, cuDNN, GPU, driver on CUDA (CPU threads otherwise), triton, mmcv,
    mmdet (``-`` for a package that does not import)."""
    parts = [f'python {platform.python_version()}', f'torch {torch.__version__}']
    dev = torch.device(device)
    if dev.type == 'cuda':
        props = torch.cuda.get_device_properties(dev)
        parts += [f'CUDA {torch.version.cuda}', f'cuDNN {torch.backends.cudnn.version()}',
                  f'GPU {props.name} ({props.total_memory / 2**30:.0f} GiB, sm_{props.major}{props.minor})']
        try:
            driver = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                                    capture_output=True, text=True, timeout=30).stdout.split()
            parts.append(f'driver {driver[0] if driver else "?"}')
        except (OSError, subprocess.SubprocessError):
            parts.append('driver ? (no nvidia-smi)')
    else:
        parts.append(f'CPU, {torch.get_num_threads()} threads')
    for mod in ('triton', 'mmcv', 'mmdet'):
        try:
            parts.append(f'{mod} {__import__(mod).__version__}')
        except Exception:
            parts.append(f'{mod} -')
    return ', '.join(parts)


def available_devices() -> List[str]:
    """``['cpu']``, plus ``'cuda'`` when a CUDA device is visible."""
    return ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def precisions_for(device: str) -> List[str]:
    """float32 and the autocast dtypes the device runs: bf16 on CPU (its fp16 conv3d is not implemented
    everywhere), fp16 and bf16 on CUDA."""
    return ['float32', 'bf16'] if torch.device(device).type == 'cpu' else ['float32', 'fp16', 'bf16']


def build_operator(name: str, in_channels: int, out_channels: int, kernel_size: int, num_slices: int) -> nn.Module:
    """An operator with 'same' padding (cubic for the operators with ``nn.Conv3d`` semantics), or the
    ``SliceGroupNorm`` over ``in_channels`` (4 groups)."""
    if name == 'SliceGroupNorm':
        return SliceGroupNorm(4, in_channels)
    pad = kernel_size // 2
    cls = CONTEXT_CONVS[name]
    padding = pad if cls.int_args_inplane else (pad, pad, pad)
    extra = {'num_slices': num_slices} if name == 'A3DConv' else {}
    return build_context_conv(dict(type=name, **extra), in_channels, out_channels, kernel_size, padding=padding)


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.detach().double()
    return float((got.detach().double().cpu() - ref).abs().max() / ref.abs().max().clamp_min(1e-12))


def _forward_backward(op, x, input_slice_interval, grad, autocast_dtype, device_type):
    """Output and gradients (input, then parameters by name) of ``sum(op(x) * grad)``."""
    x = x.detach().requires_grad_(True)
    ctx = torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype else torch.autocast(
        device_type, enabled=False)
    with ctx:
        y = call_with_input_slice_interval(op, x, input_slice_interval=input_slice_interval)
    (y.to(grad.dtype) * grad).sum().backward()
    grads = {'input': x.grad}
    grads.update({n: p.grad for n, p in op.named_parameters()})
    return y, grads


def check_operator(name: str, device: str = 'cpu', precision: str = 'float32',
                   shape: Sequence[int] = (2, 16, 5, 8, 8), seed: int = 0) -> Dict:
    """Forward and backward of one operator on ``device`` in ``precision`` against float64 on the CPU.

    The operator is built once in float64 on the CPU and copied; the input, the slice interval (1 and 4 mm:
    full and half AlignShift shift) and the upstream gradient are the same for both runs. On CUDA the forward
    and backward run with ``torch.cuda.set_sync_debug_mode('error')`` (a host-device synchronisation in them
    raises) and with TF32 off.

    Returns:
        dict: ``op, device, precision, out_err, grad_err, worst_grad, tol, node, ok`` (``node``: the class of
        the output's autograd node, which must not differ from the CPU's in the same precision).
    """
    n, c, d, h, w = shape
    torch.manual_seed(seed)
    ref_op = build_operator(name, c, c, 3, d).double()
    x = torch.randn(*shape, dtype=torch.float64)
    input_slice_interval = torch.tensor([1.0, 4.0] * (n // 2) + [1.0] * (n % 2), dtype=torch.float64)
    with torch.no_grad():
        out_shape = call_with_input_slice_interval(ref_op, x, input_slice_interval=input_slice_interval).shape
    grad = torch.randn(out_shape, dtype=torch.float64)
    ref_y, ref_grads = _forward_backward(ref_op, x, input_slice_interval, grad, None, 'cpu')

    dev = torch.device(device)
    op = copy.deepcopy(ref_op).to(device=dev, dtype=torch.float32)
    autocast_dtype = PRECISIONS[precision]
    inputs = x.float().to(dev), input_slice_interval.float().to(dev), grad.float().to(dev)
    on_cuda = dev.type == 'cuda'
    if on_cuda:  # float32 means float32 (no TF32); a host sync in the forward or backward raises
        previous = (torch.cuda.get_sync_debug_mode(), torch.backends.cudnn.allow_tf32,
                    torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode('error')
    try:
        y, grads = _forward_backward(op, *inputs, autocast_dtype, dev.type)
    finally:
        if on_cuda:
            torch.cuda.set_sync_debug_mode(previous[0])
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous[1:]
    if y.device.type != dev.type or any(g is None or g.device.type != dev.type for g in grads.values()):
        raise RuntimeError(f'{name} on {device}: an output or gradient left the device')
    out_err = _rel_err(y, ref_y)
    grad_errs = {k: _rel_err(grads[k], ref_grads[k]) for k in ref_grads}
    worst = max(grad_errs, key=grad_errs.get)
    tol = TOLERANCES[precision]
    return dict(op=name, device=device, precision=precision, out_err=out_err, grad_err=grad_errs[worst],
                worst_grad=worst, tol=tol, node=type(y.grad_fn).__name__,
                ok=out_err <= tol and grad_errs[worst] <= tol)


def check_operators(device: str = 'cpu', precisions: Optional[Sequence[str]] = None,
                    ops: Optional[Sequence[str]] = None, shape: Sequence[int] = (2, 16, 5, 8, 8)) -> List[Dict]:
    """:func:`check_operator` for every operator and precision; on an accelerator each row also records
    whether its autograd node is the one the CPU takes in the same precision (``same_path``)."""
    rows = []
    for precision in precisions or precisions_for(device):
        for name in ops or CHECKED_OPS:
            try:
                row = check_operator(name, device, precision, shape)
            except Exception as e:  # reported as a failed row (e.g. a host sync on CUDA), not a crash
                rows.append(dict(op=name, device=device, precision=precision, out_err=float('nan'),
                                 grad_err=float('nan'), worst_grad='', tol=TOLERANCES[precision], node='-',
                                 ok=False, error=f'{type(e).__name__}: {e}'.splitlines()[0][:200]))
                continue
            if torch.device(device).type != 'cpu' and PRECISIONS[precision] in (None, torch.bfloat16):
                row['same_path'] = row['node'] == check_operator(name, 'cpu', precision, shape)['node']
                row['ok'] = row['ok'] and row['same_path']
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Published reference formulations, for the timing rows


class A3DEinsumReference(nn.Module):
    """A3D as published: ``einsum('bcdhw,dkc->bckhw', X, P)`` then a ``1×k×k`` ``conv3d``."""

    def __init__(self, in_channels, out_channels, kernel_size, num_slices, padding=0, bias=False):
        super().__init__()
        self.padding = (0, padding, padding)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, kernel_size, kernel_size) * 0.05)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.fusion_weight = nn.Parameter(torch.eye(num_slices).unsqueeze(-1).repeat(1, 1, in_channels))

    def forward(self, x):
        x = torch.einsum('bcdhw,dkc->bckhw', x, self.fusion_weight)
        return F.conv3d(x, self.weight, self.bias, 1, self.padding)


def reference_slice_shift(x: torch.Tensor, fold: int, ratio: Optional[torch.Tensor] = None) -> torch.Tensor:
    """TSM's shift as published, by slicing into a new tensor (AlignShift's partial mix with ``ratio``)."""
    out = torch.zeros_like(x)
    out[:, :fold, :-1] = x[:, :fold, 1:]
    out[:, fold:2 * fold, 1:] = x[:, fold:2 * fold, :-1]
    out[:, 2 * fold:] = x[:, 2 * fold:]
    if ratio is None:
        return out
    r = ratio.to(x.dtype).view(-1, 1, 1, 1, 1)
    mixed = out[:, :2 * fold] * r + x[:, :2 * fold] * (1 - r)
    return torch.cat([mixed, x[:, 2 * fold:]], 1)


class TSMSliceReference(nn.Module):
    """TSM as published: the slicing shift, then the per-slice ``1×k×k`` ``conv3d``."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, bias=False, shift_div=8):
        super().__init__()
        self.fold = in_channels // shift_div
        self.padding = (0, padding, padding)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, kernel_size, kernel_size) * 0.05)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x):
        return F.conv3d(reference_slice_shift(x, self.fold), self.weight, self.bias, 1, self.padding)


def acsconv_available() -> bool:
    """Whether the ``acsconv`` package's ACS convolution imports."""
    try:
        import acsconv.operators  # noqa: F401
    except Exception:  # a missing package or one that does not import beside this torch
        return False
    return True


#: timing rows besides the operators: the published formulations
REFERENCE_ROWS = ['A3D-einsum', 'TSM-slicing', 'acsconv-ACS']


def timing_rows() -> List[str]:
    """The operators, then the references (``acsconv-ACS`` when that package imports)."""
    refs = [r for r in REFERENCE_ROWS if r != 'acsconv-ACS' or acsconv_available()]
    return list(CONTEXT_CONVS) + refs


def build_timed_conv(name: str, in_channels: int, out_channels: int, kernel_size: int, num_slices: int) -> nn.Module:
    """An operator (:func:`build_operator`, no bias) or a reference formulation, with 'same' padding."""
    pad = kernel_size // 2
    if name == 'A3D-einsum':
        return A3DEinsumReference(in_channels, out_channels, kernel_size, num_slices, padding=pad)
    if name == 'TSM-slicing':
        return TSMSliceReference(in_channels, out_channels, kernel_size, padding=pad)
    if name == 'acsconv-ACS':
        from acsconv.operators import ACSConv as RefACS
        return RefACS(in_channels, out_channels, kernel_size, padding=pad, bias=False)
    pad_arg = pad if CONTEXT_CONVS[name].int_args_inplane else (pad, pad, pad)
    extra = {'num_slices': num_slices} if name == 'A3DConv' else {}
    return build_context_conv(dict(type=name, **extra), in_channels, out_channels, kernel_size, padding=pad_arg,
                              bias=False)


class DenseLayer(nn.Module):
    """DenseNet-121's dense layer with one operator: op(1x1, C->4g) -> BN -> ReLU -> op(3x3, 4g->g), g = 32
    (the two convolutions the A3D backbone replaces); ``name`` is an operator or a reference row."""

    def __init__(self, name: str, channels: int, depth: int, growth: int = 32) -> None:
        super().__init__()
        self.conv1 = build_timed_conv(name, channels, 4 * growth, 1, depth)
        self.norm = nn.BatchNorm3d(4 * growth)
        self.conv2 = build_timed_conv(name, 4 * growth, growth, 3, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, channels, D, H, W) -> (N, growth, D, H, W)``; operators that need the slice interval read the
        bound one (:func:`~mmdet3dctx.ops.call_with_input_slice_interval`)."""
        return self.conv2(torch.relu(self.norm(self.conv1(x))))


# ----------------------------------------------------------------------------------------------------------------
# Timing and peak memory


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], None], device) -> float:
    """Seconds of one call of ``fn``: CUDA events on a GPU, ``time.perf_counter`` on the CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def peak_memory(fn: Callable[[], None], device) -> Optional[int]:
    """Bytes allocated at the peak of one call of ``fn`` above what was allocated before it (CUDA's
    ``max_memory_allocated``); None on the CPU, where PyTorch keeps no such count."""
    device = torch.device(device)
    if device.type != 'cuda':
        return None
    _sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    _sync(device)
    return torch.cuda.max_memory_allocated(device) - base


def compare_timing(steps: Dict[str, Callable[[], None]], device, rounds: int = 5, warmup: int = 1,
                   baseline: str = 'NoFusionConv') -> List[Dict]:
    """Time every step interleaved (each once per round, so drift cancels) and measure its peak memory.

    Returns:
        list[dict]: per step ``name, ms`` (median), ``time_ratio`` (median per-round ratio to ``baseline``),
        ``peak_mib`` and ``mem_ratio`` (None on the CPU).
    """
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    _sync(torch.device(device))
    times = {k: [] for k in steps}
    for _ in range(rounds):
        for k, fn in steps.items():
            times[k].append(time_once(fn, device))
    mems = {k: peak_memory(fn, device) for k, fn in steps.items()}
    rows = []
    for k in steps:
        ratio = statistics.median(t / b for t, b in zip(times[k], times[baseline]))
        mem, base = mems[k], mems[baseline]
        rows.append(dict(name=k, ms=statistics.median(times[k]) * 1e3, time_ratio=ratio,
                         peak_mib=None if mem is None else mem / 2**20,
                         mem_ratio=None if mem is None or not base else mem / base,
                         target=TIME_TARGETS.get(k)))
    return rows


def autocast_context(device, precision: str):
    """``torch.autocast`` for ``precision`` (disabled for float32)."""
    dtype = PRECISIONS[precision]
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=dtype) if dtype else torch.autocast(device_type, enabled=False)


def dense_layer_steps(shape: Sequence[int], device, precision: str, names: Optional[Sequence[str]] = None,
                      seed: int = 0) -> Dict[str, Callable[[], None]]:
    """One forward+backward of :class:`DenseLayer` per row on an ``(N, C, D, H, W)`` input."""
    torch.manual_seed(seed)
    device = torch.device(device)
    x = torch.randn(*shape, device=device, requires_grad=True)
    input_slice_interval = torch.full((shape[0], ), 5.0, device=device)
    steps = {}
    for name in names or timing_rows():
        layer = DenseLayer(name, shape[1], shape[2]).to(device)

        def step(layer=layer):
            with autocast_context(device, precision):
                y = call_with_input_slice_interval(layer, x, input_slice_interval=input_slice_interval)
            y.float().sum().backward()

        steps[name] = step
    return steps


def format_table(rows: List[Dict], title: str, targets: bool = True) -> str:
    """The timing rows as a fixed-width table (with the time targets met or missed when ``targets``)."""
    lines = [title, f'{"row":<16}{"ms":>10}{"time/nofusion":>15}{"peak MiB":>10}{"mem/nofusion":>14}  target']
    for r in rows:
        peak = 'n/a' if r['peak_mib'] is None else f'{r["peak_mib"]:.1f}'
        mem = 'n/a' if r['mem_ratio'] is None else f'{r["mem_ratio"]:.3f}'
        note = ''
        if targets and r.get('target'):
            note = f'<= {r["target"]:.2f}x ' + ('met' if r['time_ratio'] <= r['target'] else 'MISSED')
        lines.append(f'{r["name"]:<16}{r["ms"]:>10.2f}{r["time_ratio"]:>15.3f}{peak:>10}{mem:>14}  {note}')
    return '\n'.join(lines)


def format_correctness(rows: List[Dict]) -> str:
    """The correctness rows as a fixed-width table; the status column is ``PASS`` or ``FAIL``."""
    lines = [f'{"operator":<16}{"device":<8}{"precision":<10}{"out err":>10}{"grad err":>10}{"tol":>8}  '
             f'{"autograd node":<28}status']
    for r in rows:
        status = 'PASS' if r['ok'] else 'FAIL'
        if r.get('same_path') is False:
            status += ' (node differs from the CPU)'
        if r.get('error'):
            status += f' ({r["error"]})'
        lines.append(f'{r["op"]:<16}{r["device"]:<8}{r["precision"]:<10}{r["out_err"]:>10.2e}{r["grad_err"]:>10.2e}'
                     f'{r["tol"]:>8.0e}  {r["node"]:<28}{status}')
    return '\n'.join(lines)


# ----------------------------------------------------------------------------------------------------------------
# The backbone and detector rows (MMDetection, MMCV's compiled ops)


def backbone_unavailable() -> Optional[str]:
    """None when ``DenseNet3D`` imports, else the reason."""
    try:
        importlib.import_module('mmdet3dctx.models.backbones.densenet3d')
    except Exception as e:  # missing MMDetection or MMCV, or one built without what they need
        return f'DenseNet3D does not import ({type(e).__name__}: {e})'
    return None


def detector_unavailable() -> Optional[str]:
    """None when MMCV's compiled ops (NMS, RoIAlign) and the detectors import, else the reason."""
    try:
        from mmcv.ops import RoIAlign, nms  # noqa: F401
        importlib.import_module('mmdet3dctx.models.detectors')
    except Exception as e:
        return f"MMCV's compiled ops or the detectors do not import ({type(e).__name__}: {e})"
    return None


def build_backbone(context_conv: str, num_slices: int, block_config: Sequence[int] = (6, 12, 24)):
    """The A3D paper's DenseNet3D (truncated DenseNet-121) with ``context_conv`` in every dense layer."""
    from mmdet3dctx.models.backbones.densenet3d import DenseNet3D
    model = DenseNet3D(num_slices=num_slices, context_conv=dict(type=context_conv), block_config=tuple(block_config))
    with _quiet_mmengine():
        model.init_weights()
    return model.train()


def backbone_steps(shape: Sequence[int], device, precision: str, names: Sequence[str],
                   block_config: Sequence[int] = (6, 12, 24)) -> Dict[str, Callable[[], None]]:
    """One forward+backward of the backbone per operator on an ``(N, 1, D, H, W)`` input."""
    device = torch.device(device)
    torch.manual_seed(0)
    x = torch.randn(*shape, device=device)
    input_slice_interval = torch.full((shape[0], ), 5.0, device=device)
    steps = {}
    for name in names:
        model = build_backbone(name, shape[2], block_config).to(device)

        def step(model=model):
            with autocast_context(device, precision):
                outs = call_with_input_slice_interval(model, x, input_slice_interval=input_slice_interval)
            sum(o.float().mean() for o in outs).backward()

        steps[name] = step
    return steps


@contextlib.contextmanager
def _quiet_mmengine():
    """MMEngine's logger at WARNING within the block (``init_weights`` logs every parameter at INFO)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def build_detector(config: str, device, tiny: bool = False):
    """The config's model with its pretrained initialisation switched off (nothing is downloaded); ``tiny``:
    shrunk by :func:`~mmdet3dctx.testing.tiny_detector.shrink_detector`."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmdet3dctx.apis.config import read_config
    from mmdet3dctx.testing.tiny_detector import shrink_detector
    register_all_modules(init_default_scope=True)
    cfg = read_config(config)
    cfg.model.backbone.init_cfg = None
    if tiny:
        shrink_detector(cfg.model)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with _quiet_mmengine():
        model.init_weights()
    return model.to(device), cfg.model.backbone.num_slices


def detector_iteration(config: str, device, precision: str, size: int = 512, batch_size: int = 2,
                       tiny: bool = False, warmup: int = 1) -> Dict:
    """One training iteration (loss, backward, SGD step) and one test pass of ``config``'s model on random
    ``size × size`` inputs, each after ``warmup`` untimed calls (``tiny``: the model shrunk, for a quick smoke run).

    Returns:
        dict: ``train_ips``/``test_ips`` (images/s), ``train_peak_mib``/``test_peak_mib`` (None on the CPU).
    """
    from mmdet3dctx.testing.tiny_detector import random_ct_batch
    device = torch.device(device)
    model, num_slices = build_detector(config, device, tiny)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    train_batch = random_ct_batch(model, num_slices, size, batch_size, training=True, input_slice_interval=2.0)
    test_batch = random_ct_batch(model, num_slices, size, batch_size, training=False, input_slice_interval=2.0)

    def train_step():
        model.train()
        optimizer.zero_grad()
        with autocast_context(device, precision):
            losses = model.loss(*train_batch)
        loss, _ = model.parse_losses(losses)
        loss.backward()
        optimizer.step()

    def test_step():
        model.eval()
        with torch.no_grad(), autocast_context(device, precision):
            model.predict(*test_batch)

    out = {}
    for key, fn in (('train', train_step), ('test', test_step)):
        for _ in range(warmup):
            fn()
        out[f'{key}_ips'] = batch_size / time_once(fn, device)
        peak = peak_memory(fn, device)
        out[f'{key}_peak_mib'] = None if peak is None else peak / 2**20
    return out


# ----------------------------------------------------------------------------------------------------------------
# The whole check


def _print_backbone_rows(device: str, precision: str, rounds: int, quick: bool) -> None:
    """The DenseNet3D table, or why it is skipped; an error (e.g. out of memory) is reported, not raised."""
    reason = backbone_unavailable()
    if reason:
        print(f'\n== DenseNet3D backbone: skipped ({reason})')
        return
    q = int(quick)
    shape, blocks = BACKBONE_SHAPE[q], BACKBONE_BLOCKS[q]
    ops = [n for n in timing_rows() if n in CONTEXT_CONVS]
    title = (f'\n== DenseNet3D backbone, blocks {blocks}, on {shape}, {precision}, forward+backward, '
             f'median of {rounds} interleaved rounds')
    try:
        steps = backbone_steps(shape, device, precision, ops, blocks)
        print(format_table(compare_timing(steps, device, rounds), title, targets=not quick))
    except Exception as e:  # e.g. out of memory: reported, the rest still runs
        print(title)
        print(f'error: {type(e).__name__}: {e}'.splitlines()[0][:300])
    steps = None
    if torch.device(device).type == 'cuda':
        torch.cuda.empty_cache()


def _print_detector_rows(device: str, config: Optional[str], precision: Optional[str], quick: bool) -> None:
    """The detector's images/s and peak memory, or why they are skipped; an error is reported, not raised."""
    reason = detector_unavailable()
    if reason:
        print(f'\n== detector: skipped ({reason})')
        return
    if config is None:
        from mmdet3dctx import get_config_path
        config, shown = get_config_path(DETECTOR_CONFIG), f'configs/{DETECTOR_CONFIG}'
    else:
        shown = config
    size = DETECTOR_SIZE[int(quick)]
    on_cpu = torch.device(device).type == 'cpu'
    precision = precision or ('float32' if on_cpu else 'fp16')
    tiny = quick and on_cpu
    print(f'\n== detector {shown}, random {size}x{size} inputs, batch 2, {precision}, pretrained init off' +
          (', shrunk (--quick on a CPU)' if tiny else ''))
    try:
        res = detector_iteration(config, device, precision, size=size, batch_size=2, tiny=tiny,
                                 warmup=0 if quick else 1)
    except Exception as e:  # reported, the tables above stand
        print(f'error: {type(e).__name__}: {e}'.splitlines()[0][:300])
        return
    print(f'{"pass":<8}{"images/s":>10}{"peak MiB":>10}')
    for key in ('train', 'test'):
        peak = res[f'{key}_peak_mib']
        print(f'{key:<8}{res[f"{key}_ips"]:>10.2f}{"n/a" if peak is None else f"{peak:.0f}":>10}')


def run_gpu_check(device: Optional[str] = None, quick: bool = False, precision: Optional[str] = None,
                  rounds: Optional[int] = None, detector_precision: Optional[str] = None, config: Optional[str] = None,
                  skip_backbone: bool = False, skip_detector: bool = False) -> int:
    """Run the whole check and print its tables (see the module's description).

    Args:
        device (str, optional): ``'cuda'``, ``'cuda:1'`` or ``'cpu'``. Default: CUDA when visible, else the CPU.
        quick (bool): small sizes and few rounds (what the tests run); the time targets are not judged.
        precision (str, optional): autocast of the timing rows, a key of :data:`PRECISIONS`. Default: bf16 on
            CUDA, float32 on the CPU.
        rounds (int, optional): timing rounds. Default: 10, 2 with ``quick``.
        detector_precision (str, optional): autocast of the detector rows. Default: fp16 on CUDA (as
            MMDetection's ``AmpOptimWrapper`` and MMCV 2.1.0's CUDA RoIAlign/NMS take), float32 on the CPU.
        config (str, optional): the detector config. Default: the shipped ``configs/deeplesion/a3d_7slice.py``.
        skip_backbone (bool): leave out the DenseNet3D table.
        skip_detector (bool): leave out the detector rows.

    Returns:
        int: the exit status: 0, 1 when a correctness row fails, 2 when ``device`` is CUDA and none is visible.
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    on_cuda = torch.device(device).type == 'cuda'
    if on_cuda and not torch.cuda.is_available():
        print(f'--device {device}: no CUDA device is visible to torch {torch.__version__}', file=sys.stderr)
        return 2
    precision = precision or ('bf16' if on_cuda else 'float32')
    rounds = rounds or (2 if quick else 10)
    print(f'== environment: {environment(device)}')
    if quick:
        print('(--quick: small sizes; times are not comparable with the full run, targets not judged)')

    rows = check_operators(device)
    failed = [r for r in rows if not r['ok']]
    print(f'\n== operator correctness on {device} against float64 on the CPU '
          f'(max |err| / max |ref| of the output and of the worst gradient)')
    print(format_correctness(rows))
    print(f'correctness: {len(rows) - len(failed)}/{len(rows)} rows pass')

    shape = DENSE_SHAPE[int(quick)]
    steps = dense_layer_steps(shape, device, precision, timing_rows())
    title = (f'\n== dense layer op(1x1,{shape[1]}->128)-BN-ReLU-op(3x3,128->32) on {shape}, {precision}, '
             f'forward+backward, median of {rounds} interleaved rounds')
    print(format_table(compare_timing(steps, device, rounds), title, targets=not quick))
    del steps

    if skip_backbone:
        print('\n== DenseNet3D backbone: skipped (--skip-backbone)')
    else:
        _print_backbone_rows(device, precision, rounds, quick)
    if skip_detector:
        print('\n== detector: skipped (--skip-detector)')
    else:
        _print_detector_rows(device, config, detector_precision, quick)
    return 1 if failed else 0
