"""Training-step throughput and peak memory of the demo detector: one process vs two gloo processes (DDP) on
this machine, and DenseNet3D with and without ``with_cp`` (checkpointed dense-layer bottlenecks).

Each configuration runs in a fresh process on the same synthetic batches (the demo config's model, inputs
``(N, 1, 7, S, S)``), timing ``--steps`` optimizer steps after ``--warmup`` steps; peak memory is the process's
peak resident set growth during the timed steps (``VmHWM`` after a reset through ``/proc/self/clear_refs``).
Scaling efficiency = (2-process samples/s) / (2 × 1-process samples/s) at the same per-process batch.

Usage: python benchmarks/train_step.py [--size 128] [--batch 2] [--steps 6]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..')
CONFIG = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')


def _status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def child(args):
    import torch
    import torch.distributed as dist
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    import mmdet3dctx  # noqa: F401
    from mmdet3dctx.apis import read_config
    from mmdet3dctx.testing.tiny_detector import random_ct_batch
    register_all_modules(init_default_scope=True)
    world = int(os.environ.get('WORLD_SIZE', 1))
    if world > 1:
        dist.init_process_group('gloo')
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    cfg = read_config(CONFIG)
    cfg.model.backbone.with_cp = args.with_cp
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    inputs, samples = random_ct_batch(model, num_slices=7, size=args.size, batch_size=args.batch)

    def step():
        losses = net(inputs, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    base = _status_kib('VmRSS')
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    elapsed = time.perf_counter() - t0
    peak = (_status_kib('VmHWM') - base) / 1024
    if world > 1:
        t = torch.tensor([elapsed])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        elapsed = float(t)
    if int(os.environ.get('RANK', 0)) == 0:
        print(json.dumps(dict(samples_per_s=args.steps * args.batch * world / elapsed, peak_mib=peak)))
    if world > 1:
        dist.destroy_process_group()


def run(args, nprocs=1, with_cp=False):
    cmd = [__file__, '--child', '--size', str(args.size), '--batch', str(args.batch), '--steps', str(args.steps),
           '--warmup', str(args.warmup)] + (['--with-cp'] if with_cp else [])
    if nprocs > 1:
        cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nprocs}', '--master_port=29533'] + cmd
    else:
        cmd = [sys.executable] + cmd
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536', PYTHONPATH=ROOT)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith('{')][-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--batch', type=int, default=2, help='samples per process and step')
    p.add_argument('--steps', type=int, default=6)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--with-cp', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    one = run(args)
    two = run(args, nprocs=2)
    cp = run(args, with_cp=True)
    print(f'demo detector (DenseNet3D + A3D, 7 slices, {args.size}x{args.size}), batch {args.batch} per process, '
          f'{args.steps} timed steps')
    print(f'{"setting":<28}{"samples/s":>12}{"peak MiB":>10}')
    print(f'{"1 process":<28}{one["samples_per_s"]:>12.2f}{one["peak_mib"]:>10.0f}')
    print(f'{"2 processes (gloo DDP)":<28}{two["samples_per_s"]:>12.2f}{two["peak_mib"]:>10.0f}  (rank 0)')
    print(f'{"1 process, with_cp=True":<28}{cp["samples_per_s"]:>12.2f}{cp["peak_mib"]:>10.0f}')
    print(f'scaling efficiency 2 processes: {two["samples_per_s"] / (2 * one["samples_per_s"]):.2f}; '
          f'with_cp: time x{one["samples_per_s"] / cp["samples_per_s"]:.2f}, '
          f'peak memory x{cp["peak_mib"] / max(one["peak_mib"], 1e-9):.2f}')


if __name__ == '__main__':
    main()
