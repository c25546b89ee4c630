#!/usr/bin/env python
"""Detect lesions in a CT study: a DICOM study folder, a NIfTI, MetaImage or NRRD volume or a DeepLesion series
folder in; findings in patient space, a label volume, DICOM SR/SEG and an HTML report out.

    python tools/infer.py CONFIG CKPT STUDY [--out-dir DIR] [--series UID] [--score-thr 0.5|FROC_JSON:FP]
                          [--slices all|A:B] [--batch 8] [--device cpu] [--overwrite]
    python tools/infer.py STUDY --list-series

STUDY is searched recursively (or through its DICOMDIR); by default the axial CT series with the most slices is
read. Every slice becomes a model input as in training (slice count, spacing in mm and window from the config's
test pipeline); 2D detections on consecutive slices are linked into 3D findings. See docs/inference.md.
"""
import argparse
import logging
import os.path as osp
import time

from mmengine.config import DictAction

from mmdet3dctx.evaluation.operating_point import resolve_score_threshold
from mmdet3dctx.io import VOLUME_FORMATS, read_volume


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('paths', nargs='+', metavar='CONFIG CKPT STUDY',
                   help='detector config, trained weights (a local .pth) and the study: a DICOM folder or file, a '
                   'NIfTI file (.nii/.nii.gz), a MetaImage or NRRD file (.mhd/.mha/.nrrd/.nhdr) or a DeepLesion series '
                   'folder; only STUDY with --list-series')
    p.add_argument('--list-series', action='store_true', help='list the image series of STUDY and what is skipped')
    p.add_argument('--out-dir', default=None, help='where to write the results (default: <study name>_findings)')
    p.add_argument('--score-thr', type=resolve_score_threshold, default=0.5, help='minimum score of a 2D detection: '
                   'a number, or FROC_JSON:FP for the threshold that gave FP false positives per image there')
    p.add_argument('--slices', default='all', help="'all' or A:B (volume slice indices, B exclusive)")
    p.add_argument('--batch', type=int, default=8, help='slices per forward pass')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    p.add_argument('--format', choices=('auto', ) + VOLUME_FORMATS, default='auto',
                   help='how to read STUDY (default: from the path, see mmdet3dctx.io.read_volume)')
    p.add_argument('--series', '--series-uid', dest='series', default=None,
                   help='SeriesInstanceUID of the series to read (default: the axial CT series with most slices)')
    p.add_argument('--spacing', type=float, nargs=3, metavar=('Z', 'Y', 'X'),
                   help='mm spacing of a DeepLesion series folder (or give --dl-info)')
    p.add_argument('--dl-info', default=None, help='DL_info.csv giving a DeepLesion series its spacing')
    p.add_argument('--link-iou', type=float, default=0.3, help='IoU linking boxes on consecutive slices')
    p.add_argument('--overwrite', '--force', dest='overwrite', action='store_true',
                   help='replace results already in --out-dir')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='override config settings, e.g. model.test_cfg.rcnn.max_per_img=20')
    args = p.parse_args(argv)
    expected = 1 if args.list_series else 3
    if len(args.paths) != expected:
        p.error('give STUDY with --list-series' if args.list_series else 'give CONFIG CKPT STUDY')
    return args


def list_series(path: str) -> None:
    from mmdet3dctx.io import DicomSeriesError, choose_series, scan_dicom_study
    series, skipped = scan_dicom_study(path)
    try:
        default = choose_series(series, None, path, skipped).uid
    except DicomSeriesError:
        default = None
    print(f'{path}: {len(series)} image series' + ('' if default else ' (no axial CT series to read by default)'))
    for s in series:
        print(('* ' if s.uid == default else '  ') + s.summary())
    for k in skipped:
        print(f'  skipped {k.path}: {k.reason}')
    if default:
        print('* read by default; choose another with --series UID')


def parse_slices(spec: str, num_slices: int):
    if spec == 'all':
        return list(range(num_slices))
    try:
        a, b = spec.split(':')
        a = int(a) if a else 0
        b = int(b) if b else num_slices
    except ValueError:
        raise SystemExit(f"error: --slices must be 'all' or A:B, got {spec!r}")
    if not 0 <= a < b <= num_slices:
        raise SystemExit(f'error: --slices {spec} outside the volume of {num_slices} slices')
    return list(range(a, b))


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(format='%(message)s')
    logging.getLogger('mmdet3dctx').setLevel(logging.INFO)
    from mmdet3dctx.io import DicomSeriesError
    if args.list_series:
        try:
            return list_series(args.paths[0])
        except DicomSeriesError as e:
            raise SystemExit(f'error: {e}')
    config, checkpoint, study = args.paths
    out_dir = args.out_dir or osp.basename(osp.normpath(study)).split('.')[0] + '_findings'
    from mmdet3dctx.inference import existing_outputs
    existing = existing_outputs(out_dir)
    if existing and not args.overwrite:
        raise SystemExit(f'error: {out_dir} already holds findings ({", ".join(existing)}); choose another '
                         '--out-dir or pass --overwrite')
    t_start = time.perf_counter()
    try:
        volume = read_volume(study, args.format, series_uid=args.series, dl_info=args.dl_info,
                             spacing=args.spacing and tuple(args.spacing))
    except (ValueError, FileNotFoundError) as e:  # DicomSeriesError is a ValueError
        raise SystemExit(f'error: {e}')
    t_read = time.perf_counter() - t_start
    slices = parse_slices(args.slices, volume.num_slices)
    md = volume.metadata
    print(f'{volume}: series {md.get("series_uid") or "-"} ({md.get("series_description") or "no description"}), '
          f'{len(slices)} slices to run')
    from mmengine.utils import ProgressBar

    from mmdet3dctx.inference import CTStudyDetector, write_study_outputs
    from mmdet3dctx.apis import read_config
    cfg = read_config(config, args.cfg_options)
    detector = CTStudyDetector(cfg, checkpoint, device=args.device, score_thr=args.score_thr,
                               batch_size=args.batch, link_iou=args.link_iou)
    bar = ProgressBar(len(slices))
    t0 = time.perf_counter()
    findings = detector(volume, slices, progress=lambda n: [bar.update() for _ in range(n)])
    t_detect = time.perf_counter() - t0
    print()
    t0 = time.perf_counter()
    files = write_study_outputs(findings, volume, out_dir, overwrite=args.overwrite,
                                detector_name=osp.splitext(osp.basename(config))[0],
                                extra=dict(config=config, checkpoint=checkpoint, score_thr=args.score_thr,
                                           slices_run=[slices[0], slices[-1]]))
    t_write = time.perf_counter() - t0
    total = time.perf_counter() - t_start
    print(f'{len(findings)} finding(s) in {total:.1f} s for the study (read {t_read:.1f} s, detect {t_detect:.1f} s, '
          f'write {t_write:.1f} s): {len(slices) / max(total, 1e-9):.1f} slices/s; written to {out_dir}: '
          + ', '.join(osp.basename(f) for f in files))
    for k, f in enumerate(findings[:10]):
        print(f'  #{k + 1}: score {f.score:.3f}, slices {f.slice_range[0]}-{f.slice_range[1]} (key {f.key_slice}), '
              f'{f.diameters_mm[0]:.1f} x {f.diameters_mm[1]:.1f} mm')
    return findings


if __name__ == '__main__':
    main()
