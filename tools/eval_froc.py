"""Evaluate saved DeepLesion detections with the FROC protocol of the field; compare several runs.

Results files (one per run, format by extension): ``.pkl``/``.pickle`` (``tools/test.py --out``), ``.csv`` rows
``file_name,x1,y1,x2,y2,score`` (a header row is optional) or ``.json`` (a list of objects with those keys, or of
6-element lists), boxes in 0-based pixel coordinates of the original key slice (read by
mmdet3dctx.evaluation.detection_results). Ground truth: ``DL_info.csv`` or the prepared COCO-style JSON
(``annotations/deeplesion_<split>.json``), lesions flagged noisy excluded. Key slices without detections count
(as images with no detection); a detection on an image that is not in the split is an error.

Example::

    python tools/eval_froc.py --results work_dirs/a3d/results.pkl work_dirs/mp3d/results.pkl \\
        --data-root data/DeepLesion --split test --labels A3D MP3D --out-dir work_dirs/compare
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import List

from mmdet3dctx.datasets.dl_info import SPLITS
from mmdet3dctx.evaluation.deeplesion_eval import SUBGROUPS, evaluate_deeplesion, format_froc_table
from mmdet3dctx.evaluation.detection_results import (EvalError, build_records, find_ann_file, load_ground_truth,
                                                     read_results)
from mmdet3dctx.evaluation.froc import DEFAULT_AVG_LEVELS, DEFAULT_FP_LEVELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='DeepLesion FROC (sensitivity at 0.5-16 FPs per image) of saved detections',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--results', nargs='+', required=True, help='results file(s): .pkl, .csv or .json')
    parser.add_argument('--data-root', help='DeepLesion folder with DL_info.csv or annotations/deeplesion_*.json')
    parser.add_argument('--ann-file', help='DL_info.csv or prepared JSON (overrides --data-root lookup)')
    parser.add_argument('--split', default='test', choices=[*SPLITS, 'all'],
                        help='Train_Val_Test split to evaluate on (default: test)')
    parser.add_argument('--labels', nargs='+', help='one name per results file (default: file names)')
    parser.add_argument('--out-dir', help='write <label>.froc.json per run and froc.png (all runs) here')
    parser.add_argument('--overwrite', action='store_true', help='replace existing output files')
    parser.add_argument('--fp-levels', nargs='+', type=float, default=list(DEFAULT_FP_LEVELS))
    parser.add_argument('--avg-levels', nargs='+', type=float, default=list(DEFAULT_AVG_LEVELS))
    parser.add_argument('--iou-thr', type=float, default=0.5)
    parser.add_argument('--criterion', choices=['iou', 'iobb'], default='iou',
                        help="'iobb' = intersection over the detected box")
    parser.add_argument('--no-plus-one', action='store_true',
                        help='continuous coordinates (w = x2 - x1) instead of the reference +1 pixel convention')
    parser.add_argument('--no-subgroups', action='store_true', help='skip the sub-group tables')
    parser.add_argument('--no-map', action='store_true', help='skip mAP@0.5 (pycocotools)')
    args = parser.parse_args(argv)
    if not args.data_root and not args.ann_file:
        parser.error('give --data-root or --ann-file')
    if args.labels and len(args.labels) != len(args.results):
        parser.error(f'{len(args.labels)} labels for {len(args.results)} results files')
    return args


def unique_labels(paths: List[str]) -> List[str]:
    labels = [osp.splitext(osp.basename(p))[0] for p in paths]
    if len(set(labels)) < len(labels):
        labels = [f'{i + 1}:{label}' for i, label in enumerate(labels)]
    return labels


def main(argv=None) -> int:
    args = parse_args(argv)
    labels = args.labels or unique_labels(args.results)
    if len(set(labels)) < len(labels):
        sys.exit('error: --labels must be distinct')
    try:
        ann_file = args.ann_file or find_ann_file(args.data_root, args.split)
        gt = load_ground_truth(ann_file, args.split)
        outputs = []
        if args.out_dir:
            outputs = [osp.join(args.out_dir, f'{label.replace(os.sep, "_")}.froc.json') for label in labels]
            outputs.append(osp.join(args.out_dir, 'froc.png'))
            existing = [p for p in outputs if osp.exists(p)]
            if existing and not args.overwrite:
                raise EvalError(f'output file(s) exist: {", ".join(existing)} (pass --overwrite to replace)')
        reports = OrderedDict()
        for label, path in zip(labels, args.results):
            records = build_records(gt, read_results(path), path)
            reports[label] = evaluate_deeplesion(
                records, args.fp_levels, args.avg_levels, args.iou_thr, args.criterion, not args.no_plus_one,
                () if args.no_subgroups else SUBGROUPS, compute_map=not args.no_map)
    except (EvalError, ValueError, OSError) as e:
        sys.exit(f'error: {e}')

    first = next(iter(reports.values()))
    print(format_froc_table(reports, title=(
        f'DeepLesion FROC, {args.split} split of {ann_file}: {first["num_images"]} key slices, '
        f'{first["num_lesions"]} lesions (noisy excluded), {args.criterion.upper()} >= {args.iou_thr:g}; '
        'sensitivity (%) at FPs per image')))
    if args.out_dir:
        from mmdet3dctx.evaluation.deeplesion_eval import dump_report
        from mmdet3dctx.evaluation.froc_plot import plot_froc
        os.makedirs(args.out_dir, exist_ok=True)
        for out, report in zip(outputs, reports.values()):
            dump_report(report, out)
        plot_froc(reports, outputs[-1], title=f'DeepLesion FROC ({args.split})')
        print('\nwrote ' + ', '.join(outputs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
