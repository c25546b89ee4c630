"""Small prepared volume datasets and ``findings.json`` files, for the tests of the 3D evaluation.

:func:`write_volume_index` writes the layout that ``tools/prepare_volumes.py`` writes (``volumes.json``, the
``cache/<case_id>.npy`` HU arrays and the ``cache/<case_id>_lesions.npy`` instance maps) from lesion maps given in
code, every lesion's entry measured by the preparation's own
:func:`~mmdet3dctx.datasets.volume_index.lesion_records`. :func:`write_findings_json` writes a detector's
findings in the format of ``tools/infer.py``'s ``findings.json``. :func:`random_volume_records` makes random input
records for ``mmdet3dctx.evaluation.volume_froc`` (tests against the reference loop, the benchmark).
"""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.datasets.volume_index import lesion_records
from mmdet3dctx.io import CTVolume


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
        volume = CTVolume(hu=hu, spacing=spacing, positions=positions, origin=origin, direction=direction)
        given = case.get('diameters') or {}
        lesions = lesion_records(volume, labels, [
            dict(label=case.get('label', 1), label_name=case.get('label_name', 'lesion'), diameter_mm=given.get(n))
            for n in range(1, int(labels.max()) + 1)])
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


def random_volume_records(seed: int, num: int = 40, max_findings: int = 8, with_maps: bool = False
                          ) -> List[dict]:
    """Random volume records: 0-3 spherical lesions (2-40 mm) and 0-``max_findings`` findings per volume, about half
    of them near a lesion, scores rounded to hundredths so that ties occur.

    Args:
        seed (int): NumPy seed.
        num (int): Number of volumes. Defaults to 40.
        max_findings (int): Most findings in a volume. Defaults to 8.
        with_maps (bool): Give each volume a ``(12, 16, 16)`` lesion map of its spheres (2.5 x 1.5 x 1.5 mm voxels,
            origin 0, identity direction) as a ``LesionMap``. Defaults to False.

    Returns:
        list[dict]: Records with ``case_id``, ``scores``, ``centres``, ``boxes``, ``lesion_centres``,
        ``lesion_boxes``, ``lesion_diameters`` (and ``lesion_map``).
    """
    from mmdet3dctx.evaluation.volume_froc import LesionMap, volume_record
    rng = np.random.default_rng(seed)
    shape, spacing = (12, 16, 16), (2.5, 1.5, 1.5)
    if with_maps:
        grid_k, grid_i, grid_j = np.meshgrid(*[np.arange(n) for n in shape], indexing='ij')
    vols = []
    for v in range(num):
        nl, nf = int(rng.integers(0, 4)), int(rng.integers(0, max_findings + 1))
        lc = rng.uniform(0, 22, (nl, 3))
        ld = rng.uniform(2, 40, nl)
        lb = np.concatenate([lc - ld[:, None] / 2, lc + ld[:, None] / 2], axis=1)
        near = (rng.random(nf) < 0.5) & (nl > 0)
        src = rng.integers(0, max(nl, 1), nf)
        fc = rng.uniform(-2, 24, (nf, 3))
        if nl:
            fc[near] = lc[src[near]] + rng.normal(0, 4, (int(near.sum()), 3))
        fs = rng.uniform(2, 30, (nf, 3))
        fb = np.concatenate([fc - fs / 2, fc + fs / 2], axis=1)
        rec = volume_record(np.round(rng.random(nf), 2), fc, fb, lc, lb, ld, case_id=f'v{v}')
        if with_maps:
            labels = np.zeros(shape, np.uint16)
            for n in range(nl):  # x = j * 1.5, y = i * 1.5, z = k * 2.5
                d2 = ((grid_j * 1.5 - lc[n, 0]) ** 2 + (grid_i * 1.5 - lc[n, 1]) ** 2
                      + (grid_k * 2.5 - lc[n, 2]) ** 2)
                labels[d2 <= (ld[n] / 2) ** 2] = n + 1
            rec['lesion_map'] = LesionMap(labels, spacing)
        vols.append(rec)
    return vols


def write_example_evaluation(root: str) -> Tuple[str, str]:
    """A prepared dataset and findings whose 3D FROC is worked out by hand: ``root/prepared``, ``root/findings``.

    Test split: ``p1`` (one cube lesion filling voxels k 2-4, i 5-8, j 5-8 of a (10, 20, 20) volume, 2 x 1 x 1 mm
    voxels, origin (-10, -10, 100): box [-5.5, -5.5, 103] to [-1.5, -1.5, 109], centre (-3.5, -3.5, 106)),
    ``p2`` (an 8 mm sphere from a table, centre (6.4, 6.4, 8), box [2, 2, 3] to [10.8, 10.8, 13], 2 x 0.8 x 0.8 mm),
    ``p3`` (lesion-free); train split: ``t1``. Findings (``p1/findings.json``, ``p2.json``, ``p3/findings.json``):
    p1 .9 on its lesion (centre and box), .4 far; p2 .5 on its lesion, .3 a duplicate 3.5 mm off (within the
    radius, in the mask, box IoU 313.6 / 972.8); p3 .7 (a FP). By every criterion the ranking is .9 TP
    (sensitivity 1/2, FPs per volume 0), .7 FP (1/2, 1/3), .5 TP (1, 1/3), .4 FP (1, 2/3), .3 duplicate: the
    sensitivity is 1/2 at 1/8 and 1/4 FPs per volume and 1 from 1/2 on, the CPM (2 x 1/2 + 5) / 7 = 6/7.

    Returns:
        tuple[str, str]: The dataset's folder and the findings folder.
    """
    data_root, findings = osp.join(root, 'prepared'), osp.join(root, 'findings')
    sphere = sphere_lesion_map((8, 16, 16), (2., .8, .8), [(4, 8, 8)], [8.])
    cube = np.zeros((10, 20, 20), np.uint16)
    cube[2:5, 5:9, 5:9] = 1
    write_volume_index(data_root, [
        dict(case_id='p1', lesion_map=cube, spacing=(2., 1., 1.), origin=(-10., -10., 100.)),
        dict(case_id='p2', lesion_map=sphere, spacing=(2., .8, .8), diameters={1: 8.}),
        dict(case_id='p3', lesion_map=np.zeros((6, 8, 8), np.uint16)),
        dict(case_id='t1', split='train', lesion_map=cube)])
    with open(osp.join(data_root, 'volumes.json')) as f:
        boxes = {c['case_id']: c['lesions'][0]['box_lps_mm'] for c in json.load(f)['cases'] if c['lesions']}
    b1, b2 = (boxes[c]['min'] + boxes[c]['max'] for c in ('p1', 'p2'))
    write_findings_json(osp.join(findings, 'p1', 'findings.json'), [
        dict(score=.9, centre=[-3.5, -3.5, 106.], box=b1), dict(score=.4, centre=[0., 0., 117.], box=[0] * 6)])
    write_findings_json(osp.join(findings, 'p2.json'), [
        dict(score=.5, centre=[6.4, 6.4, 8.], box=b2),
        dict(score=.3, centre=[9.9, 6.4, 8.], box=[5.9, 2.4, 4., 13.9, 10.4, 12.])])
    write_findings_json(osp.join(findings, 'p3', 'findings.json'), [
        dict(score=.7, centre=[1., 1., 1.], box=[0, 0, 0, 2, 2, 2])])
    return data_root, findings


__all__ = ['voxel_to_lps', 'sphere_lesion_map', 'write_volume_index', 'write_findings_json',
           'random_volume_records', 'write_example_evaluation']
