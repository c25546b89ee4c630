"""Device checks of the 3D-context operators: correctness against a float64 CPU reference, and forward+backward
time and peak memory relative to no fusion beside the published reference formulations (pure PyTorch).

The logic of ``tools/gpu_check.py`` that needs nothing but ``torch``; the backbone and detector rows are in
:mod:`mmdet3dctx.utils.gpu_check_models`.
"""
import copy
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .builder import CONTEXT_CONVS, build_context_conv
from .slice_group_norm import SliceGroupNorm

#: every row of the correctness check: the operators, then the per-slice norm
CHECKED_OPS = list(CONTEXT_CONVS) + ['SliceGroupNorm']
#: autocast dtype per precision name (None: plain float32)
PRECISIONS = {'float32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
#: allowed ``max |got - ref| / max |ref|`` of the output and of every gradient against the float64 CPU result
#: (float32 with TF32 off; measured on the CPU: ~5e-7 in float32, ~5e-3 under bf16 autocast)
TOLERANCES = {'float32': 1e-4, 'bf16': 2e-2, 'fp16': 4e-3}
#: the operators whose time target is 1.10x no fusion (issue tracker), the others are reported only
TIME_TARGETS = {'A3DConv': 1.10, 'ACSConv': 1.10, 'TSMConv': 1.10, 'AlignShiftConv': 1.10}


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


def call_op(op: nn.Module, x: torch.Tensor, input_slice_interval: Optional[torch.Tensor]) -> torch.Tensor:
    """``op(x, input_slice_interval)`` for the operators that need the slice thickness, ``op(x)`` otherwise."""
    return op(x, input_slice_interval) if getattr(op, 'needs_input_slice_interval', False) else op(x)


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.detach().double()
    return float((got.detach().double().cpu() - ref).abs().max() / ref.abs().max().clamp_min(1e-12))


def _forward_backward(op, x, input_slice_interval, grad, autocast_dtype, device_type):
    """Output and gradients (input, then parameters by name) of ``sum(op(x) * grad)``."""
    x = x.detach().requires_grad_(True)
    ctx = torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype else torch.autocast(
        device_type, enabled=False)
    with ctx:
        y = call_op(op, x, input_slice_interval)
    (y.to(grad.dtype) * grad).sum().backward()
    grads = {'input': x.grad}
    grads.update({n: p.grad for n, p in op.named_parameters()})
    return y, grads


def check_operator(name: str, device: str = 'cpu', precision: str = 'float32',
                   shape: Sequence[int] = (2, 16, 5, 8, 8), seed: int = 0) -> Dict:
    """Forward and backward of one operator on ``device`` in ``precision`` against float64 on the CPU.

    The operator is built once in float64 on the CPU and copied; the input, the slice thickness (1 and 4 mm:
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
        out_shape = call_op(ref_op, x, input_slice_interval).shape
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

    def forward(self, x: torch.Tensor, input_slice_interval: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = torch.relu(self.norm(call_op(self.conv1, x, input_slice_interval)))
        return call_op(self.conv2, y, input_slice_interval)


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
                y = layer(x, input_slice_interval)
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
