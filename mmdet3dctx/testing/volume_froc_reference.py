"""A literal, per-finding implementation of the 3D FROC per volume (LUNA16's protocol), written from its text.

Kept deliberately naive (Python loops over findings, lesions and voxels' coordinates; no vectorisation) as the
yardstick that ``mmdet3dctx.evaluation.volume_froc`` is tested and benchmarked against. It reads the same
per-volume records (see that module's docstring) and returns the figures of ``evaluate_volumes`` that depend on
the protocol: the sensitivities, the CPM, the sub-groups, the operating points and the counts.
"""
import math

import numpy as np

from .froc_reference import interp_loop


def _rows(value, width):
    """A field as a list of rows (``width`` 0: a list of numbers)."""
    if value is None:
        return []
    out = []
    for row in value:
        out.append(float(row) if width == 0 else [float(x) for x in row])
    return out


def label_at_loop(point, lesion_map):
    """The instance label of the voxel nearest to an LPS point, 0 outside the volume, one point at a time."""
    if not hasattr(lesion_map, 'labels'):  # a plain callable
        return int(lesion_map([point])[0])
    inv = [[float(x) for x in row] for row in np.linalg.inv(lesion_map.direction)]
    d = [point[a] - float(lesion_map.origin[a]) for a in range(3)]
    c = [inv[r][0] * d[0] + inv[r][1] * d[1] + inv[r][2] * d[2] for r in range(3)]
    sz, sy, sx = lesion_map.spacing
    j = math.floor(c[0] / sx + 0.5)
    i = math.floor(c[1] / sy + 0.5)
    positions = [float(p) - float(lesion_map.positions[0]) for p in lesion_map.positions]
    num_z, num_h, num_w = lesion_map.labels.shape
    k = None
    for n in range(num_z):
        low = positions[n] - sz / 2 if n == 0 else (positions[n - 1] + positions[n]) / 2
        high = positions[n] + sz / 2 if n == num_z - 1 else (positions[n] + positions[n + 1]) / 2
        if low <= c[2] < high:
            k = n
            break
    if k is None or not (0 <= i < num_h and 0 <= j < num_w):
        return 0
    return int(lesion_map.labels[k, i, j])


def iou_3d_loop(a, b):
    """3D IoU of two boxes ``min x, y, z, max x, y, z``; 0 when the union has no volume."""
    dx = max(min(a[3], b[3]) - max(a[0], b[0]), 0.)
    dy = max(min(a[4], b[4]) - max(a[1], b[1]), 0.)
    dz = max(min(a[5], b[5]) - max(a[2], b[2]), 0.)
    inter = dx * dy * dz
    vol_a = (a[3] - a[0]) * (a[4] - a[1]) * (a[5] - a[2])
    vol_b = (b[3] - b[0]) * (b[4] - b[1]) * (b[5] - b[2])
    union = vol_a + vol_b - inter
    return inter / union if union > 0 else 0.


def _lesions(volume):
    centres = _rows(volume.get('lesion_centres'), 3)
    boxes = _rows(volume.get('lesion_boxes'), 6)
    diameters = _rows(volume.get('lesion_diameters'), 0)
    num = max(len(centres), len(boxes), len(diameters), len(volume.get('lesion_ids') or []))
    ids = [int(x) for x in volume['lesion_ids']] if volume.get('lesion_ids') is not None else \
        list(range(1, num + 1))
    return [dict(centre=centres[n] if centres else None, box=boxes[n] if boxes else None,
                 diameter=diameters[n] if diameters else math.nan, id=ids[n]) for n in range(num)]


def hits_loop(finding, lesion, criterion, iou_thr, label=None):
    """Whether one finding hits one lesion of its volume."""
    if criterion == 'centre':
        d = [finding['centre'][a] - lesion['centre'][a] for a in range(3)]
        radius = lesion['diameter'] / 2.
        return d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < radius * radius
    if criterion == 'centre_in_mask':
        return label == lesion['id']
    return iou_3d_loop(finding['box'], lesion['box']) >= iou_thr


