"""Small prepared volume datasets and ``findings.json`` files, for the tests of the 3D evaluation.

:func:`write_volume_index` writes the layout that ``tools/prepare_volumes.py`` writes (``volumes.json``, the
``cache/<case_id>.npy`` HU arrays and the ``cache/<case_id>_lesions.npy`` instance maps) from lesion maps given in
code, computing every lesion's entry (boxes in voxels and LPS mm, centroid, sphere-equivalent diameter, volume,
key slice, per-slice 2D boxes) as that layout defines them. :func:`write_findings_json` writes a detector's
findings in the format of ``tools/infer.py``'s ``findings.json``.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np


def voxel_to_lps(k, i, j, spacing, positions, origin, direction) -> np.ndarray:
    """LPS mm ``(N, 3)`` of voxel coordinates (``k`` a slice index, or a fractional one between positions)."""
    k, i, j = (np.atleast_1d(np.asarray(v, np.float64)) for v in (k, i, j))
    positions = np.asarray(positions, np.float64)
    z = np.interp(k, np.arange(len(positions)), positions) - positions[0]
    d = np.asarray(direction, np.float64)
    return (np.asarray(origin, np.float64)[None] + (j * spacing[2])[:, None] * d[:, 0][None]
            + (i * spacing[1])[:, None] * d[:, 1][None] + z[:, None] * d[:, 2][None])


def sphere_lesion_map(shape: Sequence[int], spacing: Sequence[float], centres_kij: Sequence[Sequence[float]],
                      diameters_mm: Sequence[float]) -> np.ndarray:
    """``(Z, H, W)`` uint16 map of voxelised spheres (lesion ``n`` = value ``n``, 1-based; later ones on top).

    Args:
        shape (Sequence[int]): ``(Z, H, W)``.
        spacing (Sequence[float]): ``(z, y, x)`` mm, evenly spaced slices.
        centres_kij (Sequence[Sequence[float]]): Sphere centres in voxel coordinates ``(k, i, j)``.
        diameters_mm (Sequence[float]): Sphere diameters in mm.
    """
    kk, ii, jj = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing='ij')
    out = np.zeros(shape, np.uint16)
    for n, ((k, i, j), d) in enumerate(zip(centres_kij, diameters_mm)):
        dist2 = ((kk - k) * spacing[0]) ** 2 + ((ii - i) * spacing[1]) ** 2 + ((jj - j) * spacing[2]) ** 2
        out[dist2 <= (d / 2.) ** 2] = n + 1
    return out


def lesion_entries(lesion_map: np.ndarray, spacing: Sequence[float], positions: Sequence[float],
                   origin: Sequence[float], direction, label: int = 1, label_name: str = 'lesion',
                   diameters: Optional[Dict[int, float]] = None) -> List[dict]:
    """The index entry of every lesion in an instance map (see the module docstring for the layout).

    Args:
        lesion_map (np.ndarray): ``(Z, H, W)`` instance map, 0 background.
        spacing (Sequence[float]): ``(z, y, x)`` mm.
        positions (Sequence[float]): ``(Z,)`` slice positions, mm.
        origin (Sequence[float]): LPS mm of voxel ``(0, 0, 0)``.
        direction (array-like): ``(3, 3)`` columns the W, H, Z axes in LPS.
        label (int): Source label value of the lesions. Defaults to 1.
        label_name (str): Its name. Defaults to ``'lesion'``.
        diameters (dict[int, float], optional): Given diameters by lesion id (sphere tables); the others are
            sphere-equivalent. Defaults to None.
    """
    positions = np.asarray(positions, np.float64)
    entries = []
    for lesion_id in [int(v) for v in np.unique(lesion_map) if v > 0]:
        k, i, j = np.nonzero(lesion_map == lesion_id)
        k0, i0, j0, k1, i1, j1 = int(k.min()), int(i.min()), int(j.min()), int(k.max()) + 1, int(i.max()) + 1, \
            int(j.max()) + 1
        centre = voxel_to_lps(k, i, j, spacing, positions, origin, direction).mean(axis=0)
        zs = [positions[k0] - positions[0] - spacing[0] / 2, positions[k1 - 1] - positions[0] + spacing[0] / 2]
        corners = []
        for z in zs:
            for r in (i0 - 0.5, i1 - 0.5):
                for c in (j0 - 0.5, j1 - 0.5):
                    corners.append(np.asarray(origin, np.float64) + c * spacing[2] * np.asarray(direction)[:, 0]
                                   + r * spacing[1] * np.asarray(direction)[:, 1] + z * np.asarray(direction)[:, 2])
        corners = np.array(corners)
        volume = float(k.shape[0] * spacing[0] * spacing[1] * spacing[2])
        areas = np.bincount(k - k0, minlength=k1 - k0)
        slices = {}
        for z in range(k0, k1):
            rows, cols = np.nonzero(lesion_map[z] == lesion_id)
            if rows.size:
                slices[str(z)] = [int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1]
        diameter = (diameters or {}).get(lesion_id, (6. * volume / math.pi) ** (1. / 3.))
        entries.append(dict(
            lesion_id=lesion_id, label=label, label_name=label_name,
            box_voxels=[k0, i0, j0, k1, i1, j1],
            box_lps_mm=dict(min=corners.min(0).tolist(), max=corners.max(0).tolist()),
            centre_lps_mm=centre.tolist(), diameter_mm=float(diameter), volume_mm3=volume,
            key_slice=int(k0 + np.argmax(areas)), slices=slices))
    return entries


def write_volume_index(root: str, cases: Sequence[dict], source: Optional[dict] = None,
                       split: Optional[dict] = None, negative_ratio: float = 0.5) -> str:
    """Write a prepared volume dataset: ``root/volumes.json`` and ``root/cache/``.

    Args:
        root (str): Folder to write (created).
        cases (Sequence[dict]): Per case ``case_id``, ``lesion_map`` ``(Z, H, W)`` instance map and optionally
            ``split`` (default ``'test'``), ``patient_id``, ``hu`` (default -1000 everywhere), ``spacing``
            ``(z, y, x)`` (default 1 mm), ``positions`` (default ``k · spacing[0]``), ``origin`` (default zeros),
            ``direction`` (default identity), ``diameters`` (given diameters by lesion id), ``label``,
            ``label_name``, ``image``.
        source (dict, optional): The index's ``source``. Defaults to a ``boxes`` source.
        split (dict, optional): The index's ``split``. Defaults to ``{"method": "file"}``.
        negative_ratio (float): Recorded in the index. Defaults to 0.5.

    Returns:
        str: The path of ``volumes.json``.
    """
    os.makedirs(osp.join(root, 'cache'), exist_ok=True)
    out = []
    for case in cases:
        cid = case['case_id']
        labels = np.asarray(case['lesion_map']).astype(np.uint16)
        shape = labels.shape
        spacing = [float(s) for s in case.get('spacing', (1., 1., 1.))]
        positions = np.asarray(case['positions'], np.float64) if case.get('positions') is not None else \
            np.arange(shape[0], dtype=np.float64) * spacing[0]
        origin = [float(v) for v in case.get('origin', (0., 0., 0.))]
        direction = np.asarray(case.get('direction', np.eye(3)), np.float64)
        hu = case.get('hu')
        hu = np.full(shape, -1000, np.int16) if hu is None else np.asarray(hu).astype(np.int16)
        np.save(osp.join(root, 'cache', f'{cid}.npy'), hu)
        np.save(osp.join(root, 'cache', f'{cid}_lesions.npy'), labels)
        lesions = lesion_entries(labels, spacing, positions, origin, direction, case.get('label', 1),
                                 case.get('label_name', 'lesion'), case.get('diameters'))
        lesion_slices = {int(k) for les in lesions for k in les['slices']}
        out.append(dict(
            case_id=cid, patient_id=case.get('patient_id', cid), split=case.get('split', 'test'),
            image=case.get('image', f'images/{cid}.nii.gz'),
            cache=f'cache/{cid}.npy', lesion_map=f'cache/{cid}_lesions.npy', shape=list(shape),
            spacing=spacing, positions=positions.tolist(), origin=origin, direction=direction.tolist(),
            lesions=lesions, negative_slices=[k for k in range(shape[0]) if k not in lesion_slices]))
    index = dict(format='mmdet3dctx-volumes', version=1,
                 source=source or dict(format='boxes', path='annotations.csv', lesion_labels=[1]),
                 split=split or dict(method='file'), negative_ratio=negative_ratio, cases=out)
    path = osp.join(root, 'volumes.json')
    with open(path, 'w') as f:
        json.dump(index, f, indent=1)
    return path


def write_findings_json(path: str, findings: Sequence[dict], study: Optional[dict] = None) -> str:
    """Write findings in the layout of ``tools/infer.py``'s ``findings.json`` (the folder is created).

    Args:
        path (str): File to write.
        findings (Sequence[dict]): Per finding ``score``, ``centre`` (LPS mm) and ``box`` (``min xyz, max xyz``,
            LPS mm); extra keys are written as they are.
        study (dict, optional): The ``study`` record. Defaults to ``{}``.

    Returns:
        str: ``path``.
    """
    records = []
    for n, f in enumerate(findings):
        rec = dict(id=n + 1, score=float(f['score']), centre_lps_mm=[float(v) for v in f['centre']],
                   extent_lps_mm=dict(min=[float(v) for v in f['box'][:3]], max=[float(v) for v in f['box'][3:]]))
        rec.update({k: v for k, v in f.items() if k not in ('score', 'centre', 'box')})
        records.append(rec)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as fh:
        json.dump(dict(study=study or {}, num_findings=len(records), findings=records), fh, indent=1)
    return path


__all__ = ['voxel_to_lps', 'sphere_lesion_map', 'lesion_entries', 'write_volume_index', 'write_findings_json']
