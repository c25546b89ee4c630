"""Reading CT series from DICOM study folders as scanners and PACS export them (pydicom).

A study folder is searched recursively (or through its ``DICOMDIR``); files are grouped by
``SeriesInstanceUID``; scouts/localizers, dose screens and reports, and files that are not DICOM images are
skipped with a reason. Compressed pixel data is decoded by pydicom's pixel-data plugins (pylibjpeg, pyjpegls;
``requirements/dicom.txt``). Single-frame series and enhanced (multi-frame) CT objects with per-frame positions
are read into one :class:`CTVolume` layout (see there).
"""
import logging
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .ct_volume import GAP_FACTOR, CTVolume

logger = logging.getLogger(__name__)

#: orientation assumed where ImageOrientationPatient is missing: a plain axial slice
AXIAL = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])

#: SOP classes that hold images but not of the patient's anatomy (skipped with this reason)
NON_ANATOMY_SOP_CLASSES = {
    '1.2.840.10008.5.1.4.1.1.7': 'secondary capture (a screenshot, e.g. a dose screen)',
    '1.2.840.10008.5.1.4.1.1.481.2': 'RT dose grid',
}


class DicomSeriesError(ValueError):
    """A DICOM folder that cannot be read as one CT series; the message names the files or tags at fault."""


@dataclass
class SkippedFile:
    """A file of the study that is not read, and why."""
    path: str
    reason: str


@dataclass
class FrameRef:
    """One image plane of a series: a single-frame file, or one frame of a multi-frame object."""
    path: str
    frame: Optional[int]  # 1-based frame number in a multi-frame object, None for single-frame files
    sop_instance_uid: str
    position: Optional[np.ndarray]  # ImagePositionPatient (3,)
    orientation: Optional[np.ndarray]  # ImageOrientationPatient (6,)
    pixel_spacing: Optional[np.ndarray]  # (row spacing, column spacing)
    rescale: Tuple[Optional[float], Optional[float]]  # slope, intercept
    instance_number: Optional[float] = None
    slice_location: Optional[float] = None
    shape: Tuple[int, int] = (0, 0)


@dataclass
class SeriesInfo:
    """A series found in a study folder (headers only).

    Attributes:
        uid (str): SeriesInstanceUID.
        modality (str), description (str): the tags of its first file.
        orientation (str): 'axial', 'coronal', 'sagittal' or 'unknown' (no ImageOrientationPatient).
        frames (list[FrameRef]): its image planes.
        headers (dict): path -> dataset without pixel data.
    """
    uid: str
    modality: str = ''
    description: str = ''
    orientation: str = 'unknown'
    frames: List[FrameRef] = field(default_factory=list)
    headers: Dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> List[str]:
        return list(dict.fromkeys(f.path for f in self.frames))

    @property
    def num_slices(self) -> int:
        return len(self.frames)

    @property
    def spacing(self) -> Optional[Tuple[float, float, float]]:
        """``(z, y, x)`` mm: median step of the positions along the normal and the pixel spacing (None where
        unknown)."""
        f0 = self.frames[0]
        ps = f0.pixel_spacing
        z = None
        if all(f.position is not None for f in self.frames) and len(self.frames) > 1:
            normal = _normal(f0.orientation if f0.orientation is not None else AXIAL)
            pos = np.sort([float(np.dot(f.position, normal)) for f in self.frames])
            steps = np.diff(pos)
            z = float(np.median(steps)) if steps.size else None
        if ps is None and z is None:
            return None
        return (z, *(ps if ps is not None else (None, None)))

    def summary(self) -> str:
        """One line: UID, description, modality, orientation, slice count, spacing."""
        sp = self.spacing
        sp_txt = 'spacing unknown' if sp is None else 'spacing ' + ' x '.join(
            '?' if v is None else f'{v:.3g}' for v in sp) + ' mm (z, y, x)'
        return (f'{self.uid}  {self.description or "(no description)"!r}  {self.modality or "?"}  '
                f'{self.orientation}  {self.num_slices} slice(s)  {sp_txt}')


def _floats(ds, tag, n=None) -> Optional[np.ndarray]:
    from pydicom.multival import MultiValue
    value = ds.get(tag) if ds is not None else None
    if value is None or value == '':
        return None
    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    try:
        arr = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if n is not None and arr.shape[0] != n:
        return None
    return arr


