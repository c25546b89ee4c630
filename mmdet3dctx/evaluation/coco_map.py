"""Single-class box mAP at IoU 0.5 with pycocotools, the figure MMDetection's ``CocoMetric`` reports."""
import contextlib
import io
from typing import Sequence

import numpy as np


def box_map50(dets: Sequence[np.ndarray], gts: Sequence[np.ndarray], max_dets: int = 100) -> float:
    """COCO-style average precision at IoU 0.5 for one class ("lesion"), area range "all".

    Computed by ``pycocotools.cocoeval.COCOeval`` exactly as ``CocoMetric``'s ``bbox_mAP_50``: boxes in
    continuous coordinates (``w = x2 - x1``), at most ``max_dets`` detections per image, 101-point interpolated
    precision. Images without lesions count (their detections are false positives).

    Args:
        dets (list[np.ndarray]): One ``(N_i, 5)`` array ``[x1, y1, x2, y2, score]`` per image.
        gts (list[np.ndarray]): One ``(M_i, 4)`` array ``[x1, y1, x2, y2]`` per image.
        max_dets (int): Detections kept per image, highest scores first. Defaults to 100 (COCO's).

    Returns:
        float: AP@0.5 in [0, 1]; 0 if there is no detection.

    Raises:
        ValueError: If there is no lesion (AP undefined).
        ImportError: If pycocotools is not installed.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, results = [], [], []
    for img_id, (det, gt) in enumerate(zip(dets, gts), start=1):
        images.append(dict(id=img_id, width=1, height=1))
        for box in np.asarray(gt, dtype=np.float64).reshape(-1, 4):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=1, iscrowd=0, area=w * h,
                             bbox=[float(box[0]), float(box[1]), w, h]))
        for box in np.asarray(det, dtype=np.float64).reshape(-1, 5):
            results.append(dict(image_id=img_id, category_id=1, score=float(box[4]),
                                bbox=[float(box[0]), float(box[1]), float(box[2] - box[0]),
                                      float(box[3] - box[1])]))
    if not anns:
        raise ValueError('mAP: there are no lesions, so average precision is undefined')
    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco_gt = COCO()
        coco_gt.dataset = dict(info={}, images=images, annotations=anns,
                               categories=[dict(id=1, name='lesion')])
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        coco_eval = COCOeval(coco_gt, coco_dt, iouType='bbox')
        coco_eval.params.iouThrs = np.array([0.5])
        coco_eval.params.maxDets = [max_dets]
        coco_eval.params.areaRng = [[0, 1e10]]
        coco_eval.params.areaRngLbl = ['all']
        coco_eval.evaluate()
        coco_eval.accumulate()
    # precision: [T, R, K, A, M] = [IoU thresholds, recall points, classes, areas, maxDets]
    precision = coco_eval.eval['precision'][0, :, 0, 0, 0]
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else 0.0
