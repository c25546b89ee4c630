"""Forward+backward time and peak memory of every 3D-context operator relative to no fusion.

The workload is a DenseNet-style dense layer on a ``(2, 128, 7, 64, 64)`` input: op(1x1, 128->128) ->
BN3d -> ReLU -> op(3x3, 128->32), the two convolutions the A3D backbone replaces
(:class:`mmdet3dctx.apis.gpu_check.DenseLayer`, which ``tools/gpu_check.py`` times on a GPU), beside the published
formulations (A3D by einsum, TSM by slicing, the acsconv package's ACS). Times are measured
interleaved (every operator once per round, rounds repeated) and reported as the median per-round ratio to
no fusion, so drift of a noisy machine cancels out. Peak memory is the growth of the process's peak resident
set (``VmHWM``, reset through ``/proc/self/clear_refs``) during one forward+backward, each operator in a
fresh subprocess whose allocator returns large blocks at once (``MALLOC_MMAP_THRESHOLD_``), so the resident set
follows the live tensors instead of the allocator's caching.

Usage: python benchmarks/ops.py [--rounds 7] [--shape 2 128 7 64 64] [--threads N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from mmdet3dctx.apis.gpu_check import TIME_TARGETS as TARGETS
from mmdet3dctx.apis.gpu_check import DenseLayer, timing_rows
from mmdet3dctx.ops import call_with_input_slice_interval

OPERATORS = timing_rows()  # the operators, then the published formulations (A3D-einsum, TSM-slicing, acsconv-ACS)


def step(layer, x, input_slice_interval):
    call_with_input_slice_interval(layer, x, input_slice_interval=input_slice_interval).sum().backward()


def time_all(names, shape, rounds):
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    input_slice_interval = torch.full((shape[0], ), 5.0)
    layers = {n: DenseLayer(n, shape[1], shape[2]) for n in names}
    for n in names:  # warm-up
        step(layers[n], x, input_slice_interval)
    times = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            t0 = time.perf_counter()
            step(layers[n], x, input_slice_interval)
            times[n].append(time.perf_counter() - t0)
    return times


def peak_memory_child(name, shape):
    """Run in a fresh process: peak RSS growth (bytes) of one forward+backward."""
    torch.manual_seed(0)
    layer = DenseLayer(name, shape[1], shape[2])
    x = torch.randn(*shape, requires_grad=True)
    input_slice_interval = torch.full((shape[0], ), 5.0)
    with open('/proc/self/clear_refs', 'w') as f:  # reset the peak (a forked child inherits its parent's)
        f.write('5')
    base = _status_kib('VmRSS')
    step(layer, x, input_slice_interval)
    return max(_status_kib('VmHWM') - base, 0) * 1024


def _status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def peak_memory(name, shape, repeats):
    vals = []
    for _ in range(repeats):
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
        out = subprocess.run([sys.executable, __file__, '--child', name, '--shape', *map(str, shape)],
                             check=True, capture_output=True, text=True, env=env)
        vals.append(json.loads(out.stdout.strip().splitlines()[-1])['peak'])
    return statistics.median(vals)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rounds', type=int, default=7)
    p.add_argument('--mem-repeats', type=int, default=3)
    p.add_argument('--shape', type=int, nargs=5, default=[2, 128, 7, 64, 64], metavar=('N', 'C', 'D', 'H', 'W'))
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch decides)')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps({'peak': peak_memory_child(args.child, args.shape)}))
        return
    names = OPERATORS
    if 'acsconv-ACS' not in names:
        print('(acsconv reference not installed: skipped; `pip install --no-deps acsconv==0.1.1`)')
    print(f'dense layer op(1x1,{args.shape[1]}->128)-BN-ReLU-op(3x3,128->32) on {tuple(args.shape)}, '
          f'forward+backward, {args.rounds} interleaved rounds, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    times = time_all(names, args.shape, args.rounds)
    base_t = times['NoFusionConv']
    mems = {n: peak_memory(n, args.shape, args.mem_repeats) for n in names}
    print(f'{"operator":<20}{"time ms (median)":>18}{"time / no fusion":>18}{"peak MiB":>10}'
          f'{"mem / no fusion":>17}  target')
    for n in names:
        ratio = statistics.median(t / b for t, b in zip(times[n], base_t))
        mem_ratio = mems[n] / mems['NoFusionConv']
        target = TARGETS.get(n)
        note = ''
        if target is not None:
            note = f'time <= {target:.2f}x ' + ('met' if ratio <= target else 'MISSED')
        if n == 'ACSConv':
            note += '; mem <= 1.10x ' + ('met' if mem_ratio <= 1.10 else 'MISSED')
        print(f'{n:<20}{statistics.median(times[n]) * 1e3:>18.1f}{ratio:>18.3f}{mems[n] / 2**20:>10.1f}'
              f'{mem_ratio:>17.3f}  {note}')
    if 'acsconv-ACS' in times:
        r = statistics.median(a / b for a, b in zip(times['ACSConv'], times['acsconv-ACS']))
        m = mems['ACSConv'] / mems['acsconv-ACS']
        print(f'ACSConv / acsconv reference: time {r:.3f}x, peak memory {m:.3f}x '
              f'(target: time <= 1.00x {"met" if r <= 1.0 else "MISSED"})')


if __name__ == '__main__':
    main()
