"""The README's main job end to end: `make demo` (tools/demo.py) trains the A3D demo detector on the synthetic
DeepLesion tree, tests it and must reach the demo target; the trained model then finds lesions planted in CT
volumes it has never seen, through tools/infer.py's detector with 3D linking."""
import math
import os.path as osp

import numpy as np
import pytest

pytest.importorskip('mmdet')
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'a3d_7slice_synthetic.py')


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory, load_tool):
    demo = load_tool('demo')
    work = str(tmp_path_factory.mktemp('demo'))
    reports = demo.main(['--work-dir', work])
    return work, reports


@pytest.mark.slow
def test_demo_reaches_target(demo_run, load_tool):
    demo = load_tool('demo')
    from mmdet3dctx.evaluation.deeplesion_eval import headline
    _, reports = demo_run
    (report, ) = reports.values()
    assert report['num_images'] > 0 and report['num_lesions'] > 0
    assert headline(report) >= demo.TARGET


def _ellipse_box(cx, cy, a, b, theta):
    hw = math.sqrt((a * math.cos(theta))**2 + (b * math.sin(theta))**2)
    hh = math.sqrt((a * math.sin(theta))**2 + (b * math.cos(theta))**2)
    return np.array([cx - hw, cy - hh, cx + hw, cy + hh])


@pytest.mark.slow
def test_trained_demo_finds_planted_lesions(demo_run):
    import glob
    from mmdet3dctx.testing import synthesize_patient
    from mmdet3dctx.inference import CTStudyDetector, box_iou
    from mmdet3dctx.io import CTVolume
    from mmdet3dctx.apis import read_config
    work, _ = demo_run
    # the demo tree's appearance (CT noise, contrast), so the planted lesions look like the ones it learnt
    synthetic = read_config(CONFIG).get('synthetic', {})
    appearance = {k: synthetic[k] for k in ('noise_hu', 'noise_ref_mm', 'noise_blur_px', 'contrast_scale')
                  if k in synthetic}
    ckpt = sorted(glob.glob(osp.join(work, 'epoch_*.pth')), key=osp.getmtime)[-1]
    detector = CTStudyDetector(CONFIG, ckpt, score_thr=0.5)
    found = total = 0
    for patient in range(1, 4):  # unseen volumes: another seed than the demo tree's
        for series in synthesize_patient(patient, seed=2024, split=3, image_size=128, **appearance):
            hu = np.stack([series.render(i) for i in range(series.first, series.last + 1)]).astype(np.float32)
            volume = CTVolume(hu=hu, spacing=(series.interval, series.spacing, series.spacing),
                              positions=np.arange(hu.shape[0]) * series.interval, metadata=dict(source='synthetic'))
            findings = detector(volume)
            for lesion in series.lesions:
                total += 1
                z = lesion.key_slice - series.first
                # the lesion's extent padded by 5 px, as DeepLesion's (and the synthetic tree's) boxes are
                box = _ellipse_box(lesion.cx, lesion.cy, lesion.a, lesion.b, lesion.theta) + np.array([-5, -5, 5, 5])
                hit = any(f.slice_range[0] <= z <= f.slice_range[1] and
                          box_iou(f.boxes[f.slices.index(z)][None], box[None])[0, 0] >= 0.3
                          for f in findings if z in f.slices)
                found += hit
    assert total >= 3
    assert found / total >= 0.6, f'{found} of {total} planted lesions found'
