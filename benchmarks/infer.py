"""End-to-end inference speed on a synthetic CT study written as DICOM: slices per second of what
``tools/infer.py`` does (reading the study, building the inputs, the model, 3D linking, writing every result
file) and each stage's share of the total, side by side in one run.

Usage: python benchmarks/infer.py [--config configs/demo/a3d_7slice_synthetic.py] [--checkpoint CKPT]
                                  [--slices 200] [--size 512] [--batch 8] [--device cpu] [--score-thr 0.5]
Without a checkpoint the model is randomly initialised (seeded): reading, inputs and the model cost the same, and
the outputs are timed for the study's three planted lesions, as a detector that finds them would write them (the
random weights' own findings — boxes repeated on every slice, linked through the whole study — are no load a
trained model gives); with --checkpoint, for the model's own findings.
The outputs must not cost more than 10% of the total; the last line says whether they do.
"""
import argparse
import os.path as osp
import tempfile
import time

import numpy as np

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..')

#: the largest share of the end-to-end time the result files may take
OUTPUT_SHARE_LIMIT = 0.10


def synthetic_study(folder: str, num_slices: int, size: int, interval: float = 1.25) -> list:
    """An elliptic body of soft tissue (40 HU, 15 HU noise) in air with three spherical lesions, as DICOM.

    Returns:
        list: per slice, the ``(K, H, W)`` masks of the lesions it cuts (the findings a good detector reports).
    """
    from mmdet3dctx.io import write_ct_series
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    body = ((xx - size / 2) / (0.45 * size)) ** 2 + ((yy - size / 2) / (0.35 * size)) ** 2 <= 1
    lesions = [(num_slices * f, size * cx, size * cy, size * r) for f, cx, cy, r in
               ((0.3, 0.4, 0.45, 0.03), (0.55, 0.6, 0.55, 0.02), (0.8, 0.5, 0.4, 0.04))]
    hu = np.empty((num_slices, size, size), np.float32)
    truth = []
    for z in range(num_slices):
        s = np.where(body, 40.0, -1000.0) + rng.normal(0, 15, (size, size))
        masks = []
        for lz, cx, cy, r in lesions:
            rz = r * 0.6 / interval  # voxels are 0.6 mm in plane
            d2 = ((xx - cx) / r) ** 2 + ((yy - cy) / r) ** 2 + ((z - lz) / max(rz, 1e-6)) ** 2
            if np.any(d2 <= 1):
                s[d2 <= 1] += 80.0
                masks.append(d2 <= 1)
        hu[z] = s
        truth.append(np.stack(masks) if masks else np.zeros((0, size, size), bool))
    write_ct_series(folder, hu, np.arange(num_slices) * interval, description='benchmark study')
    return truth


def planted_findings(truth: list, volume):
    """The planted lesions as a detector that finds them would report them (boxes and masks, linked in 3D)."""
    from mmdet3dctx.inference import link_detections
    boxes, scores = [], []
    for masks in truth:
        b = []
        for m in masks:
            ys, xs = np.nonzero(m)
            b.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        boxes.append(np.array(b, np.float64).reshape(-1, 4))
        scores.append(np.full(len(b), 0.9))
    return link_detections(list(range(volume.num_slices)), boxes, scores, truth, positions=volume.positions,
                           pixel_spacing=volume.spacing[1:], slice_interval=volume.slice_interval,
                           run_ids=volume.run_ids(), iou_thr=0.1)  # a sphere's caps overlap its middle little


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py'))
    p.add_argument('--checkpoint', default=None)
    p.add_argument('--slices', type=int, default=200)
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--device', default='cpu')
    p.add_argument('--score-thr', type=float, default=0.5)
    args = p.parse_args(argv)
    from mmdet3dctx.inference import CTStudyDetector, link_detections, write_study_outputs
    from mmdet3dctx.io import read_dicom_series
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        truth = synthetic_study(osp.join(tmp, 'study'), args.slices, args.size)
        t_make = time.perf_counter() - t0
        import torch
        torch.manual_seed(0)  # the same random weights (and findings) from run to run without a checkpoint
        detector = CTStudyDetector(args.config, args.checkpoint, device=args.device, score_thr=args.score_thr,
                                   batch_size=args.batch)
        # warm-up: allocations and kernels of the model; imports and DICOM dictionaries of the writers, paid once
        # per process (a service writing many studies pays them once)
        warm = read_dicom_series(osp.join(tmp, 'study'))
        detector(warm, [0, 1])
        mask = np.zeros((1, ) + warm.hu.shape[1:], bool)
        mask[0, 10:20, 10:20] = True
        t0 = time.perf_counter()
        write_study_outputs(link_detections([0], [np.array([[10.0, 10, 20, 20]])], [np.array([0.9])], [mask]), warm,
                            osp.join(tmp, 'warm'), detector_name='benchmark')
        t_once = time.perf_counter() - t0
        del warm
        t0 = time.perf_counter()
        volume = read_dicom_series(osp.join(tmp, 'study'))
        t_read = time.perf_counter() - t0
        findings = detector(volume)
        written = findings if args.checkpoint else planted_findings(truth, volume)
        t0 = time.perf_counter()
        per_file = {}
        write_study_outputs(written, volume, osp.join(tmp, 'out'), detector_name='benchmark', timings=per_file)
        t_write = time.perf_counter() - t0
    stages = dict(read=t_read, inputs=detector.timings['inputs'], model=detector.timings['model'],
                  linking=detector.timings['linking'], outputs=t_write)
    total = t_read + sum(detector.timings.values()) + t_write
    print(f'{args.slices} slices of {args.size}x{args.size} ({osp.basename(args.config)}, batch {args.batch}, '
          f'{args.device}, score >= {args.score_thr}: {len(findings)} findings); not counted: writing the study '
          f'{t_make:.1f} s, the writers\' one-off start (imports, DICOM dictionaries) {t_once:.1f} s')
    if not args.checkpoint:
        print(f'random weights: the outputs are timed for the {len(written)} planted lesions (what a detector that '
              'finds them writes), not for the random findings; pass --checkpoint to time a model\'s own')
    print(f'{"stage":<10}{"seconds":>10}{"share":>9}')
    for name, sec in stages.items():
        print(f'{name:<10}{sec:>10.2f}{100 * sec / total:>8.1f}%')
    print(f'{"total":<10}{total:>10.2f}{100.0:>8.1f}%   {args.slices / total:.2f} slices/s end to end')
    print('outputs: ' + ', '.join(f'{k} {v:.2f} s' for k, v in per_file.items()))
    share = t_write / total
    print(f'outputs/total = {share:.3f} ({"within" if share <= OUTPUT_SHARE_LIMIT else "OVER"} the '
          f'{OUTPUT_SHARE_LIMIT:.0%} limit)')
    return dict(stages=stages, total=total, output_share=share, findings=len(findings), written=len(written))


if __name__ == '__main__':
    main()
