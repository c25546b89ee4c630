"""Convert DeepLesion's DL_info.csv into COCO-style JSON per split, with pseudo-masks from the RECIST marks.

Writes ``<data-root>/annotations/deeplesion_{train,val,test}.json``. Every field of the CSV is kept per image and
annotation (0-based coordinates; noisy lesions kept with their flag: the dataset drops them at load time).
Masks: ``grabcut`` (GrabCut on the windowed key slice, the box as probable foreground, the RECIST quadrilateral
as sure foreground; an ellipse where GrabCut finds nothing) or ``ellipse`` (fitted to the RECIST axes, fast).

Example:
    python tools/prepare_deeplesion.py --data-root data/DeepLesion --masks grabcut --workers 2
"""
import argparse
import json
import os
import os.path as osp
import sys
from collections import Counter

from mmengine.utils import track_parallel_progress, track_progress

from mmdet3dctx.datasets.deeplesion_coco import key_slices_to_coco
from mmdet3dctx.datasets.dl_info import SPLITS, DLInfoError, group_key_slices, read_dl_info, select_split
from mmdet3dctx.datasets.recist_masks import key_slice_masks_star as _masks_of_key_slice_star


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True, help='DeepLesion folder with DL_info.csv and Images_png/')
    parser.add_argument('--ann-file', default='DL_info.csv', help='CSV, relative to --data-root unless absolute')
    parser.add_argument('--out-dir', default=None, help='output folder (default: <data-root>/annotations)')
    parser.add_argument('--masks', choices=('grabcut', 'ellipse'), default='grabcut', help='pseudo-mask method')
    parser.add_argument('--window', type=float, nargs=2, default=None, metavar=('LOW', 'HIGH'),
                        help='HU window for GrabCut (default: each row\'s DICOM_windows)')
    parser.add_argument('--workers', type=int, default=1, help='processes for the masks')
    parser.add_argument('--force', action='store_true', help='overwrite existing output files')
    return parser.parse_args(argv)


def prepare(data_root, ann_file='DL_info.csv', out_dir=None, masks='grabcut', window=None, workers=1,
            force=False):
    """Write the per-split JSON files; returns a summary dict (counts per split, mask methods, output paths)."""
    csv_path = ann_file if osp.isabs(ann_file) else osp.join(data_root, ann_file)
    out_dir = out_dir or osp.join(data_root, 'annotations')
    outputs = {name: osp.join(out_dir, f'deeplesion_{name}.json') for name in SPLITS}
    existing = [p for p in outputs.values() if osp.exists(p)]
    if existing and not force:
        raise FileExistsError(f'output exists, pass --force to overwrite: {", ".join(existing)}')
    infos = group_key_slices(read_dl_info(csv_path), csv_path)
    for i, info in enumerate(infos):
        info['img_id'] = i + 1
    tasks = [(info, data_root, masks, tuple(window) if window else None, csv_path) for info in infos]
    print(f'{len(infos)} key slices, {sum(len(i["instances"]) for i in infos)} lesions: {masks} masks')
    if workers > 1 and len(tasks) > 1:
        results = track_parallel_progress(_masks_of_key_slice_star, tasks, workers, file=sys.stdout)
    else:
        results = track_progress(_masks_of_key_slice_star, tasks, file=sys.stdout)
    mask_of = {}
    hows = Counter()
    for res in results:
        for img_id, j, polys, area, how in res:
            mask_of[(img_id, j)] = dict(segmentation=polys, area=area, how=how)
            hows[how] += 1
    os.makedirs(out_dir, exist_ok=True)
    summary = dict(outputs={}, key_slices={}, lesions={}, masks=dict(hows), fallbacks=hows.get('ellipse_fallback', 0))
    for name, path in outputs.items():
        subset = select_split(infos, name, skip_noisy=False)  # noisy lesions keep their flag in the JSON
        coco = key_slices_to_coco(subset, mask_of, description=f'DeepLesion {name} ({masks} masks)')
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(coco, f)
        os.replace(tmp, path)
        summary['outputs'][name] = path
        summary['key_slices'][name] = len(subset)
        summary['lesions'][name] = len(coco['annotations'])
    return summary


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = prepare(args.data_root, args.ann_file, args.out_dir, args.masks, args.window, args.workers,
                          args.force)
    except (FileExistsError, FileNotFoundError, DLInfoError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print()
    for name, path in summary['outputs'].items():
        print(f'{name}: {summary["key_slices"][name]} key slices, {summary["lesions"][name]} lesions -> {path}')
    print('masks: ' + ', '.join(f'{k} {v}' for k, v in sorted(summary['masks'].items())))
    if args.masks == 'grabcut':
        print(f'GrabCut found nothing for {summary["fallbacks"]} lesion(s): ellipse used instead')
    return 0


if __name__ == '__main__':
    sys.exit(main())