def _first(v):
    return None if v is None else float(v[0])


def _normal(iop: np.ndarray) -> np.ndarray:
    return np.cross(iop[:3], iop[3:])


def orientation_name(iop: Optional[np.ndarray]) -> str:
    """'axial', 'coronal' or 'sagittal' after the largest component of the slice normal (x: sagittal,
    y: coronal, z: axial); 'unknown' without an orientation."""
    if iop is None:
        return 'unknown'
    return ('sagittal', 'coronal', 'axial')[int(np.argmax(np.abs(_normal(iop))))]


def _item(seq_holder, name):
    seq = seq_holder.get(name) if seq_holder is not None else None
    return seq[0] if seq else None


def _frames_of(path: str, ds) -> List[FrameRef]:
    """The image planes of one dataset (one for single-frame files, one per frame for enhanced objects)."""
    sop = str(ds.get('SOPInstanceUID', ''))
    shape = (int(ds.Rows), int(ds.Columns))
    nframes = int(ds.get('NumberOfFrames', 1) or 1)
    per_frame = ds.get('PerFrameFunctionalGroupsSequence')
    if nframes > 1 or per_frame is not None:
        shared = _item(ds, 'SharedFunctionalGroupsSequence')
        frames = []
        for f in range(nframes):
            pf = per_frame[f] if per_frame is not None and f < len(per_frame) else None

            def group(name):
                return _item(pf, name) or _item(shared, name)

            pos = _floats(group('PlanePositionSequence'), 'ImagePositionPatient', 3)
            iop = _floats(group('PlaneOrientationSequence'), 'ImageOrientationPatient', 6)
            ps = _floats(group('PixelMeasuresSequence'), 'PixelSpacing', 2)
            pvt = group('PixelValueTransformationSequence')
            slope, inter = _first(_floats(pvt, 'RescaleSlope', 1)), _first(_floats(pvt, 'RescaleIntercept', 1))
            if slope is None:
                slope, inter = _first(_floats(ds, 'RescaleSlope', 1)), _first(_floats(ds, 'RescaleIntercept', 1))
            frames.append(FrameRef(path, f + 1, sop, pos, iop if iop is not None else
                                   _floats(ds, 'ImageOrientationPatient', 6),
                                   ps if ps is not None else _floats(ds, 'PixelSpacing', 2), (slope, inter),
                                   instance_number=float(f + 1), shape=shape))
        return frames
    return [FrameRef(path, None, sop, _floats(ds, 'ImagePositionPatient', 3),
                     _floats(ds, 'ImageOrientationPatient', 6), _floats(ds, 'PixelSpacing', 2),
                     (_first(_floats(ds, 'RescaleSlope', 1)), _first(_floats(ds, 'RescaleIntercept', 1))),
                     instance_number=_first(_floats(ds, 'InstanceNumber', 1)),
                     slice_location=_first(_floats(ds, 'SliceLocation', 1)), shape=shape)]


