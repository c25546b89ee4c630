"""What the CPU backend charges for the pieces A3D and ACS add to a per-slice convolution.

Two measurements, each side by side in one run (median of interleaved rounds), at the operator benchmark's
``(2, 128, 7, 64, 64)`` dense-layer input:

1. **Output-channel granularity of the convolution** (ACS): forward+backward of a ``1×3×3`` Conv3d 128->C_out for
   C_out = 8, 11, 16, 32, relative to C_out = 32, in NCDHW and in channels-last (NDHWC). ACS splits the 32 output
   channels of a dense layer's 3×3 convolution 11/11/10 over three views; if the backend computes 11 channels at
   the cost of 16 (one AVX-512 vector of output channels), the three views cost ~1.5× one 32-channel convolution
   whatever the implementation around them.
2. **The A3D slice mix against a copy** (A3D): the three ``D×D`` products of a training step (``einsum
   'ncdhw,dkc->nckhw'`` forward, its adjoint, and ``∂L/∂P``), as the operator runs them (batched matrix products
   over the ``N·C`` blocks), relative to ``Tensor.clone`` of the same tensor (one read and one write: the least a
   mix pass can cost).

Usage: python benchmarks/backend_costs.py [--rounds 15] [--threads N] [--shape 2 128 7 64 64]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


from mmdet3dctx.ops.premix_conv import A3DMix


def interleaved(fns, rounds):
    """Median seconds of each callable, every callable once per round."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def conv_granularity(shape, rounds):
    n, c, d, h, w = shape
    rows = {}
    for fmt_name, fmt in (('NCDHW', torch.contiguous_format), ('channels-last', torch.channels_last_3d)):
        x = torch.randn(shape).to(memory_format=fmt).requires_grad_()
        fns = {}
        for oc in (8, 11, 16, 32):
            weight = torch.randn(oc, c, 1, 3, 3).to(memory_format=fmt).requires_grad_()

            def step(x=x, weight=weight):
                F.conv3d(x, weight, None, 1, (0, 1, 1)).sum().backward()

            fns[oc] = step
        t = interleaved(fns, rounds)
        rows[fmt_name] = {oc: (t[oc], t[oc] / t[32]) for oc in t}
    return rows


def a3d_mix(shape, rounds):
    n, c, d, h, w = shape
    x, g = torch.randn(shape), torch.randn(shape)
    param = torch.randn(d, d, c)
    mix = A3DMix()
    fns = {
        'copy (x.clone())': lambda: x.clone(),
        'forward mix': lambda: mix.apply(x, param),
        'adjoint': lambda: mix.adjoint_(g, param),
        'dL/dP': lambda: mix.param_grad(x, g, param),
    }
    return interleaved(fns, rounds)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rounds', type=int, default=15)
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch decides)')
    p.add_argument('--shape', type=int, nargs=5, default=[2, 128, 7, 64, 64], metavar=('N', 'C', 'D', 'H', 'W'))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = tuple(args.shape)
    print(f'input {shape}, {args.rounds} interleaved rounds, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    print(f'\n1x3x3 Conv3d {shape[1]}->C_out, forward+backward')
    print(f'{"layout":<15}' + ''.join(f'{f"C_out={oc}":>20}' for oc in (8, 11, 16, 32)))
    for fmt, row in conv_granularity(shape, args.rounds).items():
        print(f'{fmt:<15}' + ''.join(f'{f"{t * 1e3:.1f} ms ({r:.2f}x)":>20}' for t, r in row.values()))
    print('\nA3D slice mix (batched D x D products), relative to one copy of the input')
    t = a3d_mix(shape, args.rounds)
    base = t['copy (x.clone())']
    for k, v in t.items():
        print(f'{k:<20}{v * 1e3:>9.2f} ms{v / base:>8.2f}x')


if __name__ == '__main__':
    main()
