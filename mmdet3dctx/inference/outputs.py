"""The result files of one study: findings in patient space (JSON, CSV), a label volume (NIfTI), DICOM SR and
SEG, an HTML report — written whole or not at all."""
import csv
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmdet3dctx.io import CTVolume, VolumeGeometry
from .lesion_linking import LesionFinding

#: every file :func:`write_study_outputs` may write, in the order it writes them
OUTPUT_FILES = ('findings.json', 'findings.csv', 'findings.nii.gz', 'findings_sr.dcm', 'findings_seg.dcm',
                'report.html')


def finding_lps(finding: LesionFinding,
                volume: Union[CTVolume, VolumeGeometry]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The centre of the key-slice box and the box's extent over the linked slices, in LPS mm.

    Only the geometry is read: ``volume`` may be a :class:`~mmdet3dctx.io.VolumeGeometry` (e.g. a prepared
    dataset's case, ``VolumeGeometry.from_record(case)``).

    Boxes are in continuous pixel coordinates (pixel ``j`` covers ``[j, j + 1)``, its centre at ``j + 0.5``).
    The extent spans every linked slice's box corners and half a slice interval beyond the first and last
    slice along the slice normal.

    Returns:
        tuple: centre ``(3,)``, extent minimum ``(3,)`` and maximum ``(3,)``.
    """
    x1, y1, x2, y2 = np.asarray(finding.box, np.float64)
    centre = volume.to_lps([finding.key_slice], [(y1 + y2) / 2 - 0.5], [(x1 + x2) / 2 - 0.5])[0]
    ks, rows, cols = [], [], []
    for z, (bx1, by1, bx2, by2) in zip(finding.slices, np.asarray(finding.boxes, np.float64)):
        for r in (by1 - 0.5, by2 - 0.5):
            for c in (bx1 - 0.5, bx2 - 0.5):
                ks.append(z)
                rows.append(r)
                cols.append(c)
    pts = volume.to_lps(ks, rows, cols)
    half = 0.5 * volume.slice_interval * volume.direction[:, 2]
    pts = np.concatenate([pts - half, pts + half])
    return centre, pts.min(0), pts.max(0)


def finding_records(findings: Sequence[LesionFinding], volume: CTVolume) -> List[dict]:
    """One JSON-ready dict per finding (``id`` 1-based, the label of the finding in the label volume and SR)."""
    out = []
    refs = volume.slice_refs
    for k, f in enumerate(findings):
        d = dict(id=k + 1)
        d.update(f.to_dict())
        centre, lo, hi = finding_lps(f, volume)
        d['key_slice_position_mm'] = round(float(volume.positions[f.key_slice]), 3)
        d['slice_positions_mm'] = [round(float(volume.positions[f.slices[0]]), 3),
                                   round(float(volume.positions[f.slices[-1]]), 3)]
        d['centre_lps_mm'] = [round(float(v), 2) for v in centre]
        d['extent_lps_mm'] = dict(min=[round(float(v), 2) for v in lo], max=[round(float(v), 2) for v in hi])
        ref = refs[f.key_slice] if f.key_slice < len(refs) else {}
        d['series_instance_uid'] = volume.metadata.get('series_uid')
        d['sop_instance_uid'] = ref.get('sop_instance_uid')
        d['frame_number'] = ref.get('frame')
        d['key_slice_file'] = ref.get('file')
        out.append(d)
    return out


def study_record(volume: CTVolume) -> dict:
    """The study's facts for ``findings.json`` and the report."""
    md = volume.metadata
    return dict(source=md.get('source'), input=md.get('directory') or md.get('path'), shape=list(volume.hu.shape),
                spacing_mm=[round(s, 5) for s in volume.spacing],
                origin_lps_mm=[round(float(v), 3) for v in volume.origin],
                direction_lps=np.round(volume.direction, 6).tolist(), affine_lps=np.round(volume.affine, 6).tolist(),
                positions_mm=[round(float(p), 3) for p in (volume.positions[0], volume.positions[-1])],
                uneven_slices=volume.uneven_slices, runs=[list(r) for r in volume.runs()],
                array_layout='hu[k, i, j]: j toward patient left, i toward posterior, k toward superior',
                series_uid=md.get('series_uid'), study_uid=md.get('study_uid'),
                series_description=md.get('series_description'), patient_id=md.get('patient_id'),
                study_date=md.get('study_date'))


def label_volume(findings: Sequence[LesionFinding], volume: CTVolume) -> np.ndarray:
    """``(Z, H, W)`` uint8 (uint16 from 255 findings on): each finding's mask (its box where it has no mask) on
    its slices, labelled by finding number (1 = the best); where findings overlap the better one wins."""
    labels = np.zeros(volume.hu.shape, np.uint8 if len(findings) < 255 else np.uint16)
    h, w = volume.hu.shape[1:]
    for k in range(len(findings) - 1, -1, -1):
        f = findings[k]
        for t, z in enumerate(f.slices):
            m = f.masks[t] if f.masks is not None else None
            if m is not None and np.any(m):
                labels[z][np.asarray(m, bool)] = k + 1
            else:
                x1, y1, x2, y2 = f.boxes[t]
                c0, c1 = int(np.clip(np.floor(x1), 0, w)), int(np.clip(np.ceil(x2), 0, w))
                r0, r1 = int(np.clip(np.floor(y1), 0, h)), int(np.clip(np.ceil(y2), 0, h))
                labels[z, r0:r1, c0:c1] = k + 1
    return labels


def _write_json(path, study, records, extra):
    with open(path, 'w') as fh:
        json.dump(dict(study=study, num_findings=len(records), findings=records, **extra), fh, indent=2)


def _write_csv(path, records):
    with open(path, 'w', newline='') as fh:
        w = csv.writer(fh)
        w.writerow(['id', 'score', 'key_slice', 'first_slice', 'last_slice', 'x1', 'y1', 'x2', 'y2',
                    'long_diameter_mm', 'short_diameter_mm', 'extent_mm', 'centre_x_lps', 'centre_y_lps',
                    'centre_z_lps', 'min_x_lps', 'min_y_lps', 'min_z_lps', 'max_x_lps', 'max_y_lps', 'max_z_lps',
                    'series_instance_uid', 'sop_instance_uid', 'frame_number'])
        for d in records:
            w.writerow([d['id'], d['score'], d['key_slice'], *d['slice_range'], *d['box'], d['long_diameter_mm'],
                        d['short_diameter_mm'], d['extent_mm'], *d['centre_lps_mm'], *d['extent_lps_mm']['min'],
                        *d['extent_lps_mm']['max'], d['series_instance_uid'] or '', d['sop_instance_uid'] or '',
                        d['frame_number'] or ''])


def existing_outputs(out_dir: str) -> List[str]:
    """The result files already in ``out_dir``."""
    return [f for f in OUTPUT_FILES if osp.exists(osp.join(out_dir, f))]


def write_study_outputs(findings: Sequence[LesionFinding], volume: CTVolume, out_dir: str, overwrite: bool = False,
                        detector_name: str = 'mmdet3dctx detector', window: Tuple[float, float] = (-160, 240),
                        extra: Optional[dict] = None,
                        timings: Optional[Dict[str, float]] = None) -> List[str]:
    """Write every result file of one study to ``out_dir``, whole or not at all.

    ``findings.json``/``.csv`` (:func:`finding_records`), ``findings.nii.gz`` (:func:`label_volume` on the
    input's grid), for DICOM input ``findings_sr.dcm`` (TID 1500 measurement report) and, when the findings
    have masks, ``findings_seg.dcm``, and ``report.html``. Files are written into a hidden staging folder
    beside ``out_dir`` and moved into place only once all are written, so an interrupted run leaves no
    half-written file (and, for a new ``out_dir``, no folder at all).

    Args:
        findings (Sequence[LesionFinding]): best first.
        volume (CTVolume): the study they were found in.
        out_dir (str): the study's output folder.
        overwrite (bool): replace result files already in ``out_dir``; without it they raise
            ``FileExistsError``.
        detector_name (str): named in the SR, SEG and report.
        window (tuple[float]): HU window of the report's thumbnails.
        extra (dict, optional): more top-level entries of ``findings.json`` (e.g. timings, the detector).
        timings (dict, optional): filled with the seconds each file took.

    Returns:
        list[str]: the files written.
    """
    from .dicom_outputs import write_seg, write_sr
    from .report import write_html_report
    existing = existing_outputs(out_dir)
    if existing and not overwrite:
        raise FileExistsError(f'{out_dir} already holds findings ({", ".join(existing)}); choose another --out-dir '
                              'or pass --overwrite')
    timings = {} if timings is None else timings
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f'.{osp.basename(osp.abspath(out_dir))}.partial-', dir=parent)
    written = []

    def step(name: str, fn: Callable[[str], object]) -> None:
        t0 = time.perf_counter()
        if fn(osp.join(staging, name)) is not False:
            written.append(name)
        timings[name] = time.perf_counter() - t0

    try:
        study = study_record(volume)
        records = finding_records(findings, volume)
        step('findings.json', lambda p: _write_json(p, study, records, dict(extra or {}, detector=detector_name)))
        step('findings.csv', lambda p: _write_csv(p, records))
        labels = label_volume(findings, volume)

        def nifti(p):
            import nibabel as nib

            from mmdet3dctx.io import volume_to_nifti
            nib.save(volume_to_nifti(labels, volume), p)

        step('findings.nii.gz', nifti)
        if volume.metadata.get('source') == 'dicom' and volume.headers:
            step('findings_sr.dcm', lambda p: write_sr(p, findings, records, volume, detector_name))
            if any(f.masks is not None for f in findings):
                step('findings_seg.dcm', lambda p: write_seg(p, findings, volume, detector_name))
        step('report.html', lambda p: write_html_report(p, findings, records, study, volume, window, detector_name))
        if not osp.exists(out_dir):
            os.rename(staging, out_dir)
        else:
            for name in OUTPUT_FILES:  # results of an earlier run this one does not write again
                if name not in written and osp.exists(osp.join(out_dir, name)):
                    os.remove(osp.join(out_dir, name))
            for name in written:
                os.replace(osp.join(staging, name), osp.join(out_dir, name))
            os.rmdir(staging)
    finally:
        if osp.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return [osp.join(out_dir, n) for n in written]