def match_loop(volumes, criterion='centre', iou_thr=0.1):
    """Rank every finding, then walk the ranking one finding at a time.

    Returns:
        tuple: the ranked findings (dicts with ``score``, ``volume``, ``status`` in ``'tp'``, ``'fp'``,
        ``'duplicate'`` and ``hit`` the lesion keys it hits) and the list of lesions (dicts with ``key``
        ``(volume, n)``, ``diameter``).
    """
    findings, lesions = [], []
    per_volume = []
    for v, volume in enumerate(volumes):
        les = _lesions(volume)
        per_volume.append(les)
        for n, lesion in enumerate(les):
            lesions.append(dict(key=(v, n), diameter=lesion['diameter']))
        scores = _rows(volume.get('scores'), 0)
        centres = _rows(volume.get('centres'), 3)
        boxes = _rows(volume.get('boxes'), 6)
        for n, score in enumerate(scores):
            finding = dict(score=score, index=len(findings), volume=v, centre=centres[n],
                           box=boxes[n] if boxes else None)
            if criterion == 'centre_in_mask' and les:
                finding['label'] = label_at_loop(finding['centre'], volume['lesion_map'])
            findings.append(finding)
    # Highest score first; ties: the later finding in input order first.
    findings.sort(key=lambda f: (f['score'], f['index']), reverse=True)
    detected = set()
    for finding in findings:
        hit = [(finding['volume'], n) for n, lesion in enumerate(per_volume[finding['volume']])
               if hits_loop(finding, lesion, criterion, iou_thr, finding.get('label'))]
        finding['hit'] = hit
        if not hit:
            finding['status'] = 'fp'
        elif any(key not in detected for key in hit):
            finding['status'] = 'tp'
        else:
            finding['status'] = 'duplicate'
        detected.update(hit)
    return findings, lesions


def curve_loop(findings, counted, num_volumes):
    """(sensitivity, FPs per volume) after each ranked finding, counting only the lesion keys in ``counted``."""
    detected = set()
    num_fps = 0
    sens, fps = [], []
    for finding in findings:
        if finding['status'] == 'fp':
            num_fps += 1
        for key in finding['hit']:
            if key in counted:
                detected.add(key)
        sens.append(len(detected) / len(counted))
        fps.append(num_fps / num_volumes)
    return sens, fps


def operating_points_loop(findings, lesions, num_volumes, fp_levels):
    """Per level, the lowest score threshold whose kept findings make at most that many FPs per volume."""
    thresholds = sorted({f['score'] for f in findings}, reverse=True)
    points = []
    for level in fp_levels:
        best = None
        for t in thresholds:
            kept = [f for f in findings if f['score'] >= t]
            fps = sum(1 for f in kept if f['status'] == 'fp') / num_volumes
            if fps <= level:
                detected = {key for f in kept for key in f['hit']}
                best = dict(fp_level=float(level), score_thr=t, fp_per_volume=fps,
                            sensitivity=len(detected) / len(lesions), num_findings=len(kept))
        points.append(best or dict(fp_level=float(level), score_thr=None, fp_per_volume=None, sensitivity=None,
                                   num_findings=0))
    return points


def evaluate_volumes_loop(volumes, criterion='centre', iou_thr=0.1, fp_levels=(0.125, 0.25, 0.5, 1, 2, 4, 8),
                          diameter_bins=(0, 10, 20, 30, math.inf)):
    """The protocol's figures, computed one finding and one lesion at a time.

    Returns:
        dict: ``sensitivity``, ``cpm``, ``subgroups`` (``{name: {num_lesions, sensitivity, cpm}}``),
        ``operating_points``, ``num_volumes``, ``num_lesions``, ``num_findings``, ``num_detected_lesions``,
        ``num_false_positives``, ``num_duplicate_findings``.
    """
    findings, lesions = match_loop(volumes, criterion, iou_thr)
    num_volumes = len(volumes)
    all_keys = {lesion['key'] for lesion in lesions}
    sens, fps = curve_loop(findings, all_keys, num_volumes)
    table = interp_loop(sens, fps, fp_levels)
    subgroups = {}
    edges = list(diameter_bins or [])
    for low, high in zip(edges, edges[1:]):
        if low <= 0 and high != math.inf:
            name = f'<{high:g}mm'
        elif high == math.inf:
            name = f'>={low:g}mm'
        else:
            name = f'{low:g}-{high:g}mm'
        keys = {lesion['key'] for lesion in lesions if low <= lesion['diameter'] < high}
        if keys:
            s = interp_loop(*curve_loop(findings, keys, num_volumes), fp_levels)
            subgroups[name] = dict(num_lesions=len(keys), sensitivity=s, cpm=sum(s) / len(s))
        else:
            subgroups[name] = dict(num_lesions=0, sensitivity=None, cpm=None)
    return dict(
        sensitivity=table,
        cpm=sum(table) / len(table),
        subgroups=subgroups,
        operating_points=operating_points_loop(findings, lesions, num_volumes, fp_levels),
        num_volumes=num_volumes,
        num_lesions=len(lesions),
        num_findings=len(findings),
        num_detected_lesions=len({key for f in findings for key in f['hit']}),
        num_false_positives=sum(1 for f in findings if f['status'] == 'fp'),
        num_duplicate_findings=sum(1 for f in findings if f['status'] == 'duplicate'),
    )
