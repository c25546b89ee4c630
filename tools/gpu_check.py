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
The check itself is :func:`mmdet3dctx.apis.gpu_check.run_gpu_check`.

Usage: python tools/gpu_check.py [--device cuda|cpu] [--quick] [--skip-backbone] [--skip-detector]
"""
import argparse
import sys

import torch

from mmdet3dctx.apis import gpu_check


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
    p.add_argument('--config', default=None,
                   help=f'detector config (default: the shipped configs/{gpu_check.DETECTOR_CONFIG})')
    p.add_argument('--skip-backbone', action='store_true')
    p.add_argument('--skip-detector', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return gpu_check.run_gpu_check(args.device, quick=args.quick, precision=args.precision, rounds=args.rounds,
                                   detector_precision=args.detector_precision, config=args.config,
                                   skip_backbone=args.skip_backbone, skip_detector=args.skip_detector)


if __name__ == '__main__':
    sys.exit(main())
