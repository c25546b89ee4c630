"""Speed of the vectorised DeepLesion FROC against a per-detection Python loop, measured side by side.

The loop is the literal implementation of the protocol the unit tests check the fast one against
(``mmdet3dctx.testing.froc_reference``); both run on the same synthetic detections, their curves are checked
to be identical, and both are timed with ``time.perf_counter``, alternately, best of several repeats.

Usage::

    python benchmarks/froc.py [--images 3000] [--dets 15] [--repeats 5]
"""
import argparse
import sys


from mmdet3dctx.evaluation.froc import froc_curve, interp_sensitivity
from mmdet3dctx.testing import froc_reference
from timing import side_by_side  # benchmarks/timing.py, beside this script


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=3000)
    parser.add_argument('--dets', type=int, default=15, help='detections per image')
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()

    loop = froc_reference
    dets, gts = froc_reference.synthetic_case(args.images, args.dets)
    (t_vec, t_loop), ((sens, fp), (sens_ref, fp_ref)) = side_by_side(
        [lambda: froc_curve(dets, gts), lambda: loop.froc_curve_loop(dets, gts)], args.repeats)
    identical = sens.tolist() == sens_ref and fp.tolist() == fp_ref
    levels = (0.5, 1, 2, 4, 8, 16)
    table = interp_sensitivity(sens, fp, levels)
    print(f'{args.images} images x {args.dets} detections = {len(sens)} detections, '
          f'{sum(len(g) for g in gts)} lesions')
    print('sensitivity at ' + ', '.join(f'{f:g}: {100 * s:.2f}' for f, s in zip(levels, table)))
    print(f'per-detection loop: {1e3 * t_loop:9.1f} ms (best of {args.repeats})')
    print(f'vectorised:         {1e3 * t_vec:9.1f} ms (best of {args.repeats})')
    print(f'speed-up: {t_loop / t_vec:.1f}x, identical curves: {identical}')
    if not identical:
        sys.exit('the vectorised and the loop curves differ')


if __name__ == '__main__':
    main()
