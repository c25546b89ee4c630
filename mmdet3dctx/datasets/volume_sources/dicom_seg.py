"""DICOM study folders with a DICOM SEG beside the CT series: one folder per study, segments as lesions.

``SRC/<study>/`` holds a CT series (any layout :func:`~mmdet3dctx.io.read_dicom_series` reads) and at most one
Segmentation object (``SOPClassUID`` 1.2.840.10008.5.1.4.1.1.66.4), e.g. the ``findings_seg.dcm`` that
``tools/infer.py`` writes, corrected in 3D Slicer. Where ``SRC``'s sub-folders are only ``train``, ``val`` and
``test``, those are the dataset's split and the studies lie one level below. The case id is the study folder's
name, the patient its CT's ``PatientID``.

Each SEG frame is placed on the CT slice whose SOP Instance UID (and frame number, for a multi-frame CT) its
``DerivationImageSequence`` references, and laid out as the CT is (the reader's flips and transpose), so the
mask lands on the voxels it was drawn on. One segment may hold several lesions: every 3D connected component
(26-connectivity) of a segment is one lesion, labelled with the segment's number and ``SegmentLabel``. A study
without a SEG is a lesion-free (negative) volume.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.io import CTVolume, read_dicom_series
from .base import (LoadedCase, SourceCase, SourceListing, VolumeDatasetError, check_case_ids, files_under,
                   instances_from_labels)

SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4'
SPLIT_FOLDERS = ('train', 'val', 'test')


def find_seg_files(files: Sequence[str]) -> Tuple[List[str], bool]:
    """The DICOM SEG files among ``files`` and whether any file is DICOM (headers only)."""
    import pydicom
    segs, any_dicom = [], False
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=['SOPClassUID', 'Modality'])
        except Exception:  # noqa: BLE001  (not DICOM)
            continue
        if 'SOPClassUID' not in ds and 'Modality' not in ds:
            continue
        any_dicom = True
        if str(ds.get('SOPClassUID', '')) == SEG_SOP_CLASS or str(ds.get('Modality', '')) == 'SEG':
            segs.append(f)
    return segs, any_dicom


def _frame_reference(item, shared) -> Tuple[Optional[str], Optional[int]]:
    """``(ReferencedSOPInstanceUID, ReferencedFrameNumber)`` a SEG frame was derived from."""
    for holder in (item, shared):
        if holder is None or 'DerivationImageSequence' not in holder:
            continue
        for der in holder.DerivationImageSequence:
            for src in der.get('SourceImageSequence', []):
                uid = str(src.get('ReferencedSOPInstanceUID', '')) or None
                frame = src.get('ReferencedFrameNumber')
                if frame is not None and not isinstance(frame, int):
                    frame = int(list(frame)[0]) if len(list(frame)) else None
                return uid, None if frame is None else int(frame)
    return None, None


def _segment_number(item, shared) -> Optional[int]:
    for holder in (item, shared):
        if holder is not None and 'SegmentIdentificationSequence' in holder:
            return int(holder.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
    return None


def to_volume_layout(plane: np.ndarray, volume: CTVolume) -> np.ndarray:
    """A plane in the source images' stored pixel layout in the volume's ``(H, W)`` layout: the transpose and
    flips :func:`~mmdet3dctx.io.read_dicom_series` applied to the CT (``metadata['pixel_transform']``)."""
    t = volume.metadata.get('pixel_transform') or {}
    m = np.asarray(plane)
    if t.get('transpose'):
        m = m.T
    if t.get('flip_cols'):
        m = m[:, ::-1]
    if t.get('flip_rows'):
        m = m[::-1]
    return m


def referenced_series(seg_path: str) -> Optional[str]:
    """The CT series a SEG references (the first of its ``ReferencedSeriesSequence``), or None."""
    import pydicom
    ds = pydicom.dcmread(seg_path, stop_before_pixels=True)
    seq = ds.get('ReferencedSeriesSequence') or []
    return str(seq[0].SeriesInstanceUID) if len(seq) else None


def read_seg_masks(seg_path: str, volume: CTVolume, case_id: str,
                   segments: Optional[Sequence[int]] = None) -> Tuple[Dict[int, np.ndarray], Dict[int, str]]:
    """The segments of a SEG as ``(Z, H, W)`` bool masks on the CT volume's voxels.

    Args:
        seg_path (str): the SEG file (read with ``highdicom.seg.segread``).
        volume (CTVolume): the CT series it segments (read by :func:`~mmdet3dctx.io.read_dicom_series`, with
            ``slice_refs``).
        case_id (str): named in errors.
        segments (Sequence[int], optional): the segment numbers to read (all by default; those the SEG lacks
            are left out).

    Returns:
        tuple: ``{segment number: mask}`` and ``{segment number: SegmentLabel}``.

    Raises:
        VolumeDatasetError: an unreadable SEG, one that references images not in the CT series, a frame without a
            source image reference, frames of another size than the CT's images.
    """
    try:
        import highdicom as hd
        seg = hd.seg.segread(seg_path)
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001
        raise VolumeDatasetError(f'case {case_id!r}: {seg_path}: not a readable DICOM SEG ({type(e).__name__}: '
                                 f'{e})') from e
    where = f'case {case_id!r}: {seg_path}'
    refs = volume.slice_refs
    by_ref = {(r['sop_instance_uid'], r['frame']): k for k, r in enumerate(refs)}
    multi = {r['sop_instance_uid'] for r in refs if r['frame'] is not None}
    known = {r['sop_instance_uid'] for r in refs}
    series_uid = volume.metadata.get('series_uid')
    # every image the SEG says it references must be one of the study's CT images
    listed = [(str(se.get('SeriesInstanceUID', '')), str(it.ReferencedSOPInstanceUID))
              for se in seg.get('ReferencedSeriesSequence', []) for it in se.get('ReferencedInstanceSequence', [])]
    foreign = [uid for _, uid in listed if uid not in known]
    if foreign:
        raise VolumeDatasetError(f'{where} references {len(foreign)} image(s) not in the study\'s CT series '
                                 f'{series_uid} (first: SOP Instance UID {foreign[0]}); put the SEG beside the '
                                 'series it was drawn on')
    labels = {int(s.SegmentNumber): str(s.get('SegmentLabel', f'segment {int(s.SegmentNumber)}'))
              for s in seg.SegmentSequence}
    # segments asked for but absent hold no lesion of that study
    wanted = set(labels) if segments is None or len(segments) == 0 else {int(s) for s in segments} & set(labels)
    z, h, w = volume.hu.shape
    stored_shape = (int(seg.Rows), int(seg.Columns))
    transposed = bool((volume.metadata.get('pixel_transform') or {}).get('transpose'))
    if stored_shape != ((w, h) if transposed else (h, w)):
        raise VolumeDatasetError(f'{where}: frames of {stored_shape[0]}x{stored_shape[1]} pixels; the CT images '
                                 f'are {h}x{w} (a SEG must be on its images\' pixel grid)')
    pixels = np.asarray(seg.pixel_array)
    if pixels.ndim == 2:
        pixels = pixels[None]
    seg_type = str(seg.get('SegmentationType', 'BINARY')).upper()
    threshold = 0.5 * float(seg.get('MaximumFractionalValue', 1) or 1) if seg_type == 'FRACTIONAL' else 0
    shared = seg.SharedFunctionalGroupsSequence[0] if 'SharedFunctionalGroupsSequence' in seg else None
    per_frame = seg.get('PerFrameFunctionalGroupsSequence') or []
    masks = {s: np.zeros((z, h, w), bool) for s in sorted(wanted)}
    for f in range(pixels.shape[0]):
        item = per_frame[f] if f < len(per_frame) else None
        uid, frame = _frame_reference(item, shared)
        if uid is None:
            raise VolumeDatasetError(f'{where}: frame {f + 1} names no source image (DerivationImageSequence); '
                                     'frames are placed on the CT slices they reference')
        if uid not in known:
            raise VolumeDatasetError(f'{where}: frame {f + 1} references the image {uid}, which is not in the '
                                     f'study\'s CT series {series_uid}')
        if uid in multi and frame is None:
            raise VolumeDatasetError(f'{where}: frame {f + 1} references the multi-frame image {uid} without a '
                                     'frame number')
        k = by_ref.get((uid, frame if uid in multi else None))
        if k is None:
            raise VolumeDatasetError(f'{where}: frame {f + 1} references frame {frame} of {uid}, not in the series')
        if seg_type == 'LABELMAP':  # pixel values are segment numbers
            for s in wanted:
                masks[s][k] |= to_volume_layout(pixels[f] == s, volume)
            continue
        s = _segment_number(item, shared)
        if s is None:
            raise VolumeDatasetError(f'{where}: frame {f + 1} names no segment (SegmentIdentificationSequence)')
        if s in wanted:
            masks[s][k] |= to_volume_layout(pixels[f] > threshold, volume)
    return masks, labels


def _load_study(case_id: str, folder: str, seg_path: Optional[str], segments: Sequence[int]) -> LoadedCase:
    series_uid = referenced_series(seg_path) if seg_path else None
    try:
        vol = read_dicom_series(folder, series_uid=series_uid)
    except ValueError as e:
        if series_uid is not None and f'no series {series_uid!r}' in str(e):
            raise VolumeDatasetError(f'case {case_id!r}: {seg_path} references images of the CT series '
                                     f'{series_uid}, which is not in the study {folder}') from e
        raise VolumeDatasetError(f'case {case_id!r}: {e}') from e
    lesion_map = np.zeros(vol.hu.shape, np.uint16)
    lesions: List[dict] = []
    if seg_path:
        masks, labels = read_seg_masks(seg_path, vol, case_id, segments)
        for s, mask in masks.items():
            lesion_map, found = instances_from_labels(mask, [True], {1: labels[s]}, start=len(lesions) + 1,
                                                      lesion_map=lesion_map)
            lesions += [dict(label=s, label_name=labels[s]) for _ in found]
    return LoadedCase(volume=vol, lesion_map=lesion_map, lesions=lesions,
                      patient_id=vol.metadata.get('patient_id'))


def list_dicom_seg_cases(src: str, lesion_labels: Optional[Sequence[int]] = None) -> SourceListing:
    """The studies of a folder of DICOM study folders with SEGs.

    Args:
        src (str): the folder of study folders (or of ``train``/``val``/``test`` folders of them).
        lesion_labels (Sequence[int], optional): the segment numbers that are lesions (all by default).

    Raises:
        VolumeDatasetError: no study folder, no SEG in any study, a study with several SEGs, two studies with one
            name (in different split folders).
    """
    if not osp.isdir(src):
        raise VolumeDatasetError(f'{src}: not a folder of DICOM study folders')
    subdirs = sorted(d for d in os.listdir(src) if osp.isdir(osp.join(src, d)) and not d.startswith('.'))
    has_split = bool(subdirs) and set(subdirs) <= set(SPLIT_FOLDERS)
    studies = ([(d, osp.join(src, split, d), split) for split in subdirs
                for d in sorted(os.listdir(osp.join(src, split)))
                if osp.isdir(osp.join(src, split, d)) and not d.startswith('.')] if has_split else
               [(d, osp.join(src, d), None) for d in subdirs])
    if not studies:
        raise VolumeDatasetError(f'{src}: no study folders (one folder per study, each with its CT series and SEG)')
    segments = [int(v) for v in lesion_labels or []]
    cases, skipped, seg_count = [], [], 0
    for case_id, folder, split in studies:
        files = files_under(folder)
        segs, any_dicom = find_seg_files(files)
        if not any_dicom:
            skipped.append((folder, 'no DICOM files'))
            continue
        if len(segs) > 1:
            raise VolumeDatasetError(f'case {case_id!r}: {folder} holds {len(segs)} DICOM SEG files '
                                     f'({", ".join(segs)}); keep one per study')
        seg = segs[0] if segs else None
        seg_count += bool(seg)
        cases.append(SourceCase(case_id=case_id, image=osp.abspath(folder), files=files, split=split,
                                load=lambda c=case_id, f=folder, s=seg: _load_study(c, f, s, segments),
                                signature=dict(lesion_labels=segments, seg=seg)))
    if not seg_count:
        raise VolumeDatasetError(f'{src}: no DICOM SEG in any of its {len(cases)} study folder(s)')
    check_case_ids(cases)
    return SourceListing(cases=cases, skipped=skipped, lesion_labels=segments, has_split=has_split)


__all__ = ['list_dicom_seg_cases', 'read_seg_masks', 'find_seg_files', 'to_volume_layout', 'SEG_SOP_CLASS']