def _study_files(path: str, skipped: List[SkippedFile]) -> List[str]:
    """The files of a study: those its DICOMDIR references, else every file under ``path`` (sorted)."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise DicomSeriesError(f'{path}: no such file or folder')
    dicomdir = osp.join(path, 'DICOMDIR')
    if osp.isfile(dicomdir):
        import pydicom
        try:
            dd = pydicom.dcmread(dicomdir)
            records = dd.DirectoryRecordSequence
        except Exception as e:  # noqa: BLE001  (any unreadable DICOMDIR: fall back to the folder walk)
            warnings.warn(f'{dicomdir}: unreadable DICOMDIR ({e}); searching the folder instead')
        else:
            files = []
            for rec in records:
                ref = rec.get('ReferencedFileID')
                if ref is None:
                    continue
                parts = [ref] if isinstance(ref, str) else list(ref)
                f = osp.join(path, *parts)
                if not osp.isfile(f):  # media written in upper case on a case-sensitive file system
                    alt = osp.join(path, *[p.lower() for p in parts])
                    f = alt if osp.isfile(alt) else f
                if osp.isfile(f):
                    files.append(f)
                else:
                    skipped.append(SkippedFile(f, f'listed in {dicomdir} but missing'))
            skipped.append(SkippedFile(dicomdir, 'DICOMDIR (an index of the files, no image)'))
            return list(dict.fromkeys(files))
    out = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for n in sorted(names):
            out.append(osp.join(root, n))
    return out


def scan_dicom_study(path: str) -> Tuple[List[SeriesInfo], List[SkippedFile]]:
    """Find the image series of a study folder (recursive; ``DICOMDIR`` honoured) from the headers.

    Returns:
        tuple: the series (largest first) and the skipped files with their reasons (not DICOM, unreadable,
        no image — a structured report, dose report or presentation state —, a localizer/scout, a secondary
        capture, a single non-axial image).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    skipped: List[SkippedFile] = []
    groups: Dict[str, SeriesInfo] = {}
    for f in _study_files(path, skipped):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except InvalidDicomError:
            skipped.append(SkippedFile(f, 'not a DICOM file'))
            continue
        except Exception as e:  # noqa: BLE001  (truncated or corrupt header)
            skipped.append(SkippedFile(f, f'unreadable DICOM header ({type(e).__name__}: {e})'))
            continue
        if osp.basename(f) == 'DICOMDIR' or 'DirectoryRecordSequence' in ds:
            skipped.append(SkippedFile(f, 'DICOMDIR (an index of the files, no image)'))
            continue
        sop_class = str(ds.get('SOPClassUID', ''))
        if 'Rows' not in ds or 'Columns' not in ds:
            if not sop_class:
                skipped.append(SkippedFile(f, 'no image and no SOPClassUID (a truncated or incomplete file?)'))
                continue
            name = getattr(ds.get('SOPClassUID'), 'name', sop_class)
            skipped.append(SkippedFile(f, f'no image ({name}; Modality {ds.get("Modality", "?")})'))
            continue
        image_type = [str(v).upper() for v in (ds.get('ImageType') or [])]
        if 'LOCALIZER' in image_type:
            skipped.append(SkippedFile(f, 'localizer/scout image (ImageType ' + '\\'.join(image_type) + ')'))
            continue
        if sop_class in NON_ANATOMY_SOP_CLASSES:
            skipped.append(SkippedFile(f, NON_ANATOMY_SOP_CLASSES[sop_class]))
            continue
        uid = str(ds.get('SeriesInstanceUID', '')) or 'unknown-series'
        info = groups.get(uid)
        if info is None:
            info = groups[uid] = SeriesInfo(uid, str(ds.get('Modality', '')), str(ds.get('SeriesDescription', '')))
        try:
            frames = _frames_of(f, ds)
        except Exception as e:  # noqa: BLE001
            skipped.append(SkippedFile(f, f'unreadable image geometry ({type(e).__name__}: {e})'))
            continue
        info.frames.extend(frames)
        info.headers[f] = ds
    series = []
    for info in groups.values():
        iop = next((fr.orientation for fr in info.frames if fr.orientation is not None), None)
        info.orientation = orientation_name(iop)
        if info.num_slices == 1 and info.orientation not in ('axial', 'unknown'):
            skipped.append(SkippedFile(info.frames[0].path, f'a single {info.orientation} image (a localizer?)'))
            continue
        series.append(info)
    series.sort(key=lambda s: -s.num_slices)
    return series, skipped


def list_dicom_series(directory: str) -> Dict[str, List[str]]:
    """DICOM image files under ``directory`` (recursive) grouped by ``SeriesInstanceUID``."""
    if not osp.isdir(directory):
        raise DicomSeriesError(f'{directory}: not a directory')
    return {s.uid: s.files for s in scan_dicom_study(directory)[0]}


def choose_series(series: Sequence[SeriesInfo], series_uid: Optional[str] = None, where: str = '',
                  skipped: Sequence[SkippedFile] = ()) -> SeriesInfo:
    """The series ``series_uid``, or by default the axial CT series with the most slices."""
    if series_uid is not None:
        for s in series:
            if s.uid == series_uid:
                return s
        raise DicomSeriesError(f'{where}: no series {series_uid!r}; found {[s.uid for s in series]}')
    ct = [s for s in series if s.modality == 'CT' and s.orientation in ('axial', 'unknown')]
    if not ct:
        listing = '; '.join(s.summary() for s in series) or 'none'
        why = ''.join(f'\n  skipped {k.path}: {k.reason}' for k in list(skipped)[:20])
        raise DicomSeriesError(f'{where}: no axial CT series found (image series: {listing}){why}')
    return max(ct, key=lambda s: s.num_slices)  # stable: the first of equals


