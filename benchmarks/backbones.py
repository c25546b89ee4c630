"""DenseNet3D backbone per 3D-context operator, side by side: forward+backward time, peak memory, parameters
and FLOPs relative to no fusion (the A3D paper's cost comparison).

Times: every operator once per round, rounds repeated, reported as the median per-round ratio to no fusion (drift
of a shared machine cancels out); absolute medians from ``torch.utils.benchmark.Timer``-style timing with
``time.perf_counter``. Peak memory: growth of the peak resident set (``resource.getrusage``) during one
forward+backward, each operator in its own subprocess. FLOPs: MMEngine's ``FlopAnalyzer`` on the forward.
Targets (issue): A3D and ACS <= 1.10x no-fusion time; I3D/P3D reported.

Usage: python benchmarks/backbones.py [--shape 7 256 256] [--rounds 5] [--batch 1] [--threads 2]
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

OPERATORS = ['NoFusionConv', 'A3DConv', 'ACSConv', 'TSMConv', 'AlignShiftConv', 'P3DConv', 'I3DConv']
TARGETS = {'A3DConv': 1.10, 'ACSConv': 1.10}


def build(op: str, depth: int):
    from mmdet3dctx.models import DenseNet3D
    torch.manual_seed(0)
    return DenseNet3D(num_slices=depth, context_conv=dict(type=op))


def step(model, x, thickness):
    outs = model(x, thickness) if model.with_thickness else model(x)
    sum(o.float().mean() for o in outs).backward()
    model.zero_grad(set_to_none=True)


def memory_child(op: str, shape, batch: int) -> None:
    """In a subprocess: print the growth of the peak RSS (MiB) during one forward+backward."""
    model = build(op, shape[0]).train()
    x = torch.randn(batch, 1, *shape)
    thickness = torch.full((batch, ), 2.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step(model, x, thickness)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({'peak_mib': (after - before) / 1024}))


def flops(model, shape) -> float:
    from mmengine.analysis import FlopAnalyzer

    class Wrap(torch.nn.Module):

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            if self.m.with_thickness:
                return self.m(x, torch.full((x.shape[0], ), 2.0))
            return self.m(x)

    model.eval()
    with torch.no_grad():
        fa = FlopAnalyzer(Wrap(model), (torch.rand(1, 1, *shape), ))
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        return fa.total() / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shape', type=int, nargs=3, default=[7, 256, 256], metavar=('D', 'H', 'W'))
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--ops', nargs='+', default=OPERATORS)
    parser.add_argument('--memory-child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = tuple(args.shape)
    if args.memory_child:
        return memory_child(args.memory_child, shape, args.batch)
    ops = args.ops if args.ops[0] == 'NoFusionConv' else ['NoFusionConv'] + [o for o in args.ops if
                                                                              o != 'NoFusionConv']
    # memory first: a child's peak RSS starts at its parent's (Linux keeps ru_maxrss across fork/exec), so the
    # children are started while this process is still small
    info = {}
    for op in ops:
        out = subprocess.run([sys.executable, osp.abspath(__file__), '--memory-child', op, '--shape',
                              *map(str, shape), '--batch', str(args.batch)] +
                             (['--threads', str(args.threads)] if args.threads else []),
                             capture_output=True, text=True, check=True)
        info[op] = dict(mem=json.loads(out.stdout.strip().splitlines()[-1])['peak_mib'])
    models = {op: build(op, shape[0]).train() for op in ops}
    x = torch.randn(args.batch, 1, *shape)
    thickness = torch.full((args.batch, ), 2.0)
    for m in models.values():  # warm-up
        step(m, x, thickness)
    times = {op: [] for op in ops}
    for _ in range(args.rounds):
        for op, m in models.items():
            t0 = time.perf_counter()
            step(m, x, thickness)
            times[op].append(time.perf_counter() - t0)
    ratios = {op: statistics.median(t / b for t, b in zip(times[op], times['NoFusionConv'])) for op in ops}
    for op, m in models.items():
        info[op].update(params=sum(p.numel() for p in m.parameters()) / 1e6, gflops=flops(m, shape))
    base = info['NoFusionConv']
    print(f'DenseNet3D (truncated DenseNet-121) forward+backward, input ({args.batch}, 1, {shape[0]}, {shape[1]}, '
          f'{shape[2]}), {args.rounds} interleaved rounds, {torch.get_num_threads()} threads')
    header = (f'{"operator":16s} {"time (s)":>9s} {"time x":>7s} {"peak MiB":>9s} {"mem x":>6s} '
              f'{"params (M)":>11s} {"params x":>9s} {"GFLOPs":>8s} {"FLOPs x":>8s}  target')
    print(header)
    for op in ops:
        i = info[op]
        target = TARGETS.get(op)
        verdict = '' if target is None else (f'<= {target:.2f}x time: ' + ('ok' if ratios[op] <= target else
                                                                          'MISSED'))
        print(f'{op:16s} {statistics.median(times[op]):9.3f} {ratios[op]:7.2f} {i["mem"]:9.0f} '
              f'{i["mem"] / max(base["mem"], 1e-9):6.2f} {i["params"]:11.2f} {i["params"] / base["params"]:9.3f} '
              f'{i["gflops"]:8.2f} {i["gflops"] / base["gflops"]:8.3f}  {verdict}')
    return ratios, info


if __name__ == '__main__':
    main()
