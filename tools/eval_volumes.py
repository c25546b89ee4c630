"""Score saved 3D findings per patient volume against a prepared volume dataset (FROC per volume, CPM).

Findings: one ``findings.json`` per case, ``DIR/<case_id>/findings.json`` (``tools/infer.py --out-dir
DIR/<case_id>``) or ``DIR/<case_id>.json``, from this toolkit or any detector writing that format (``score``,
``centre_lps_mm``, ``extent_lps_mm`` in LPS mm). Lesions: the prepared dataset's ``volumes.json`` and lesion maps
(``tools/prepare_volumes.py``). Every case of the split is one volume; lesion-free volumes count in the FPs per
volume. Hit criteria: ``centre`` (LUNA16: the finding's centre within the lesion's radius), ``centre_in_mask``
(the centre's voxel in the lesion's mask) or ``iou`` (nnDetection: 3D box IoU >= --iou-thr).

Example::

    python tools/eval_volumes.py --findings work_dirs/infer_test --data-root data/liver_prepared --split test \\
        --criterion iou --out work_dirs/infer_test_volume_froc.json
"""
import argparse
import os.path as osp
import sys

from mmdet3dctx.datasets.volume_index import SPLITS
from mmdet3dctx.evaluation.volume_dataset_eval import evaluate_findings
from mmdet3dctx.utils import write_json_atomic
from mmdet3dctx.evaluation.volume_froc import (CRITERIA, DEFAULT_DIAMETER_BINS, DEFAULT_IOU_THR,
                                               DEFAULT_VOLUME_FP_LEVELS, VolumeEvalError, format_volume_froc_table)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='3D FROC per volume (sensitivity at 1/8-8 FPs per volume, CPM) of saved findings.json files',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--findings', required=True, help='folder of <case_id>/findings.json or <case_id>.json')
    parser.add_argument('--data-root', required=True, help='prepared dataset (volumes.json, cache/)')
    parser.add_argument('--split', default='test', choices=[*SPLITS, 'all'], help='split to score (default: test)')
    parser.add_argument('--criterion', choices=CRITERIA, default='centre',
                        help='hit criterion (default: centre, as LUNA16)')
    parser.add_argument('--iou-thr', type=float, default=DEFAULT_IOU_THR,
                        help=f'3D IoU for a hit with --criterion iou (default: {DEFAULT_IOU_THR:g}, nnDetection)')
    parser.add_argument('--fp-levels', nargs='+', type=float, default=list(DEFAULT_VOLUME_FP_LEVELS),
                        help='FPs per volume of the table; the CPM is their mean (default: LUNA16\'s 1/8 to 8)')
    parser.add_argument('--diameter-bins', nargs='+', type=float, default=list(DEFAULT_DIAMETER_BINS),
                        help='sub-group edges in mm, bins [low, high) (default: 0 10 20 30 inf)')
    parser.add_argument('--no-subgroups', action='store_true', help='skip the diameter sub-groups')
    parser.add_argument('--missing-as-empty', action='store_true',
                        help='a case without a findings file has no findings (default: an error)')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.out and osp.exists(args.out) and not args.overwrite:
        sys.exit(f'error: {args.out} exists (pass --overwrite to replace it)')
    try:
        result = evaluate_findings(args.findings, args.data_root, args.split, args.criterion, args.iou_thr,
                                   args.missing_as_empty, args.fp_levels,
                                   None if args.no_subgroups else args.diameter_bins)
        print(format_volume_froc_table(result))
        if result['missing_cases']:
            print(f'{len(result["missing_cases"])} case(s) without a findings file counted as volumes without '
                  'findings')
        if args.out:
            write_json_atomic(result, args.out, args.overwrite)
            print(f'wrote {args.out}')
    except (VolumeEvalError, ValueError, OSError) as e:
        sys.exit(f'error: {e}')
    return 0

if __name__ == '__main__':
    sys.exit(main())
