"""Write a small synthetic DeepLesion tree (DL_info.csv + Images_png/) for demos, tests and benchmarks.

Example:
    python tools/make_synthetic_deeplesion.py --out data/synthetic --num-patients 40 --seed 0 --image-size 256
"""
import argparse
import os.path as osp
import sys
import time

from mmdet3dctx.datasets.dl_info import SPLITS, load_key_slices, split_counts
from mmdet3dctx.testing import make_synthetic_deeplesion


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-patients', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--image-size', type=int, default=512, help='slice width and height in pixels (>= 64)')
    parser.add_argument('--noise-hu', type=float, nargs='+', default=[8.0], metavar='HU',
                        help='quantum noise per pixel (HU), independent from slice to slice; two values LOW HIGH: '
                        'each series draws its level log-uniformly from that range')
    parser.add_argument('--noise-ref-mm', type=float, default=None,
                        help='slice thickness at which --noise-hu holds; other series get '
                        'noise-hu * sqrt(noise-ref-mm / interval) (default: the same noise for every series)')
    parser.add_argument('--noise-blur-px', type=float, default=0.0,
                        help='in-plane noise texture: Gaussian sigma (px) of the low-pass on white noise (0 = white)')
    parser.add_argument('--contrast-scale', type=float, default=1.0,
                        help='factor on lesion and tube contrast (60-140 HU hyper-, 50-100 HU hypodense at 1)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing DL_info.csv')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    if len(args.noise_hu) > 2:
        print('error: --noise-hu takes one level or a range LOW HIGH', file=sys.stderr)
        return 1
    noise_hu = args.noise_hu[0] if len(args.noise_hu) == 1 else tuple(args.noise_hu)
    try:
        out = make_synthetic_deeplesion(args.out, num_patients=args.num_patients, seed=args.seed,
                                        image_size=args.image_size, noise_hu=noise_hu,
                                        noise_ref_mm=args.noise_ref_mm, noise_blur_px=args.noise_blur_px,
                                        contrast_scale=args.contrast_scale, overwrite=args.force)
    except (FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    infos = load_key_slices(osp.join(out, 'DL_info.csv'), skip_noisy=False)
    counts = split_counts(infos)
    lesions = sum(len(i['instances']) for i in infos)
    per_split = ', '.join(f'{name} {counts[code]}' for name, code in SPLITS.items())
    print(f'{out}: {args.num_patients} patients, {len(infos)} key slices ({per_split}), {lesions} lesions, '
          f'{time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
