"""Sphere and box tables in patient millimetres (LPS) for volumes in MetaImage, NRRD or NIfTI.

Two column sets are read (a header row names them; other columns are ignored):

* **spheres**, LUNA16's ``annotations.csv``: ``seriesuid, coordX, coordY, coordZ, diameter_mm``: the centre in
  world coordinates, which for MetaImage (and ITK, NRRD, DICOM) are LPS mm;
* **boxes**: ``case_id, x_min, y_min, z_min, x_max, y_max, z_max``: an axis-aligned box in LPS mm.

Either may add ``label`` (an int, 1 by default), ``label_name``, ``patient_id`` and ``split``
(train/val/test: then every row of a case must agree, and cases without rows have no split of their own).

The volumes are found under ``SRC`` by the case id: ``<case_id>.mhd`` (with its ``.raw``), ``.mha``, ``.nrrd``,
``.nhdr``, ``.nii.gz`` or ``.nii`` in any sub-folder (folders named ``seg-lungs*``, LUNA16's lung masks that
share the scans' names, are not searched). Every volume found is a case; one without rows is lesion-free. MetaImage
and NRRD are read with SimpleITK (:func:`~mmdet3dctx.io.read_itk_volume`), NIfTI with nibabel
(:func:`~mmdet3dctx.io.read_nifti`, RAS on disk, converted to LPS). A sphere becomes the voxels whose centres lie
within its radius of its centre (at least the voxel holding the centre), a box the voxels whose centres lie in it
(at least one per axis); a shape overlapping an earlier one keeps only the voxels still free.
"""
import csv
import hashlib
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.io import CTVolume, read_nifti
from mmdet3dctx.io.itk_volume import ITK_SUFFIXES, read_itk_volume
from .base import SPLITS, LoadedCase, SourceCase, SourceListing, VolumeDatasetError, check_case_ids, files_under

SPHERE_COLUMNS = ('seriesuid', 'coordX', 'coordY', 'coordZ', 'diameter_mm')
BOX_COLUMNS = ('case_id', 'x_min', 'y_min', 'z_min', 'x_max', 'y_max', 'z_max')
VOLUME_SUFFIXES = ITK_SUFFIXES + ('.nii.gz', '.nii')
#: folders not searched for volumes (LUNA16's lung masks carry the scans' names)
SKIP_DIR_PREFIXES = ('seg-lungs', )
#: a box may reach this far (voxels) beyond the volume's outer voxel faces
BOX_TOLERANCE_VOXELS = 0.5


def _number(value: str, path: str, line: int, column: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise VolumeDatasetError(f'{path} line {line}, column {column}: {value!r} is not a number') from None
    if not math.isfinite(v):
        raise VolumeDatasetError(f'{path} line {line}, column {column}: {value!r} is not a finite number')
    return v


def read_box_table(path: str) -> Tuple[str, List[dict]]:
    """The rows of a sphere or box table.

    Returns:
        tuple: the kind (``'spheres'`` or ``'boxes'``) and per row ``dict(line, case_id, label, label_name,
        patient_id, split)`` with ``centre`` ``(3,)`` and ``diameter_mm`` (spheres) or ``min``/``max``
        ``(3,)`` (boxes), LPS mm; ``line`` is the row's line in the file (the header is line 1).

    Raises:
        VolumeDatasetError: no header with either column set, a value that is no finite number (naming line and
            column), a diameter that is not positive, a box whose minimum exceeds its maximum.
    """
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise VolumeDatasetError(f'{path}: not a readable CSV file ({e})') from e
    if not rows:
        raise VolumeDatasetError(f'{path}: empty; expected a header row {", ".join(SPHERE_COLUMNS)} or '
                                 f'{", ".join(BOX_COLUMNS)}')
    header = [h.strip() for h in rows[0]]
    if all(c in header for c in SPHERE_COLUMNS):
        kind, id_col = 'spheres', 'seriesuid'
    elif all(c in header for c in BOX_COLUMNS):
        kind, id_col = 'boxes', 'case_id'
    else:
        raise VolumeDatasetError(f'{path}: header {header} has neither the sphere columns {list(SPHERE_COLUMNS)} '
                                 f'(LUNA16) nor the box columns {list(BOX_COLUMNS)}')
    col = {name: i for i, name in enumerate(header)}
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not v.strip() for v in row):
            continue
        if len(row) < len(header):
            raise VolumeDatasetError(f'{path} line {n}: {len(row)} values for {len(header)} columns')

        def get(name, default=None):
            return row[col[name]].strip() if name in col else default

        rec = dict(line=n, case_id=get(id_col), patient_id=get('patient_id') or None,
                   split=get('split') or None, label_name=get('label_name') or None)
        if not rec['case_id']:
            raise VolumeDatasetError(f'{path} line {n}, column {id_col}: empty')
        label = get('label')
        rec['label'] = 1 if not label else _number(label, path, n, 'label')
        if rec['label'] != int(rec['label']):
            raise VolumeDatasetError(f'{path} line {n}, column label: {label!r} is not a whole number')
        rec['label'] = int(rec['label'])
        if rec['split'] is not None and rec['split'] not in SPLITS:
            raise VolumeDatasetError(f'{path} line {n}, column split: {rec["split"]!r} is not one of {SPLITS}')
        if kind == 'spheres':
            rec['centre'] = np.array([_number(get(c), path, n, c) for c in ('coordX', 'coordY', 'coordZ')])
            rec['diameter_mm'] = _number(get('diameter_mm'), path, n, 'diameter_mm')
            if rec['diameter_mm'] <= 0:
                raise VolumeDatasetError(f'{path} line {n}, column diameter_mm: {rec["diameter_mm"]} is not positive')
        else:
            rec['min'] = np.array([_number(get(c), path, n, c) for c in ('x_min', 'y_min', 'z_min')])
            rec['max'] = np.array([_number(get(c), path, n, c) for c in ('x_max', 'y_max', 'z_max')])
            if np.any(rec['min'] > rec['max']):
                axis = 'xyz'[int(np.argmax(rec['min'] > rec['max']))]
                raise VolumeDatasetError(f'{path} line {n}: {axis}_min > {axis}_max')
        out.append(rec)
    return kind, out


