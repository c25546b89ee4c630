"""The records of a prepared volume dataset's index (``volumes.json``): a case's geometry, its lesions measured from
the lesion instance map, and the lesion-free slices chosen for training; reading the index back
(:func:`load_volume_index`, :func:`split_cases`).

Conventions (the index's, ``docs/own_data.md``): voxel boxes are half-open ``[k0, i0, j0, k1, i1, j1]``; 2D boxes
``[x1, y1, x2, y2]`` are continuous pixel coordinates where pixel ``j`` covers ``[j, j + 1)`` (as DeepLesion's and
MMDetection's); millimetres are LPS.
"""
import os.path as osp
import zlib
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmdet3dctx.io import CTVolume
from mmdet3dctx.utils.atomic_files import read_json

from .volume_split import SPLITS

#: the index's file name under the prepared dataset, its format identifier and version
INDEX_NAME = 'volumes.json'
INDEX_FORMAT = 'mmdet3dctx-volumes'
INDEX_VERSION = 1


class VolumeIndexError(ValueError):
    """A prepared dataset's ``volumes.json`` (or a cache file it names) that cannot be read as the index."""


def case_geometry(volume: CTVolume) -> dict:
    """``shape``, ``spacing`` ``(z, y, x)``, ``positions``, ``origin`` and ``direction`` of a volume, as JSON."""
    return dict(shape=[int(s) for s in volume.hu.shape], spacing=[float(s) for s in volume.spacing],
                positions=[float(p) for p in volume.positions], origin=[float(v) for v in volume.origin],
                direction=[[float(v) for v in row] for row in volume.direction])


def slice_edges(volume: CTVolume) -> np.ndarray:
    """``(Z + 1,)`` positions (mm) of the slices' boundaries: halfway between neighbouring positions, and half a
    step (the neighbouring one, or the slice spacing for a single slice) beyond the first and last."""
    pos = volume.positions
    if pos.size == 1:
        return np.array([pos[0] - volume.spacing[0] / 2, pos[0] + volume.spacing[0] / 2])
    mid = (pos[1:] + pos[:-1]) / 2
    return np.concatenate([[pos[0] - (pos[1] - pos[0]) / 2], mid, [pos[-1] + (pos[-1] - pos[-2]) / 2]])


def box_lps_extent(volume: CTVolume, box_voxels: Sequence[int]) -> Dict[str, List[float]]:
    """The LPS extent ``{"min": [x, y, z], "max": [x, y, z]}`` of a half-open voxel box: the voxels' outer faces
    (half a pixel beyond the outer centres in plane, the slice boundaries of :func:`slice_edges` along z); the
    axis-aligned bounds of its eight corners."""
    k0, i0, j0, k1, i1, j1 = box_voxels
    edges = slice_edges(volume)
    sz, sy, sx = volume.spacing
    d = volume.direction
    corners = []
    for z in (edges[k0], edges[k1]):
        for i in (i0 - 0.5, i1 - 0.5):
            for j in (j0 - 0.5, j1 - 0.5):
                corners.append(volume.origin + j * sx * d[:, 0] + i * sy * d[:, 1]
                               + (z - volume.positions[0]) * d[:, 2])
    corners = np.array(corners)
    return {'min': [float(v) for v in corners.min(0)], 'max': [float(v) for v in corners.max(0)]}


def lesion_records(volume: CTVolume, lesion_map: np.ndarray, lesions: Sequence[dict]) -> List[dict]:
    """The index record of every lesion of an instance map.

    For lesion ``n`` (the voxels ``lesion_map == n``, ``lesions[n - 1]`` its ``label``, ``label_name`` and
    optional ``diameter_mm`` and extra entries):

    * ``box_voxels``: the half-open voxel box; ``box_lps_mm``: its extent (:func:`box_lps_extent`);
    * ``centre_lps_mm``: the centroid ``(mean k, mean i, mean j)`` of its voxels through :meth:`CTVolume.to_lps`;
    * ``volume_mm3`` = voxels × ``sx · sy · sz``; ``diameter_mm`` = the given one, else the sphere-equivalent
      ``(6 V / π)^(1/3)``;
    * ``key_slice``: the slice with the most voxels (the largest axial cross-section; ties: the one nearest the
      centroid, then the lower);
    * ``slices``: ``{"k": [x1, y1, x2, y2]}`` per slice it spans, ``x2 = max j + 1``.

    Raises:
        ValueError: a lesion id without voxels.
    """
    from scipy import ndimage
    sz, sy, sx = volume.spacing
    objects = ndimage.find_objects(lesion_map, max_label=len(lesions))
    records = []
    for n, (meta, where) in enumerate(zip(lesions, objects), start=1):
        if where is None:
            raise ValueError(f'lesion {n} ({meta.get("label_name")}) has no voxels')
        block = lesion_map[where] == n
        k0, i0, j0 = (s.start for s in where)
        k1, i1, j1 = (s.stop for s in where)
        kk, ii, jj = np.nonzero(block)
        count = kk.size
        centroid = np.array([kk.mean() + k0, ii.mean() + i0, jj.mean() + j0])
        areas = block.sum((1, 2))
        best = np.flatnonzero(areas == areas.max()) + k0
        key = int(best[np.argmin(np.abs(best - centroid[0]))])
        slices = {}
        for t in np.flatnonzero(areas):
            rows = np.flatnonzero(block[t].any(1))
            cols = np.flatnonzero(block[t].any(0))
            slices[str(int(t + k0))] = [float(cols[0] + j0), float(rows[0] + i0), float(cols[-1] + j0 + 1),
                                        float(rows[-1] + i0 + 1)]
        vol_mm3 = float(count * sx * sy * sz)
        diameter = meta.get('diameter_mm')
        rec = dict(lesion_id=n, label=int(meta['label']), label_name=str(meta['label_name']),
                   box_voxels=[int(k0), int(i0), int(j0), int(k1), int(i1), int(j1)],
                   box_lps_mm=box_lps_extent(volume, (k0, i0, j0, k1, i1, j1)),
                   centre_lps_mm=[float(v) for v in volume.to_lps(*centroid)[0]],
                   diameter_mm=float(diameter) if diameter is not None else float((6 * vol_mm3 / np.pi)**(1 / 3)),
                   volume_mm3=vol_mm3, key_slice=key, slices=slices)
        rec.update({k: v for k, v in meta.items() if k not in ('label', 'label_name', 'diameter_mm')})
        records.append(rec)
    return records


