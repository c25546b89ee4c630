"""DenseNet3D backbone per 3D-context operator, side by side: forward+backward time, peak memory, parameters
and FLOPs relative to no fusion (the A3D paper's cost comparison), with the 2D-network routes' backbones as
further rows of the same run.

Rows: the truncated DenseNet-121 with each operator at D slices, then the backbones of configs/deeplesion_2d as
their configs build them: ``ThickenedR50-3DCE`` (3dce_r50_9slice.py), ``ThickenedR50-ESM-SSA``
(thickened_esm_ssa_r50_9slice.py), both over groups of 3 slices, so at D slices when D is a multiple of 3 and
at the configs' 9 slices otherwise (the output says which), and ``InflatedSwin-T`` (swin_t_center_7slice.py)
at D slices. All ratios are to DenseNet3D with no fusion at D slices.

Times: every operator once per round, rounds repeated, reported as the median per-round ratio to no fusion (drift
of a shared machine cancels out); absolute medians from ``torch.utils.benchmark.Timer``-style timing with
``time.perf_counter``. Peak memory: growth of the peak resident set (``resource.getrusage``) during one
forward+backward, each operator in its own subprocess. FLOPs: MMEngine's ``FlopAnalyzer`` on the forward.
Time targets: A3D and ACS <= 1.10x no fusion; the other rows are reported only.

Usage: python benchmarks/backbones.py [--shape 7 256 256] [--rounds 5] [--batch 1] [--threads 2] [--ops ROW ...]
"""
import argparse
import json
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

import torch

from mmdet3dctx.ops import bind_input_slice_interval, call_with_input_slice_interval

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..')
OPERATORS = ['NoFusionConv', 'A3DConv', 'ACSConv', 'TSMConv', 'AlignShiftConv', 'P3DConv', 'I3DConv']
# the 2D-network routes: row name -> the config whose backbone is built
BACKBONES_2D = {
    'ThickenedR50-3DCE': 'configs/deeplesion_2d/3dce_r50_9slice.py',
    'ThickenedR50-ESM-SSA': 'configs/deeplesion_2d/thickened_esm_ssa_r50_9slice.py',
    'InflatedSwin-T': 'configs/deeplesion_2d/swin_t_center_7slice.py',
}
ROWS = OPERATORS + list(BACKBONES_2D)
TARGETS = {'A3DConv': 1.10, 'ACSConv': 1.10}


def row_slices(name: str, depth: int) -> int:
    """Slices a row reads for ``--shape D H W``: D, except thickened ResNets at their configs' count when D is not a
    multiple of 3 (they take groups of 3 slices)."""
    if name in BACKBONES_2D and name.startswith('Thickened') and depth % 3:
        from mmdet3dctx.apis import read_config
        return read_config(osp.join(ROOT, BACKBONES_2D[name])).model.backbone.num_slices
    return depth


def build(op: str, depth: int):
    """The row's backbone for ``depth`` slices (``row_slices``): DenseNet3D with operator ``op``, or the backbone
    of a 2D-network route's config."""
    if op in BACKBONES_2D:
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        import mmdet3dctx.models  # noqa: F401
        from mmdet3dctx.apis import read_config
        register_all_modules(init_default_scope=False)
        cfg = read_config(osp.join(ROOT, BACKBONES_2D[op])).model.backbone
        cfg.num_slices = row_slices(op, depth)
        cfg.init_cfg = None  # timing only: random weights, nothing to download
        torch.manual_seed(0)
        # PyTorch's default initialisation: timing needs no pretrained weights (init_weights would fetch them)
        return MODELS.build(cfg)
    if op not in OPERATORS:
        raise ValueError(f'benchmarks/backbones.py: unknown row {op!r}; choose from {ROWS}')
    from mmdet3dctx.models import DenseNet3D
    torch.manual_seed(0)
    return DenseNet3D(num_slices=depth, context_conv=dict(type=op))


def train_mode(model):
    model.train()  # mmdet's ResNet.train() returns None (and keeps frozen BN in eval with norm_eval=True)
    return model