def lps_to_voxel(volume: CTVolume, points: np.ndarray) -> np.ndarray:
    """Continuous voxel coordinates ``(N, 3)`` ``(k, i, j)`` of LPS points ``(N, 3)``: the inverse of
    :meth:`CTVolume.to_lps` (slice positions interpolated, extrapolated beyond the ends with the end steps)."""
    pts = np.atleast_2d(np.asarray(points, np.float64))
    sz, sy, sx = volume.spacing
    rel = np.linalg.solve(volume.direction, (pts - volume.origin[None]).T).T  # (N, 3) along W, H, normal
    j, i = rel[:, 0] / sx, rel[:, 1] / sy
    z = rel[:, 2] + volume.positions[0]
    pos = volume.positions
    if pos.size == 1:
        k = (z - pos[0]) / sz
    else:
        k = np.interp(z, pos, np.arange(pos.size, dtype=np.float64))
        lo, hi = z < pos[0], z > pos[-1]
        k[lo] = (z[lo] - pos[0]) / (pos[1] - pos[0])
        k[hi] = pos.size - 1 + (z[hi] - pos[-1]) / (pos[-1] - pos[-2])
    return np.stack([k, i, j], 1)


def _inside(vox: np.ndarray, shape: Sequence[int], tol: float) -> bool:
    return bool(np.all(vox >= -0.5 - tol) and np.all(vox <= np.asarray(shape) - 0.5 + tol))


def paint_sphere(volume: CTVolume, centre: np.ndarray, diameter: float) -> Tuple[np.ndarray, Tuple[slice, ...]]:
    """The voxels of a sphere (LPS centre, diameter in mm) as a bool block and its place in the volume."""
    c = lps_to_voxel(volume, centre[None])[0]
    r = diameter / 2.0
    sz, sy, sx = volume.spacing
    step_k = np.diff(volume.positions).min() if volume.num_slices > 1 else sz
    half = np.array([r / step_k, r / sy, r / sx]) + 1
    lo = np.maximum(np.floor(c - half).astype(int), 0)
    hi = np.minimum(np.ceil(c + half).astype(int) + 1, volume.hu.shape)
    kk, ii, jj = np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi)), indexing='ij')
    pts = volume.to_lps(kk.ravel(), ii.ravel(), jj.ravel())
    block = (np.linalg.norm(pts - np.asarray(centre)[None], axis=1) <= r).reshape(kk.shape)
    if not block.any():  # smaller than a voxel: the voxel holding the centre
        near = np.clip(np.rint(c).astype(int), 0, np.asarray(volume.hu.shape) - 1) - lo
        block[tuple(near)] = True
    return block, tuple(slice(a, b) for a, b in zip(lo, hi))