def lesion_slices(case: dict) -> List[int]:
    """The slices of a case's index record that hold a lesion voxel, sorted."""
    return sorted({int(k) for les in case['lesions'] for k in les['slices']})


def choose_negative_slices(case_id: str, num_slices: int, lesion_bearing: Sequence[int], count: int,
                           seed: int) -> List[int]:
    """``count`` lesion-free slices of a case (all of them where fewer), drawn without replacement by
    ``numpy.random.default_rng([seed, crc32(case_id)])``, so one case's draw depends on nothing else."""
    free = np.setdiff1d(np.arange(num_slices), np.asarray(lesion_bearing, int))
    count = min(int(count), free.size)
    if count <= 0:
        return []
    rng = np.random.default_rng([int(seed), zlib.crc32(case_id.encode())])
    return sorted(int(k) for k in rng.choice(free, size=count, replace=False))


def negative_counts(cases: Sequence[dict], ratio: float) -> Dict[str, int]:
    """How many negative slices each case gets: ``round(ratio × its lesion-bearing slices)``; a lesion-free case
    gets ``round(ratio × the mean lesion-bearing slices of the cases with lesions)`` (at least 1 where
    ``ratio > 0``), so negative volumes also train."""
    bearing = {c['case_id']: len(lesion_slices(c)) for c in cases}
    positive = [n for n in bearing.values() if n]
    mean = float(np.mean(positive)) if positive else 1.0
    out = {}
    for cid, n in bearing.items():
        if n:
            out[cid] = int(round(ratio * n))
        else:
            out[cid] = max(1, int(round(ratio * mean))) if ratio > 0 else 0
    return out


def add_negative_slices(cases: Sequence[dict], ratio: float, seed: int) -> None:
    """Set ``negative_slices`` of every case record (see :func:`negative_counts`, :func:`choose_negative_slices`)."""
    counts = negative_counts(cases, ratio)
    for c in cases:
        c['negative_slices'] = choose_negative_slices(c['case_id'], c['shape'][0], lesion_slices(c),
                                                      counts[c['case_id']], seed)


def build_index(source: dict, split: dict, negative_ratio: float, cases: Sequence[dict],
                extra: Optional[dict] = None) -> dict:
    """The whole ``volumes.json`` object (key order as ``docs/own_data.md`` shows it)."""
    index = {'format': INDEX_FORMAT, 'version': INDEX_VERSION, 'source': source, 'split': split,
             'negative_ratio': float(negative_ratio), 'cases': list(cases)}
    index.update(extra or {})
    return index


def load_volume_index(data_root: str) -> dict:
    """Read ``DATA_ROOT/volumes.json`` and check it is a prepared volume index.

    Args:
        data_root (str): The prepared dataset (``tools/prepare_volumes.py --out``).

    Returns:
        dict: The index, with ``path`` (of ``volumes.json``) and ``data_root`` added.

    Raises:
        VolumeIndexError: Missing or unreadable file, not JSON, another format or a newer version, no case list,
            duplicate case ids.
    """
    path = osp.join(data_root, INDEX_NAME)
    if not osp.isfile(path):
        raise VolumeIndexError(f'{path} not found: --data-root must be a dataset prepared by '
                               'tools/prepare_volumes.py')
    index = read_json(path, VolumeIndexError)
    if not isinstance(index, dict) or index.get('format') != INDEX_FORMAT:
        raise VolumeIndexError(f'{path}: not a prepared volume index (format is not {INDEX_FORMAT!r})')
    if not isinstance(index.get('version'), int) or index['version'] > INDEX_VERSION:
        raise VolumeIndexError(f'{path}: index version {index.get("version")!r}; this toolkit reads version '
                               f'{INDEX_VERSION} (update mmdet3dctx)')
    cases = index.get('cases')
    if not isinstance(cases, list):
        raise VolumeIndexError(f'{path}: has no "cases" list')
    seen = set()
    for n, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get('case_id'), str):
            raise VolumeIndexError(f'{path}: case {n} has no case_id')
        if case['case_id'] in seen:
            raise VolumeIndexError(f'{path}: case id {case["case_id"]!r} appears twice')
        seen.add(case['case_id'])
    return dict(index, path=path, data_root=data_root)


def split_cases(index: dict, split: str) -> List[dict]:
    """The cases of one split (``'train'``, ``'val'``, ``'test'``) or of ``'all'``, in index order."""
    if split == 'all':
        return list(index['cases'])
    if split not in SPLITS:
        raise VolumeIndexError(f'unknown split {split!r}; choose from {SPLITS + ("all", )}')
    return [c for c in index['cases'] if c.get('split') == split]


__all__ = ['INDEX_NAME', 'INDEX_FORMAT', 'INDEX_VERSION', 'SPLITS', 'VolumeIndexError', 'load_volume_index',
           'split_cases', 'case_geometry', 'slice_edges', 'box_lps_extent', 'lesion_records', 'lesion_slices',
           'choose_negative_slices', 'negative_counts', 'add_negative_slices', 'build_index']
