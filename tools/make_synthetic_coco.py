"""Write a small synthetic COCO-format detection set (coloured shapes on textured backgrounds, with masks).

The layout is COCO 2017's (``train2017/``, ``val2017/``, ``annotations/instances_{train,val}2017.json``, 80
categories), so any COCO config reads it by changing ``data_root``; the same arguments give the same files.

Example:
    python tools/make_synthetic_coco.py --out data/synthetic/coco_shapes --num-train 64 --num-val 16 --image-size 128
"""
import argparse
import json
import sys
import time

from mmdet3dctx.testing import make_synthetic_coco


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument('--num-val', type=int, default=16)
    parser.add_argument('--image-size', type=int, default=128, help='width and height in pixels (>= 32)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='overwrite existing annotation files')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        paths = make_synthetic_coco(args.out, num_train=args.num_train, num_val=args.num_val,
                                    image_size=args.image_size, seed=args.seed, overwrite=args.force)
    except (FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for split, path in paths.items():
        with open(path) as f:
            ann = json.load(f)
        print(f'{split}: {len(ann["images"])} images, {len(ann["annotations"])} instances -> {path}')
    print(f'{args.out}: done in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