def paint_box(volume: CTVolume, lo_mm: np.ndarray, hi_mm: np.ndarray) -> Tuple[np.ndarray, Tuple[slice, ...]]:
    """The voxels whose centres lie in an LPS box (at least the nearest layer per axis), as a bool block and its
    place in the volume."""
    corners = np.array([[x, y, z] for x in (lo_mm[0], hi_mm[0]) for y in (lo_mm[1], hi_mm[1])
                        for z in (lo_mm[2], hi_mm[2])])
    vox = lps_to_voxel(volume, corners)
    vlo, vhi = vox.min(0), vox.max(0)
    start = np.ceil(vlo - 1e-6).astype(int)
    stop = np.floor(vhi + 1e-6).astype(int) + 1
    mid = np.rint((vlo + vhi) / 2).astype(int)
    empty = stop <= start
    start[empty], stop[empty] = mid[empty], mid[empty] + 1
    shape = np.asarray(volume.hu.shape)
    start, stop = np.clip(start, 0, shape - 1), np.clip(stop, 1, shape)
    return np.ones(stop - start, bool), tuple(slice(a, b) for a, b in zip(start, stop))


def read_table_volume(path: str) -> CTVolume:
    """A volume of a table's case: NIfTI with nibabel, MetaImage/NRRD with SimpleITK."""
    if path.endswith(('.nii.gz', '.nii')):
        return read_nifti(path)
    return read_itk_volume(path)


def _load_case(case_id: str, path: str, rows: Sequence[dict], table: str) -> LoadedCase:
    try:
        vol = read_table_volume(path)
    except (ValueError, FileNotFoundError) as e:
        raise VolumeDatasetError(f'case {case_id!r}: {e}') from e
    lesion_map = np.zeros(vol.hu.shape, np.uint16)
    lesions = []
    for n, row in enumerate(rows, start=1):
        where = f'{table} line {row["line"]} (case {case_id!r}, {path})'
        if 'centre' in row:
            c = lps_to_voxel(vol, row['centre'][None])[0]
            if not _inside(c, vol.hu.shape, 0.0):
                raise VolumeDatasetError(f'{where}: the sphere\'s centre {row["centre"].tolist()} LPS mm lies outside '
                                         f'the volume (voxel (k, i, j) {np.round(c, 2).tolist()} of '
                                         f'{list(vol.hu.shape)})')
            block, where_in = paint_sphere(vol, row['centre'], row['diameter_mm'])
        else:
            corners = lps_to_voxel(vol, np.stack([row['min'], row['max']]))
            if not (_inside(corners[0], vol.hu.shape, BOX_TOLERANCE_VOXELS)
                    and _inside(corners[1], vol.hu.shape, BOX_TOLERANCE_VOXELS)):
                raise VolumeDatasetError(f'{where}: the box {row["min"].tolist()} - {row["max"].tolist()} LPS mm '
                                         f'reaches outside the volume (voxel (k, i, j) corners '
                                         f'{np.round(corners, 2).tolist()} of {list(vol.hu.shape)})')
            block, where_in = paint_box(vol, row['min'], row['max'])
        region = lesion_map[where_in]
        free = block & (region == 0)
        if not free.any():
            other = int(region[block].max())
            raise VolumeDatasetError(f'{where}: lies entirely inside the lesion of line {rows[other - 1]["line"]} '
                                     '(a duplicate row?)')
        region[free] = n
        lesion = dict(label=row['label'], label_name=row['label_name'] or ('nodule' if 'centre' in row else 'lesion'),
                      row=row['line'])
        if 'centre' in row:
            lesion['diameter_mm'] = float(row['diameter_mm'])
        lesions.append(lesion)
    return LoadedCase(volume=vol, lesion_map=lesion_map, lesions=lesions)


def find_volumes(src: str) -> Dict[str, List[str]]:
    """Volume files under ``src`` by case id (file name without its ending)."""
    found: Dict[str, List[str]] = {}
    for f in files_under(src):
        rel_dirs = osp.relpath(osp.dirname(f), src).split(osp.sep)
        if any(d.startswith(SKIP_DIR_PREFIXES) for d in rel_dirs):
            continue
        name = osp.basename(f)
        for suffix in VOLUME_SUFFIXES:
            if name.endswith(suffix):
                found.setdefault(name[:-len(suffix)], []).append(f)
                break
    return found


def _companions(path: str) -> List[str]:
    """The files a volume is read from: a MetaImage header's data file (``ElementDataFile``) besides itself."""
    files = [path]
    if path.endswith('.mhd'):
        try:
            with open(path, errors='replace') as f:
                for line in f:
                    if line.split('=')[0].strip() == 'ElementDataFile':
                        data = line.split('=', 1)[1].strip()
                        if data and data != 'LOCAL' and not data.startswith('LIST'):
                            files.append(osp.join(osp.dirname(path), data))
        except OSError:
            pass
    return files


