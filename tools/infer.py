#!/usr/bin/env python
"""Detect lesions in a CT study: DICOM series, NIfTI volume or DeepLesion series folder in; 3D findings,
a CSV and PNG overlays out.

    python tools/infer.py CONFIG CKPT INPUT [--out-dir DIR] [--score-thr 0.5|FROC_JSON:FP] [--slices all|A:B]
                          [--batch 8] [--device cpu]

Every axial slice becomes a model input exactly as in training (slice count, interval normalisation and
window from the config's test pipeline); 2D detections on consecutive slices are linked into 3D candidates.
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='detector config')
    p.add_argument('checkpoint', help='trained weights (a local .pth)')
    p.add_argument('input', help='DICOM series folder, NIfTI file (.nii/.nii.gz) or DeepLesion series folder')
    p.add_argument('--out-dir', default=None, help='where to write findings (default: <input name>_findings)')
    from mmdet3dctx.evaluation.operating_point import resolve_score_threshold
    p.add_argument('--score-thr', type=resolve_score_threshold, default=0.5, help='minimum score of a 2D detection: '
                   'a number, or FROC_JSON:FP for the threshold that gave FP false positives per image there')
    p.add_argument('--slices', default='all', help="'all' or A:B (volume slice indices, B exclusive)")
    p.add_argument('--batch', type=int, default=8, help='slices per forward pass')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    p.add_argument('--format', choices=('auto', 'dicom', 'nifti', 'deeplesion'), default='auto')
    p.add_argument('--series-uid', default=None, help='the series to read from a DICOM folder holding several')
    p.add_argument('--spacing', type=float, nargs=3, metavar=('Z', 'Y', 'X'),
                   help='mm spacing of a DeepLesion series folder (or give --dl-info)')
    p.add_argument('--dl-info', default=None, help='DL_info.csv giving a DeepLesion series its spacing')
    p.add_argument('--link-iou', type=float, default=0.3, help='IoU linking boxes on consecutive slices')
    p.add_argument('--force', action='store_true', help='replace findings already in --out-dir')
    return p.parse_args(argv)


def read_volume(args):
    from mmdet3dctx.io import read_deeplesion_series, read_dicom_series, read_nifti
    path = args.input
    fmt = args.format
    if fmt == 'auto':
        if osp.isfile(path) and (path.endswith('.nii') or path.endswith('.nii.gz')):
            fmt = 'nifti'
        elif osp.isdir(path) and any(n.endswith('.png') and n[:-4].isdigit() for n in os.listdir(path)):
            fmt = 'deeplesion'
        elif osp.isdir(path):
            fmt = 'dicom'
        else:
            raise SystemExit(f'error: {path}: neither a folder nor a .nii/.nii.gz file')
    if fmt == 'nifti':
        return read_nifti(path)
    if fmt == 'deeplesion':
        return read_deeplesion_series(path, spacing=args.spacing and (args.spacing[0], args.spacing[1], args.spacing[2]),
                                      dl_info=args.dl_info)
    return read_dicom_series(path, series_uid=args.series_uid)


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
    from mmengine.utils import ProgressBar

    from mmdet3dctx.inference import CTStudyDetector, write_findings
    try:
        volume = read_volume(args)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f'error: {e}')
    slices = parse_slices(args.slices, volume.num_slices)
    out_dir = args.out_dir or osp.basename(osp.normpath(args.input)).split('.')[0] + '_findings'
    if not args.force and osp.exists(osp.join(out_dir, 'findings.json')):
        raise SystemExit(f'error: {out_dir} already holds findings; choose another --out-dir or pass --force')
    print(f'{volume}: {len(slices)} slices to run')
    detector = CTStudyDetector(args.config, args.checkpoint, device=args.device, score_thr=args.score_thr,
                               batch_size=args.batch, link_iou=args.link_iou)
    bar = ProgressBar(len(slices))
    t0 = time.perf_counter()
    findings = detector(volume, slices, progress=lambda n: [bar.update() for _ in range(n)])
    elapsed = time.perf_counter() - t0
    print()
    write_findings(findings, volume, out_dir, force=args.force)
    print(f'{len(findings)} finding(s) in {elapsed:.1f} s ({len(slices) / max(elapsed, 1e-9):.1f} slices/s), '
          f'written to {out_dir}/findings.json, findings.csv and PNG overlays')
    for k, f in enumerate(findings[:10]):
        print(f'  #{k}: score {f.score:.3f}, slices {f.slice_range[0]}-{f.slice_range[1]} (key {f.key_slice}), '
              f'{f.diameters_mm[0]:.1f} x {f.diameters_mm[1]:.1f} mm')
    return findings


if __name__ == '__main__':
    main()