def _pixels(ds, path: str) -> np.ndarray:
    try:
        return np.asarray(ds.pixel_array)
    except Exception as e:  # noqa: BLE001  (missing decoder, truncated or corrupt pixel data)
        ts = getattr(getattr(ds, 'file_meta', None), 'TransferSyntaxUID', None)
        ts_txt = f' with transfer syntax {ts.name} ({ts})' if ts is not None else ''
        raise DicomSeriesError(f'{path}: cannot decode PixelData{ts_txt}: {type(e).__name__}: {e}') from e


@dataclass
class _InPlaneFrame:
    """How stored pixels map onto :class:`CTVolume`'s in-plane frame (W toward +x, the patient's left; H toward
    +y, posterior), and that frame in patient coordinates.

    Attributes:
        row (np.ndarray): ``(3,)`` direction of +W.
        col (np.ndarray): ``(3,)`` direction of +H.
        normal (np.ndarray): ``(3,)`` ``row × col``, the direction of increasing slice position.
        dy (float): mm between rows (along ``col``).
        dx (float): mm between columns (along ``row``).
        transpose (bool): the stored rows run along y (rows and columns are swapped).
        flip_w (bool): the stored columns run toward −x (reversed).
        flip_h (bool): the stored rows run toward −y (reversed).
    """
    row: np.ndarray
    col: np.ndarray
    normal: np.ndarray
    dy: float
    dx: float
    transpose: bool
    flip_w: bool
    flip_h: bool

    @property
    def direction(self) -> np.ndarray:
        """``(3, 3)`` columns ``row``, ``col``, ``normal``: the volume's W, H and D axes in patient space."""
        return np.stack([self.row, self.col, self.normal], 1)

    def apply(self, img: np.ndarray) -> np.ndarray:
        """A stored ``(Rows, Columns)`` plane laid out in this frame ``(H, W)`` (a view, no copy)."""
        if self.transpose:
            img = img.T
        if self.flip_w:
            img = img[:, ::-1]
        if self.flip_h:
            img = img[::-1]
        return img


def _select_series(path: str, series_uid: Optional[str], allow_non_ct: bool) -> SeriesInfo:
    """The series to read: ``series_uid``, the only one, or the axial CT series with the most slices (logged);
    a non-CT modality is refused unless ``allow_non_ct``."""
    series, skipped = scan_dicom_study(path)
    if not series:
        why = ''.join(f'\n  skipped {k.path}: {k.reason}' for k in skipped[:20])
        raise DicomSeriesError(f'{path}: no DICOM image files found{why}')
    if series_uid is None and len(series) == 1:
        info = series[0]
    else:
        info = choose_series(series, series_uid, path, skipped)
    if series_uid is None and len(series) > 1:
        logger.info('%s: reading series %s (%s, %d slices), the axial CT series with the most slices; '
                    'choose another with --series', path, info.uid, info.description or 'no description',
                    info.num_slices)
    modality = info.modality
    if modality and modality != 'CT' and not allow_non_ct:
        raise DicomSeriesError(f'{info.frames[0].path}: Modality [{modality!r}] is not CT; this reader makes HU '
                               'volumes from CT series only (allow_non_ct=True reads it anyway, without HU)')
    return info


def _axial_orientation(frames: Sequence[FrameRef]) -> np.ndarray:
    """The ``ImageOrientationPatient`` ``(6,)`` shared by every plane (axial where it is missing), checked to be
    one orientation and an axial one."""
    iops = [AXIAL if f.orientation is None else f.orientation for f in frames]
    ref = iops[0]
    for fr, iop in zip(frames, iops):
        if np.abs(iop - ref).max() > 1e-3:
            raise DicomSeriesError(f'{_name(fr)}: ImageOrientationPatient {iop.round(4).tolist()} differs from '
                                   f'{ref.round(4).tolist()} of {_name(frames[0])} (mixed orientations in one '
                                   'series)')
    kind = orientation_name(ref)
    if kind != 'axial':
        raise DicomSeriesError(f'{_name(frames[0])}: ImageOrientationPatient {ref.round(4).tolist()} is a {kind} '
                               'acquisition; the detectors take axial slices: reslice the series to axial '
                               '(e.g. in 3D Slicer) and read that')
    return ref


