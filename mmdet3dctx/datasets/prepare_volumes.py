"""Preparing a labelled CT volume dataset for training and 3D evaluation: what ``tools/prepare_volumes.py`` does.

``prepare_volume_dataset(SRC, DST)`` reads a source (:mod:`~mmdet3dctx.datasets.volume_sources`), and writes::

    DST/volumes.json                  the index (volume_index), written whole, last
    DST/cache/<case_id>.npy           int16 HU (Z, H, W) in CTVolume's layout (np.load(..., mmap_mode='r'))
    DST/cache/<case_id>_lesions.npy   uint16 lesion instance map (0 background, n = lesion_id n)
    DST/cache/<case_id>.json          the case's record and what it was computed from (for resuming)

A case whose cache files exist and whose source files (sizes and modification times) and options are those its
record was computed from is not read again, so an interrupted or repeated run only does what is left. ``SRC`` is
only read. A ``DST`` whose index comes from another source or format is refused without ``overwrite``.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmdet3dctx.utils.atomic_files import save_npy_atomic, write_json_atomic

from .volume_index import (INDEX_FORMAT, INDEX_NAME, INDEX_VERSION, add_negative_slices, build_index, case_geometry,
                           lesion_records)
from .volume_sources import SOURCE_FORMATS, list_box_table_cases, list_dicom_seg_cases, list_msd_cases
from .volume_sources.base import SourceCase, VolumeDatasetError, files_under
from .volume_sources.box_table import find_annotation_table
from .volume_sources.dicom_seg import SEG_SOP_CLASS
from .volume_split import SPLITS, assign_splits

INDEX_FILE = INDEX_NAME
CACHE_DIR = 'cache'
#: the marker of a case's side file in the cache
CASE_FORMAT = INDEX_FORMAT + '-case'


def detect_source_format(src: str, annotations: Optional[str] = None) -> str:
    """The format of a source folder: ``'boxes'`` with an annotations table (given, or ``annotations.csv``,
    ``CSVFILES/annotations.csv``, a top-level ``*.csv``), ``'msd'`` with a ``dataset.json``, ``'dicom-seg'``
    where a DICOM SEG lies under it.

    Raises:
        VolumeDatasetError: none of these (naming what was looked for).
    """
    if annotations:
        return 'boxes'
    if osp.isfile(osp.join(src, 'dataset.json')):
        return 'msd'
    try:
        if find_annotation_table(src):
            return 'boxes'
    except VolumeDatasetError:  # several tables: the listing asks which
        return 'boxes'
    import pydicom
    dicom = 0
    for f in files_under(src):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=['SOPClassUID', 'Modality'])
        except Exception:  # noqa: BLE001  (not DICOM)
            continue
        dicom += 'SOPClassUID' in ds or 'Modality' in ds
        if str(ds.get('SOPClassUID', '')) == SEG_SOP_CLASS:
            return 'dicom-seg'
    found = f'{dicom} DICOM file(s) but no DICOM SEG' if dicom else 'no dataset.json, table or DICOM SEG'
    raise VolumeDatasetError(f'{src}: cannot tell the format ({found}); expected a Decathlon/nnU-Net folder '
                             '(dataset.json), volumes with an annotations table (annotations.csv or --annotations), '
                             'or DICOM study folders with a SEG; or give --format')


def _signature(case: SourceCase, fmt: str) -> dict:
    files = []
    for f in case.files:
        try:
            st = os.stat(f)
        except OSError as e:
            raise VolumeDatasetError(f'case {case.case_id!r}: {f}: {e.strerror}') from e
        files.append([osp.abspath(f), int(st.st_size), int(st.st_mtime_ns)])
    return json.loads(json.dumps(dict(format=fmt, version=INDEX_VERSION, files=files, **case.signature)))


def _cached(side: str, signature: dict, out: str) -> Optional[dict]:
    """The record of a side file when it was computed from ``signature`` and its cache files exist."""
    if not osp.isfile(side):
        return None
    try:
        with open(side, encoding='utf-8') as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get('format') != CASE_FORMAT or saved.get('signature') != signature:
        return None
    rec = saved.get('record') or {}
    if not all(osp.isfile(osp.join(out, rec.get(k, ''))) for k in ('cache', 'lesion_map')):
        return None
    return rec


def _compute_case(case: SourceCase, out: str) -> dict:
    """Read a case, write its cache arrays and return its record (without split and negatives)."""
    loaded = case.load()
    vol = loaded.volume
    if loaded.lesion_map.shape != vol.hu.shape:
        raise VolumeDatasetError(f'case {case.case_id!r}: lesion map {loaded.lesion_map.shape} and volume '
                                 f'{vol.hu.shape} differ in shape')
    cache = f'{CACHE_DIR}/{case.case_id}.npy'
    lesion_map = f'{CACHE_DIR}/{case.case_id}_lesions.npy'
    hu = np.clip(np.rint(vol.hu), np.iinfo(np.int16).min, np.iinfo(np.int16).max).astype(np.int16)
    save_npy_atomic(osp.join(out, cache), hu)
    save_npy_atomic(osp.join(out, lesion_map), loaded.lesion_map.astype(np.uint16, copy=False))
    try:
        lesions = lesion_records(vol, loaded.lesion_map, loaded.lesions)
    except ValueError as e:
        raise VolumeDatasetError(f'case {case.case_id!r}: {e}') from e
    return dict(case_id=case.case_id, patient_id=str(case.patient_id or loaded.patient_id or case.case_id),
                image=case.image, cache=cache, lesion_map=lesion_map, **case_geometry(vol), lesions=lesions)


def _read_existing_index(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            index = json.load(f)
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def _remove_stale(cache_dir: str, keep: Sequence[str]) -> List[str]:
    """Remove the cache files of cases this preparation no longer has (only files of our side-file cases)."""
    removed = []
    keep = set(keep)
    for name in sorted(os.listdir(cache_dir)):
        path = osp.join(cache_dir, name)
        if '.partial-' in name:
            os.remove(path)
            continue
        if not name.endswith('.json') or name[:-5] in keep:
            continue
        try:
            with open(path, encoding='utf-8') as f:
                ours = json.load(f).get('format') == CASE_FORMAT
        except (OSError, ValueError, AttributeError):
            ours = False
        if ours:
            for p in (path, osp.join(cache_dir, name[:-5] + '.npy'), osp.join(cache_dir, name[:-5] + '_lesions.npy')):
                if osp.exists(p):
                    os.remove(p)
                    removed.append(p)
    return removed


def prepare_volume_dataset(src: str, out: str, format: str = 'auto', lesion_labels: Optional[Sequence[int]] = None,
                           split: Optional[Sequence[float]] = None, split_file: Optional[str] = None, seed: int = 0,
                           negative_ratio: float = 0.5, annotations: Optional[str] = None, overwrite: bool = False,
                           progress: bool = False) -> dict:
    """Prepare a labelled CT volume dataset: cache arrays per case and the index ``volumes.json``.

    Args:
        src (str): the source folder (a Decathlon/nnU-Net task, DICOM study folders with SEGs, or volumes with a
            sphere/box table).
        out (str): the prepared dataset's folder (not inside ``src``).
        format (str): ``'auto'`` (:func:`detect_source_format`), ``'msd'``, ``'dicom-seg'`` or ``'boxes'``.
        lesion_labels (Sequence[int], optional): label values (msd), segment numbers (dicom-seg) or table labels
            (boxes) that are lesions; defaults: the only foreground label, every segment, every row.
        split (Sequence[float], optional): train/val/test fractions of a seeded patient-level split.
        split_file (str, optional): ``case_id,split`` CSV or ``{case_id: split}`` JSON.
        seed (int): seed of the seeded split and of the negative slices. Defaults to 0.
        negative_ratio (float): lesion-free training slices per lesion-bearing slice of each case
            (:func:`~mmdet3dctx.datasets.volume_index.negative_counts`). Defaults to 0.5.
        annotations (str, optional): the table of a ``boxes`` source.
        overwrite (bool): write into ``out`` even where its index comes from another source or format.
        progress (bool): show a progress bar (MMEngine's). Defaults to False.

    Returns:
        dict: a summary: ``index`` (its path), ``format``, ``split`` (the index's split record), per split
        ``cases``, ``lesions``, ``lesion_free_cases``, ``negative_slices``; ``computed`` and ``reused`` case
        counts, ``skipped`` ``[(what, why)]``.

    Raises:
        VolumeDatasetError: bad input (see the sources, :func:`~mmdet3dctx.datasets.volume_split.assign_splits`),
            ``out`` inside ``src``, an index from another source without ``overwrite``.
    """
    if not osp.isdir(src):
        raise VolumeDatasetError(f'{src}: no such source folder')
    src_abs, out_abs = osp.realpath(src), osp.realpath(out)
    if out_abs == src_abs or out_abs.startswith(src_abs + os.sep):
        raise VolumeDatasetError(f'{out}: the prepared dataset must not lie inside the source {src} (the source is '
                                 'only read)')
    if negative_ratio < 0 or not np.isfinite(negative_ratio):
        raise VolumeDatasetError(f'negative ratio {negative_ratio}: must be a non-negative number')
    fmt = detect_source_format(src, annotations) if format == 'auto' else format
    if fmt not in SOURCE_FORMATS:
        raise VolumeDatasetError(f'unknown format {format!r}; choose from auto, {", ".join(SOURCE_FORMATS)}')
    index_path = osp.join(out, INDEX_FILE)
    old = _read_existing_index(index_path)
    if old is not None and not overwrite:
        if old.get('format') != INDEX_FORMAT:
            raise VolumeDatasetError(f'{index_path} exists and is not a prepared volume index; pass --overwrite to '
                                     'replace it')
        old_src = old.get('source') or {}
        if old_src.get('path') != osp.abspath(src) or old_src.get('format') != fmt:
            raise VolumeDatasetError(f'{index_path} was prepared from {old_src.get("path")} '
                                     f'({old_src.get("format")}), not {osp.abspath(src)} ({fmt}); choose another '
                                     '--out or pass --overwrite')
    if fmt == 'msd':
        listing = list_msd_cases(src, lesion_labels)
    elif fmt == 'dicom-seg':
        listing = list_dicom_seg_cases(src, lesion_labels)
    else:
        listing = list_box_table_cases(src, annotations, lesion_labels)
    if not listing.cases:
        raise VolumeDatasetError(f'{src}: no cases to prepare')

    cache_dir = osp.join(out, CACHE_DIR)
    os.makedirs(cache_dir, exist_ok=True)
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(listing.cases))
    records, computed, reused = [], 0, 0
    for case in listing.cases:
        sig = _signature(case, fmt)
        side = osp.join(cache_dir, f'{case.case_id}.json')
        rec = _cached(side, sig, out)
        if rec is None:
            rec = _compute_case(case, out)
            write_json_atomic(dict(format=CASE_FORMAT, signature=sig, record=rec), side)
            computed += 1
        else:
            reused += 1
        records.append(rec)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()

    case_ids = [r['case_id'] for r in records]
    assigned, split_record = assign_splits(case_ids, {r['case_id']: r['patient_id'] for r in records},
                                           {c.case_id: c.split for c in listing.cases}, split, split_file, seed)
    cases = []
    for r in records:
        c = dict(case_id=r['case_id'], patient_id=r['patient_id'], split=assigned[r['case_id']])
        c.update((k, v) for k, v in r.items() if k not in c)
        cases.append(c)
    add_negative_slices(cases, negative_ratio, seed)
    source = dict(format=fmt, path=osp.abspath(src), lesion_labels=list(listing.lesion_labels))
    if fmt == 'boxes':
        source['annotations'] = osp.abspath(annotations or find_annotation_table(src))
    index = build_index(source, split_record, negative_ratio, cases)
    write_json_atomic(index, index_path)
    _remove_stale(cache_dir, case_ids)

    summary = dict(index=index_path, format=fmt, split=split_record, computed=computed, reused=reused,
                   skipped=list(listing.skipped))
    for key in ('cases', 'lesions', 'lesion_free_cases', 'negative_slices'):
        summary[key] = {s: 0 for s in SPLITS}
    for c in cases:
        s = c['split']
        summary['cases'][s] += 1
        summary['lesions'][s] += len(c['lesions'])
        summary['lesion_free_cases'][s] += not c['lesions']
        summary['negative_slices'][s] += len(c['negative_slices'])
    return summary


def format_prepare_summary(summary: dict) -> str:
    """The summary of :func:`prepare_volume_dataset` as a few lines of text."""
    lines = [f'{summary["index"]}: {summary["format"]} source, split {summary["split"]["method"]}']
    lines.append(f'{"split":<6} {"cases":>6} {"lesions":>8} {"lesion-free":>12} {"negative slices":>16}')
    for s in SPLITS:
        lines.append(f'{s:<6} {summary["cases"][s]:>6} {summary["lesions"][s]:>8} '
                     f'{summary["lesion_free_cases"][s]:>12} {summary["negative_slices"][s]:>16}')
    lines.append(f'{summary["computed"]} case(s) read, {summary["reused"]} unchanged case(s) taken from the cache')
    for what, why in summary['skipped']:
        lines.append(f'skipped {what}: {why}')
    return '\n'.join(lines)


__all__ = ['prepare_volume_dataset', 'detect_source_format', 'format_prepare_summary', 'INDEX_FILE', 'CACHE_DIR']