def step(model, x, input_slice_interval):
    outs = call_with_input_slice_interval(model, x, input_slice_interval=input_slice_interval)
    sum(o.float().mean() for o in outs).backward()
    model.zero_grad(set_to_none=True)


def memory_child(op: str, shape, batch: int) -> None:
    """In a subprocess: print the growth of the peak RSS (MiB) during one forward+backward."""
    model = train_mode(build(op, shape[0]))
    x = torch.randn(batch, 1, row_slices(op, shape[0]), *shape[1:])
    input_slice_interval = torch.full((batch, ), 2.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step(model, x, input_slice_interval)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({'peak_mib': (after - before) / 1024}))


def flops(model, shape) -> float:
    """GFLOPs of the forward on one ``(1, 1, *shape)`` input (``shape``: the row's slices, H, W), with a 2 mm slice
    interval bound to operators that need one."""
    from mmengine.analysis import FlopAnalyzer

    model.eval()
    with torch.no_grad(), bind_input_slice_interval(model, torch.full((1, ), 2.0)):
        fa = FlopAnalyzer(model, (torch.rand(1, 1, *shape), ))
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        return fa.total() / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shape', type=int, nargs=3, default=[7, 256, 256], metavar=('D', 'H', 'W'))
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--ops', nargs='+', default=ROWS, choices=ROWS, metavar='ROW',
                        help=f'rows (default: all): {" ".join(ROWS)}')
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
    models = {op: train_mode(build(op, shape[0])) for op in ops}
    slices = {op: row_slices(op, shape[0]) for op in ops}
    xs = {d: torch.randn(args.batch, 1, d, *shape[1:]) for d in set(slices.values())}
    input_slice_interval = torch.full((args.batch, ), 2.0)
    for op, m in models.items():  # warm-up
        step(m, xs[slices[op]], input_slice_interval)
    times = {op: [] for op in ops}
    for _ in range(args.rounds):
        for op, m in models.items():
            t0 = time.perf_counter()
            step(m, xs[slices[op]], input_slice_interval)
            times[op].append(time.perf_counter() - t0)
    ratios = {op: statistics.median(t / b for t, b in zip(times[op], times['NoFusionConv'])) for op in ops}
    for op, m in models.items():
        info[op].update(params=sum(p.numel() for p in m.parameters()) / 1e6,
                        gflops=flops(m, (slices[op], *shape[1:])))
    base = info['NoFusionConv']
    print(f'DenseNet3D (truncated DenseNet-121) forward+backward, input ({args.batch}, 1, {shape[0]}, {shape[1]}, '
          f'{shape[2]}), {args.rounds} interleaved rounds, {torch.get_num_threads()} threads')
    routes = [op for op in ops if op in BACKBONES_2D]
    if routes:
        print('2D-network routes (backbones of configs/deeplesion_2d, same input size, ratios to DenseNet3D no '
              'fusion): ' + ', '.join(f'{op} at {slices[op]} slices ({osp.basename(BACKBONES_2D[op])})'
                                      for op in routes))
    header = (f'{"operator":20s} {"time (s)":>9s} {"time x":>7s} {"peak MiB":>9s} {"mem x":>6s} '
              f'{"params (M)":>11s} {"params x":>9s} {"GFLOPs":>8s} {"FLOPs x":>8s}  target')
    print(header)
    for op in ops:
        i = info[op]
        target = TARGETS.get(op)
        verdict = '' if target is None else (f'<= {target:.2f}x time: ' + ('ok' if ratios[op] <= target else
                                                                          'MISSED'))
        print(f'{op:20s} {statistics.median(times[op]):9.3f} {ratios[op]:7.2f} {i["mem"]:9.0f} '
              f'{i["mem"] / max(base["mem"], 1e-9):6.2f} {i["params"]:11.2f} {i["params"] / base["params"]:9.3f} '
              f'{i["gflops"]:8.2f} {i["gflops"] / base["gflops"]:8.3f}  {verdict}')
    return ratios, info


if __name__ == '__main__':
    main()