def _check_image_size(info: SeriesInfo, path: str) -> None:
    """Refuse a series whose planes differ in Rows x Columns, naming the first plane of each size."""
    first_of_shape = {}
    for fr in info.frames:
        first_of_shape.setdefault(fr.shape, fr)
    if len(first_of_shape) > 1:
        listing = ', '.join(f'{_name(fr)} has {s[0]}x{s[1]}' for s, fr in first_of_shape.items())
        raise DicomSeriesError(f'{path}: series {info.uid} mixes image sizes (Rows x Columns): {listing}')


def _in_plane_frame(iop: np.ndarray, frames: Sequence[FrameRef]) -> _InPlaneFrame:
    """The transposition and flips that bring stored planes of orientation ``iop`` into the volume's frame, and
    the pixel spacing (the first ``PixelSpacing`` of the series; 1 mm with a warning where none has one)."""
    row, col = iop[:3].copy(), iop[3:].copy()
    ps = next((f.pixel_spacing for f in frames if f.pixel_spacing is not None), None)
    if ps is None:
        warnings.warn(f'{_name(frames[0])}: no PixelSpacing; assuming 1 mm pixels')
        ps = np.array([1.0, 1.0])
    dy, dx = float(ps[0]), float(ps[1])  # between rows (along col), between columns (along row)
    transpose = abs(row[1]) > abs(row[0])
    if transpose:
        row, col, dx, dy = col, row, dy, dx
    flip_w, flip_h = row[0] < 0, col[1] < 0
    if flip_w:
        row = -row
    if flip_h:
        col = -col
    return _InPlaneFrame(row=row, col=col, normal=np.cross(row, col), dy=dy, dx=dx, transpose=transpose,
                         flip_w=flip_w, flip_h=flip_h)


def _slice_order(frames: Sequence[FrameRef], normal: np.ndarray, path: str) -> Tuple[np.ndarray, np.ndarray, str]:
    """The planes sorted along the slice normal.

    Positions are ``ImagePositionPatient`` projected on ``normal``; where a plane lacks it, ``SliceLocation``
    or else ``InstanceNumber`` of every plane (with a warning). Two planes at one position are refused.

    Returns:
        tuple: ``order`` ``(S,)`` indices into ``frames`` (stable sort), the sorted positions ``(S,)`` and the
        tag they come from (``'ImagePositionPatient'``, ``'SliceLocation'`` or ``'InstanceNumber'``).
    """
    ipps = [f.position for f in frames]
    if all(p is not None for p in ipps):
        positions = np.array([float(np.dot(p, normal)) for p in ipps])
        how = 'ImagePositionPatient'
    else:
        missing = [f for f, p in zip(frames, ipps) if p is None]
        loc = [f.slice_location for f in frames]
        inst = [f.instance_number for f in frames]
        if all(v is not None for v in loc):
            positions, how = np.array(loc, np.float64), 'SliceLocation'
        elif all(v is not None for v in inst):
            positions, how = np.array(inst, np.float64), 'InstanceNumber'
        else:
            raise DicomSeriesError(f'{_name(missing[0])}: no ImagePositionPatient, SliceLocation or InstanceNumber '
                                   'to order the slices by')
        if len(frames) > 1:
            warnings.warn(f'{path}: ImagePositionPatient missing in {len(missing)} files; slices ordered by {how}')

    order = np.argsort(positions, kind='stable')
    positions = positions[order]
    if len(positions) > 1:
        dup = np.flatnonzero(np.diff(positions) < 1e-4)
        if dup.size:
            a, b = frames[order[dup[0]]], frames[order[dup[0] + 1]]
            raise DicomSeriesError(f'{_name(a)} and {_name(b)} lie at the same slice position '
                                   f'{positions[dup[0]]:.3f} mm (two acquisitions in one series? pick one with '
                                   'AcquisitionNumber and put it in a folder of its own)')
    return order, positions, how


