"""Check the 3D-context operators on a device and measure them: one command for a GPU machine.

Prints, in one run:
1. operator correctness: forward and backward of every operator in float32 and under autocast (fp16/bf16 on
   CUDA, bf16 on the CPU) against float64 on the CPU, with no host-device sync (CUDA) — exit status 1 if a row
   fails;
2. forward+backward time and peak memory relative to no fusion of the DenseNet dense layer and of the whole
   DenseNet3D backbone (7 x 512 x 512, batch 2, bf16 autocast on CUDA), beside the published formulations
   (A3D by einsum, TSM by slicing, the acsconv package's ACS when it imports);
3. when MMCV's compiled ops import: one training iteration and one test pass of the detector config on random
   512 x 512 inputs (images/s, peak memory).

Only part 1 and the dense layer need nothing but torch; the backbone needs MMDetection, the detector MMCV's ops.

Usage: python tools/gpu_check.py [--device cuda|cpu] [--quick] [--skip-backbone] [--skip-detector]
"""
import argparse
import os
import platform
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from mmdet3dctx.ops import gpu_check  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
# (full, --quick) sizes
DENSE_SHAPE = ((2, 128, 7, 128, 128), (2, 32, 3, 16, 16))
BACKBONE_SHAPE = ((2, 1, 7, 512, 512), (1, 1, 3, 32, 32))
BACKBONE_BLOCKS = ((6, 12, 24), (1, 1, 1))
DETECTOR_SIZE = (512, 64)


def environment(device: str) -> str:
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


def _models():
    """The backbone/detector module, or None and why it does not import (e.g. no MMEngine)."""
    try:
        from mmdet3dctx.utils import gpu_check_models
    except Exception as e:
        return None, f'{type(e).__name__}: {e}'
    return gpu_check_models, None


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='cuda, cuda:1 or cpu')
    p.add_argument('--quick', action='store_true', help='small sizes and few rounds (what the tests run)')
    p.add_argument('--precision', choices=sorted(gpu_check.PRECISIONS), default=None,
                   help='autocast of the timing rows (default: bf16 on CUDA, float32 on the CPU)')
    p.add_argument('--rounds', type=int, default=None, help='timing rounds (default: 10, 2 with --quick)')
    p.add_argument('--detector-precision', choices=sorted(gpu_check.PRECISIONS), default=None,
                   help="autocast of the detector rows (default: fp16 on CUDA, as MMDetection's AmpOptimWrapper and "
                   "MMCV 2.1.0's CUDA RoIAlign/NMS take, float32 on the CPU)")
    p.add_argument('--config', default=os.path.join(ROOT, 'configs/deeplesion/a3d_7slice.py'))
    p.add_argument('--skip-backbone', action='store_true')
    p.add_argument('--skip-detector', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = args.device
    if torch.device(device).type == 'cuda' and not torch.cuda.is_available():
        print(f'--device {device}: no CUDA device is visible to torch {torch.__version__}', file=sys.stderr)
        return 2
    q = int(args.quick)
    precision = args.precision or ('bf16' if torch.device(device).type == 'cuda' else 'float32')
    rounds = args.rounds or (2 if args.quick else 10)
    print(f'== environment: {environment(device)}')
    if args.quick:
        print('(--quick: small sizes; times are not comparable with the full run, targets not judged)')

    rows = gpu_check.check_operators(device)
    failed = [r for r in rows if not r['ok']]
    print(f'\n== operator correctness on {device} against float64 on the CPU '
          f'(max |err| / max |ref| of the output and of the worst gradient)')
    print(gpu_check.format_correctness(rows))
    print(f'correctness: {len(rows) - len(failed)}/{len(rows)} rows pass')

    names = gpu_check.timing_rows()
    shape = DENSE_SHAPE[q]
    steps = gpu_check.dense_layer_steps(shape, device, precision, names)
    title = (f'\n== dense layer op(1x1,{shape[1]}->128)-BN-ReLU-op(3x3,128->32) on {shape}, {precision}, '
             f'forward+backward, median of {rounds} interleaved rounds')
    print(gpu_check.format_table(gpu_check.compare_timing(steps, device, rounds), title,
                                 targets=not args.quick))
    del steps

    if args.skip_backbone:
        print('\n== DenseNet3D backbone: skipped (--skip-backbone)')
    else:
        models, reason = _models()
        reason = reason or models.backbone_unavailable()
        if reason:
            print(f'\n== DenseNet3D backbone: skipped ({reason})')
        else:
            shape, blocks = BACKBONE_SHAPE[q], BACKBONE_BLOCKS[q]
            ops = [n for n in names if n in gpu_check.CONTEXT_CONVS]
            title = (f'\n== DenseNet3D backbone, blocks {blocks}, on {shape}, {precision}, forward+backward, '
                     f'median of {rounds} interleaved rounds')
            try:
                steps = models.backbone_steps(shape, device, precision, ops, blocks)
                print(gpu_check.format_table(gpu_check.compare_timing(steps, device, rounds), title,
                                             targets=not args.quick))
            except Exception as e:  # e.g. out of memory: reported, the rest still runs
                print(title)
                print(f'error: {type(e).__name__}: {e}'.splitlines()[0][:300])
            steps = None
            if torch.device(device).type == 'cuda':
                torch.cuda.empty_cache()

    if args.skip_detector:
        print('\n== detector: skipped (--skip-detector)')
    else:
        models, reason = _models()
        reason = reason or models.detector_unavailable()
        if reason:
            print(f'\n== detector: skipped ({reason})')
        else:
            size = DETECTOR_SIZE[q]
            on_cpu = torch.device(device).type == 'cpu'
            det_precision = args.detector_precision or ('float32' if on_cpu else 'fp16')
            tiny = args.quick and on_cpu
            print(f'\n== detector {os.path.relpath(args.config, ROOT)}, random {size}x{size} inputs, batch 2, '
                  f'{det_precision}, pretrained init off' + (', shrunk (--quick on a CPU)' if tiny else ''))
            try:
                res = models.detector_iteration(args.config, device, det_precision, size=size, batch_size=2,
                                                tiny=tiny, warmup=0 if args.quick else 1)
            except Exception as e:  # reported, the tables above stand
                print(f'error: {type(e).__name__}: {e}'.splitlines()[0][:300])
            else:
                print(f'{"pass":<8}{"images/s":>10}{"peak MiB":>10}')
                for key in ('train', 'test'):
                    peak = res[f'{key}_peak_mib']
                    print(f'{key:<8}{res[f"{key}_ips"]:>10.2f}{"n/a" if peak is None else f"{peak:.0f}":>10}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