def find_annotation_table(src: str) -> Optional[str]:
    """The table of a source folder: ``annotations.csv`` at its top or in ``CSVFILES/`` (LUNA16), else its only
    top-level ``.csv``; None without one."""
    for rel in ('annotations.csv', osp.join('CSVFILES', 'annotations.csv')):
        if osp.isfile(osp.join(src, rel)):
            return osp.join(src, rel)
    import glob
    tables = sorted(glob.glob(osp.join(src, '*.csv')))
    if len(tables) > 1:
        raise VolumeDatasetError(f'{src}: several tables ({", ".join(osp.basename(t) for t in tables)}): name one '
                                 'with --annotations')
    return tables[0] if tables else None


def list_box_table_cases(src: str, annotations: Optional[str] = None,
                         lesion_labels: Optional[Sequence[int]] = None) -> SourceListing:
    """The cases of a folder of volumes with a sphere or box table.

    Args:
        src (str): the folder searched for volumes.
        annotations (str, optional): the table (:func:`find_annotation_table` by default).
        lesion_labels (Sequence[int], optional): keep only the rows with these labels (all by default).

    Returns:
        SourceListing: every volume found; rows naming no volume under ``src`` are skipped (listed).

    Raises:
        VolumeDatasetError: no table, no volume, a bad row (see :func:`read_box_table`), two volumes with one name,
            a case whose rows disagree on its patient or split.
    """
    table = annotations or find_annotation_table(src)
    if table is None:
        raise VolumeDatasetError(f'{src}: no annotations table (annotations.csv, CSVFILES/annotations.csv or '
                                 'one *.csv); name it with --annotations')
    kind, rows = read_box_table(table)
    volumes = find_volumes(src)
    dup = {k: v for k, v in volumes.items() if len(v) > 1}
    if dup:
        k, v = next(iter(dup.items()))
        raise VolumeDatasetError(f'duplicate case id {k!r}: {len(v)} volumes carry that name ({", ".join(v)})')
    if not volumes:
        raise VolumeDatasetError(f'{src}: no volumes ({", ".join("*" + s for s in VOLUME_SUFFIXES)}) found')
    labels = None if not lesion_labels else {int(v) for v in lesion_labels}
    by_case: Dict[str, List[dict]] = {}
    skipped = []
    missing: Dict[str, List[int]] = {}
    other_labels = [r['line'] for r in rows if labels is not None and r['label'] not in labels]
    if other_labels:
        skipped.append((table, f'{len(other_labels)} row(s) with a label not among the lesion labels '
                               f'{sorted(labels)} (first: line {other_labels[0]})'))
    for r in rows:
        if labels is not None and r['label'] not in labels:
            continue
        if r['case_id'] not in volumes:
            missing.setdefault(r['case_id'], []).append(r['line'])
            continue
        by_case.setdefault(r['case_id'], []).append(r)
    for cid, lines in missing.items():
        skipped.append((f'{table} line(s) {", ".join(map(str, lines))}', f'no volume {cid!r} under {src}'))
    has_split = any(r['split'] for r in rows)
    cases = []
    for cid in sorted(volumes):
        path = volumes[cid][0]
        rs = by_case.get(cid, [])
        for what in ('patient_id', 'split'):
            values = {r[what] for r in rs}
            if len(values) > 1:
                raise VolumeDatasetError(f'{table}: the rows of case {cid!r} (lines {[r["line"] for r in rs]}) name '
                                         f'several {what}s {sorted(map(str, values))}')
        digest = hashlib.sha1(json.dumps([{k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                           for k, v in r.items()} for r in rs]).encode()).hexdigest()
        cases.append(SourceCase(case_id=cid, image=osp.abspath(path), files=_companions(path),
                                patient_id=rs[0]['patient_id'] if rs else None,
                                split=rs[0]['split'] if rs else None,
                                load=lambda c=cid, p=path, rs=rs: _load_case(c, p, rs, table),
                                signature=dict(rows=digest, table=osp.abspath(table),
                                               lesion_labels=sorted(labels or []))))
    check_case_ids(cases)
    if has_split:
        unsplit = [c.case_id for c in cases if c.split is None]
        if unsplit:
            raise VolumeDatasetError(f'{table} gives splits, but not for case(s) {unsplit[:5]} (no rows)')
    return SourceListing(cases=cases, skipped=skipped, lesion_labels=sorted(labels or []), has_split=has_split)


__all__ = ['list_box_table_cases', 'read_box_table', 'find_annotation_table', 'find_volumes', 'lps_to_voxel',
           'paint_sphere', 'paint_box', 'read_table_volume', 'SPHERE_COLUMNS', 'BOX_COLUMNS']