def _decode_hu(frames: Sequence[FrameRef], order: np.ndarray, frame: _InPlaneFrame) -> np.ndarray:
    """The planes' pixels in sorted order as float32 HU ``(S, H, W)`` in the volume's frame.

    Each file is read and decoded once (one file's frames held at a time); values are
    ``pixel * RescaleSlope + RescaleIntercept`` (1 and 0 where missing).
    """
    import pydicom
    decoded = {}
    slices = []
    for i in order:
        fr = frames[i]
        if fr.path not in decoded:
            try:
                ds = pydicom.dcmread(fr.path)
            except Exception as e:  # noqa: BLE001
                raise DicomSeriesError(f'{fr.path}: unreadable DICOM file ({type(e).__name__}: {e})') from e
            decoded = {fr.path: _pixels(ds, fr.path)}  # keep one file's frames at a time
        pix = decoded[fr.path]
        if fr.frame is not None:
            pix = pix[fr.frame - 1] if pix.ndim == 3 else pix
        if pix.shape != fr.shape:
            raise DicomSeriesError(f'{_name(fr)}: pixel data of shape {pix.shape}, Rows/Columns say {fr.shape}')
        slope, inter = fr.rescale
        img = pix.astype(np.float32)
        if slope is not None and slope != 1.0:
            img *= np.float32(slope)
        if inter:
            img += np.float32(inter)
        slices.append(frame.apply(img))
    return np.ascontiguousarray(np.stack(slices))


def _geometry(info: SeriesInfo, order: np.ndarray, positions: np.ndarray, ordered_by: str, frame: _InPlaneFrame,
              size: Tuple[int, int], path: str) -> Tuple[Tuple[float, float, float], np.ndarray, np.ndarray]:
    """Spacing, slice positions and origin of the volume.

    The slice spacing is the median step of the positions; for a single slice, or positions that are only
    instance numbers, ``SpacingBetweenSlices`` or ``SliceThickness`` (1 mm without either), and instance numbers
    become positions at that spacing. The origin is the first sorted plane's ``ImagePositionPatient`` moved to
    the volume's first pixel (the flips), or ``normal * positions[0]`` without one. An in-plane shift of the
    planes from first to last (a gantry tilt) is named in a warning: the affine has no shear.

    Args:
        size (tuple[int, int]): ``(H, W)`` of the volume.

    Returns:
        tuple: ``(dz, dy, dx)`` mm, positions ``(S,)`` mm, origin ``(3,)``.
    """
    frames = info.frames
    f0 = frames[order[0]]
    if len(positions) > 1 and ordered_by != 'InstanceNumber':
        dz = float(np.median(np.diff(positions)))
    else:
        hdr = info.headers.get(f0.path)
        dz_tag = _floats(hdr, 'SpacingBetweenSlices', 1)
        if dz_tag is None:
            dz_tag = _floats(hdr, 'SliceThickness', 1)
        dz = float(dz_tag[0]) if dz_tag is not None and dz_tag[0] > 0 else 1.0
        if ordered_by == 'InstanceNumber':
            positions = (positions - positions[0]) * dz
    dy, dx = frame.dy, frame.dx
    if f0.position is None:
        return (dz, dy, dx), positions, frame.normal * positions[0]
    h, w = size
    origin = f0.position.astype(np.float64).copy()
    if frame.flip_w:
        origin += (w - 1) * dx * (-frame.row)
    if frame.flip_h:
        origin += (h - 1) * dy * (-frame.col)
    if len(order) > 1:
        ipp_sorted = np.array([frames[i].position for i in order])
        drift = ipp_sorted[-1] - ipp_sorted[0]
        shift = drift - np.dot(drift, frame.normal) * frame.normal
        if np.linalg.norm(shift) > 0.05 * max(dx, dy) + 1e-3:
            warnings.warn(f'{path}: the slices shift by {np.linalg.norm(shift):.2f} mm in plane from '
                          f'{_name(frames[order[0]])} to {_name(frames[order[-1]])} (gantry tilt?); '
                          'positions are taken along the slice normal and the affine has no shear')
    return (dz, dy, dx), positions, origin


