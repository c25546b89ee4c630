"""Speed of the vectorised 3D FROC per volume against the per-finding Python loop, measured side by side.

The loop is the literal implementation of the protocol that the unit tests check the fast one against
(``mmdet3dctx.testing.volume_froc_reference``); both score the same synthetic volumes
(``mmdet3dctx.testing.volume_index.random_volume_records``) with each hit criterion and give the full result
(sensitivities at 1/8-8 FPs per volume, CPM, the four diameter sub-groups, operating points, counts); their
figures are checked to be identical, and both are timed with ``time.perf_counter``, alternately, best of several
repeats.

Usage::

    python benchmarks/volume_froc.py [--volumes 1000] [--max-findings 16] [--repeats 5]
"""
import argparse
import sys

from mmdet3dctx.evaluation.volume_froc import evaluate_volumes
from mmdet3dctx.testing.volume_froc_reference import evaluate_volumes_loop
from mmdet3dctx.testing.volume_index import random_volume_records
from timing import side_by_side  # benchmarks/timing.py, beside this script

KEYS = ('sensitivity', 'cpm', 'operating_points', 'num_volumes', 'num_lesions', 'num_findings',
        'num_detected_lesions', 'num_false_positives', 'num_duplicate_findings')


def identical(result, ref):
    """Whether every figure the reference computes is exactly the same in the vectorised result."""
    subgroups = {k: {kk: vv for kk, vv in v.items() if kk != 'range_mm'} for k, v in result['subgroups'].items()}
    return all(result[k] == ref[k] for k in KEYS) and subgroups == ref['subgroups']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--volumes', type=int, default=1000)
    parser.add_argument('--max-findings', type=int, default=16, help='most findings per volume (uniform 0..N)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    all_same = True
    for criterion in ('centre', 'centre_in_mask', 'iou'):
        vols = random_volume_records(args.seed, args.volumes, args.max_findings,
                                     with_maps=criterion == 'centre_in_mask')
        (t_vec, t_loop), (result, ref) = side_by_side(
            [lambda: evaluate_volumes(vols, criterion), lambda: evaluate_volumes_loop(vols, criterion)],
            args.repeats)
        same = identical(result, ref)
        all_same &= same
        print(f'{criterion}: {result["num_volumes"]} volumes ({result["num_lesion_free_volumes"]} lesion-free), '
              f'{result["num_lesions"]} lesions, {result["num_findings"]} findings; CPM {100 * result["cpm"]:.2f}')
        print(f'  per-finding loop: {1e3 * t_loop:9.1f} ms   vectorised: {1e3 * t_vec:7.1f} ms (best of '
              f'{args.repeats})   speed-up: {t_loop / t_vec:.1f}x   identical results: {same}')
    if not all_same:
        sys.exit('the vectorised and the loop results differ')


if __name__ == '__main__':
    main()
