"""A literal, per-detection implementation of the DeepLesion FROC protocol, written from its text.

Kept deliberately naive (Python loops, no vectorisation) as the yardstick the fast implementation in
``mmdet3dctx.evaluation.froc`` is tested and benchmarked against, and DeepLesion-like cases to run both on
(:func:`synthetic_case`).
"""
import numpy as np


def overlap(det, gt, criterion='iou', plus_one=True):
    """Overlap of two boxes ``x1, y1, x2, y2`` (IoU or intersection over the detected box)."""
    one = 1. if plus_one else 0.
    iw = max(min(gt[2], det[2]) - max(gt[0], det[0]) + one, 0.)
    ih = max(min(gt[3], det[3]) - max(gt[1], det[1]) + one, 0.)
    inters = iw * ih
    det_area = (det[2] - det[0] + one) * (det[3] - det[1] + one)
    if criterion == 'iobb':
        denom = det_area
    else:
        denom = det_area + (gt[2] - gt[0] + one) * (gt[3] - gt[1] + one) - inters
    return inters / denom if denom > 0 else 0.


def froc_curve_loop(dets, gts, iou_thr=0.5, criterion='iou', plus_one=True, lesion_mask=None):
    """Walk the ranked detections one by one and record (sensitivity, FPs per image) after each."""
    ranked = []
    for img, image_dets in enumerate(dets):
        for det in image_dets:
            ranked.append((float(det[4]), len(ranked), img, [float(v) for v in det[:4]]))
    # Highest score first; ties: the later detection in input order first.
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    hit = [[False] * len(g) for g in gts]
    counted = [[True] * len(g) for g in gts] if lesion_mask is None else [list(m) for m in lesion_mask]
    num_counted = sum(sum(c) for c in counted)
    num_hits = 0
    num_fps = 0
    sens, fp_per_image = [], []
    for _, _, img, box in ranked:
        ovs = [overlap(box, [float(v) for v in g], criterion, plus_one) for g in gts[img]]
        if len(ovs) == 0 or max(ovs) < iou_thr:
            num_fps += 1
        else:
            for j, ov in enumerate(ovs):
                if ov >= iou_thr and not hit[img][j]:
                    hit[img][j] = True
                    if counted[img][j]:
                        num_hits += 1
        sens.append(num_hits / num_counted)
        fp_per_image.append(num_fps / len(dets))
    return sens, fp_per_image


def interp_loop(sens, fp_per_image, fp_levels):
    """Sensitivity at each level: linear between the last point with FP <= f and the next; flat outside."""
    out = []
    for f in fp_levels:
        f = float(f)
        if len(sens) == 0:
            out.append(0.)
        elif f >= fp_per_image[-1]:
            out.append(sens[-1])
        elif f < fp_per_image[0]:
            out.append(sens[0])
        else:
            j = max(i for i in range(len(sens)) if fp_per_image[i] <= f)
            if fp_per_image[j] == f:
                out.append(sens[j])
            else:
                slope = (sens[j + 1] - sens[j]) / (fp_per_image[j + 1] - fp_per_image[j])
                out.append(slope * (f - fp_per_image[j]) + sens[j])
    return out


def synthetic_case(num_images, dets_per_image=15, seed=0):
    """DeepLesion-like detections and lesions: 1-3 lesions per 512x512 image, jittered hits plus random boxes.

    Returns:
        tuple[list, list]: per image, detections ``(K, 5)`` (box, float32 score) and lesions ``(M, 4)``.
    """
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(num_images):
        m = int(rng.integers(1, 4))
        c = rng.uniform(40, 470, size=(m, 2))
        s = rng.uniform(4, 40, size=(m, 2))
        gt = np.round(np.concatenate([c - s, c + s], axis=1))
        k = dets_per_image - m
        rand = rng.uniform(0, 480, size=(k, 2))
        boxes = np.concatenate([gt + rng.normal(0, 3, size=gt.shape),
                                np.concatenate([rand, rand + rng.uniform(8, 60, size=(k, 2))], axis=1)])
        # A detector of middling quality: boxes near lesions tend to score higher than the others.
        score = np.concatenate([rng.uniform(0.2, 1, m), rng.uniform(0, 0.8, k)])[:, None].astype(np.float32)
        dets.append(np.concatenate([boxes, score], axis=1))
        gts.append(gt)
    return dets, gts