def _metadata(info: SeriesInfo, path: str, refs: List[dict], iop: np.ndarray, ordered_by: str,
              frame: _InPlaneFrame) -> dict:
    """``CTVolume.metadata`` of a DICOM series: where it was read from, its UIDs, the patient and study tags of
    its first sorted plane's file, how the slices were ordered and how the pixels were laid out."""
    hdr0 = info.headers.get(refs[0]['file'])

    def tag(name):
        v = hdr0.get(name) if hdr0 is not None else None
        return str(v) if v not in (None, '') else None

    return dict(source='dicom', directory=path, files=[r['file'] for r in refs], series_uid=info.uid,
                modality=info.modality or None, orientation=iop.tolist(), ordered_by=ordered_by,
                study_uid=tag('StudyInstanceUID'), series_description=info.description or None,
                frame_of_reference_uid=tag('FrameOfReferenceUID'), patient_id=tag('PatientID'),
                patient_name=tag('PatientName'), study_date=tag('StudyDate'),
                study_description=tag('StudyDescription'),
                pixel_transform=dict(transpose=bool(frame.transpose), flip_cols=bool(frame.flip_w),
                                     flip_rows=bool(frame.flip_h)))


def read_dicom_series(path: str, series_uid: Optional[str] = None, allow_non_ct: bool = False) -> CTVolume:
    """Read one CT series of a DICOM study folder (or file) into a :class:`CTVolume`.

    The series is ``series_uid`` or by default the axial CT series with the most slices (logged). Planes are
    sorted by ``ImagePositionPatient`` projected on the slice normal (``SliceLocation``, then ``InstanceNumber``
    where positions are missing, with a warning), laid out as :class:`CTVolume` documents (rows, columns and
    slice order flipped as the orientation needs), converted to HU with ``RescaleSlope``/``RescaleIntercept``
    (1 and 0 where missing). In-plane spacing comes from ``PixelSpacing`` (1 mm assumed, with a warning, where
    missing); the slice spacing is the median position step (``SpacingBetweenSlices`` or ``SliceThickness`` for
    a single slice). A gap (a step over 1.5× the median) is named in a warning.

    Args:
        path (str): study folder (searched recursively), series folder or one file.
        series_uid (str, optional): which series to read.
        allow_non_ct (bool): read a series whose ``Modality`` is not CT (the values are then not HU).

    Raises:
        DicomSeriesError: no CT series, an unknown ``series_uid``, a non-CT modality, a coronal or sagittal
            acquisition (reslice it to axial first), mixed orientations or image sizes, two planes at one
            position, undecodable pixel data; the message names the files and tags at fault.
    """
    info = _select_series(path, series_uid, allow_non_ct)
    iop = _axial_orientation(info.frames)
    _check_image_size(info, path)
    frame = _in_plane_frame(iop, info.frames)
    order, positions, ordered_by = _slice_order(info.frames, frame.normal, path)
    hu = _decode_hu(info.frames, order, frame)
    spacing, positions, origin = _geometry(info, order, positions, ordered_by, frame, hu.shape[1:], path)
    refs = [dict(file=info.frames[i].path, sop_instance_uid=info.frames[i].sop_instance_uid,
                 frame=info.frames[i].frame) for i in order]
    vol = CTVolume(hu=hu, spacing=spacing, positions=positions, origin=origin, direction=frame.direction,
                   metadata=_metadata(info, path, refs, iop, ordered_by, frame), slice_refs=refs,
                   headers=[info.headers[f] for f in info.files])
    _warn_gaps(vol, path)
    return vol


def _name(fr: FrameRef) -> str:
    return fr.path if fr.frame is None else f'{fr.path} (frame {fr.frame})'


def _warn_gaps(vol: CTVolume, where: str, gap_factor: float = GAP_FACTOR) -> None:
    runs = vol.runs(gap_factor)
    files = vol.metadata.get('files') or []
    for (_, a), (b, _) in zip(runs[:-1], runs[1:]):
        fa = f' ({files[a]})' if a < len(files) else ''
        fb = f' ({files[b]})' if b < len(files) else ''
        warnings.warn(f'{where}: a gap of {vol.positions[b] - vol.positions[a]:.2f} mm between the slices at '
                      f'{vol.positions[a]:.2f} mm{fa} and {vol.positions[b]:.2f} mm{fb} (the usual step is '
                      f'{vol.slice_interval:.2f} mm); the series is read as {len(runs)} separate runs and no input '
                      'or finding spans a gap')
