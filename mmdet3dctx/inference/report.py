"""Writing 3D lesion findings: JSON, CSV and PNG overlays of each finding's key slice."""
import csv
import json
import os
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from mmdet3dctx.io import CTVolume
from .lesion_linking import LesionFinding

OUTPUT_FILES = ('findings.json', 'findings.csv')


def render_overlay(volume: CTVolume, finding: LesionFinding, window: Tuple[float, float] = (-160, 240)) -> np.ndarray:
    """The finding's key slice in a CT window (default soft tissue, W 400 / L 40) with its box and score."""
    hu = volume.hu[finding.key_slice]
    lo, hi = window
    grey = (np.clip((hu - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    x1, y1, x2, y2 = [int(round(v)) for v in finding.box]
    cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 255), 1)
    cv2.putText(img, f'{finding.score:.2f}', (x1, max(y1 - 3, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1,
                cv2.LINE_AA)
    return img


def write_findings(findings: Sequence[LesionFinding], volume: CTVolume, out_dir: str, force: bool = False,
                   window: Tuple[float, float] = (-160, 240)) -> List[str]:
    """Write ``findings.json`` (study info + every finding), ``findings.csv`` (one row per finding) and
    ``finding_<k>_slice_<z>.png`` overlays to ``out_dir``; refuses to replace existing outputs unless ``force``.

    Returns:
        list[str]: the files written.
    """
    os.makedirs(out_dir, exist_ok=True)
    existing = [f for f in OUTPUT_FILES if osp.exists(osp.join(out_dir, f))]
    if existing and not force:
        raise FileExistsError(f'{out_dir} already holds {existing}; choose another --out-dir or pass --force')
    study = dict(source=volume.metadata.get('source'), shape=list(volume.hu.shape),
                 spacing_mm=list(volume.spacing), series_uid=volume.metadata.get('series_uid'),
                 input=volume.metadata.get('directory') or volume.metadata.get('path'))
    written = []
    items = []
    for k, f in enumerate(findings):
        d = f.to_dict()
        d['id'] = k
        d['key_slice_position_mm'] = float(volume.positions[f.key_slice])
        png = f'finding_{k:03d}_slice_{f.key_slice:04d}.png'
        cv2.imwrite(osp.join(out_dir, png), render_overlay(volume, f, window))
        d['overlay'] = png
        written.append(osp.join(out_dir, png))
        items.append(d)
    with open(osp.join(out_dir, 'findings.json'), 'w') as fh:
        json.dump(dict(study=study, num_findings=len(items), findings=items), fh, indent=2)
    with open(osp.join(out_dir, 'findings.csv'), 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['id', 'score', 'key_slice', 'first_slice', 'last_slice', 'x1', 'y1', 'x2', 'y2',
                    'long_diameter_mm', 'short_diameter_mm', 'extent_mm', 'overlay'])
        for d in items:
            w.writerow([d['id'], d['score'], d['key_slice'], *d['slice_range'], *d['box'], d['long_diameter_mm'],
                        d['short_diameter_mm'], d['extent_mm'], d['overlay']])
    return [osp.join(out_dir, f) for f in OUTPUT_FILES] + written
