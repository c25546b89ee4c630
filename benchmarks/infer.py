"""End-to-end inference speed: slices per second of tools/infer.py's detector on a synthetic 200-slice 512x512
CT study written as DICOM, reading included.

Usage: python benchmarks/infer.py [--config configs/demo/a3d_7slice_synthetic.py] [--checkpoint CKPT]
                                  [--slices 200] [--size 512] [--batch 8]
Without a checkpoint the model is randomly initialised: the speed is the same, the findings are meaningless.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import numpy as np

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..')
sys.path.insert(0, ROOT)


def write_study(folder, num_slices, size, interval=2.5):
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid
    rng = np.random.default_rng(0)
    template = pydicom.dcmread(get_testdata_file('CT_small.dcm'))
    uid = generate_uid()
    yy, xx = np.mgrid[:size, :size]
    body = ((xx - size / 2) / (0.45 * size)) ** 2 + ((yy - size / 2) / (0.35 * size)) ** 2 <= 1
    for z in range(num_slices):
        hu = np.where(body, 40.0, -1000.0) + rng.normal(0, 15, (size, size))
        ds = template.copy()
        stored = np.round(hu + 1024).astype(np.int16)
        ds.Rows, ds.Columns = stored.shape
        ds.PixelData = stored.tobytes()
        ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, generate_uid()
        ds.ImagePositionPatient = [0.0, 0.0, z * interval]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.save_as(osp.join(folder, f'{z:04d}.dcm'))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py'))
    p.add_argument('--checkpoint', default=None)
    p.add_argument('--slices', type=int, default=200)
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--batch', type=int, default=8)
    args = p.parse_args()
    from mmdet3dctx.inference import CTStudyDetector
    from mmdet3dctx.io import read_dicom_series
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_study(tmp, args.slices, args.size)
        t_write = time.perf_counter() - t0
        detector = CTStudyDetector(args.config, args.checkpoint, score_thr=0.5, batch_size=args.batch)
        t0 = time.perf_counter()
        volume = read_dicom_series(tmp)
        t_read = time.perf_counter() - t0
        findings = detector(volume)
        t_total = time.perf_counter() - t0
    print(f'{args.slices} slices of {args.size}x{args.size} ({osp.basename(args.config)}, batch {args.batch}): '
          f'read {t_read:.1f} s, read+detect+link {t_total:.1f} s -> {args.slices / t_total:.2f} slices/s end to end '
          f'({len(findings)} findings; writing the study took {t_write:.1f} s, not counted)')


if __name__ == '__main__':
    main()
