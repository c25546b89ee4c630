"""Reader of DeepLesion's ``DL_info.csv``.

Pure Python/NumPy (no MMDetection import), so evaluation scripts can use it on their own.

The CSV has one row per lesion and 18 columns (see ``DL_INFO_COLUMNS``). Multi-valued cells are
comma-separated numbers in one quoted cell, coordinates are 1-based. Inside the toolkit coordinates are
0-based: every coordinate read here is the CSV value minus 1.
"""
import csv
import math
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

DL_INFO_COLUMNS = (
    'File_name',
    'Patient_index',
    'Study_index',
    'Series_ID',
    'Key_slice_index',
    'Measurement_coordinates',
    'Bounding_boxes',
    'Lesion_diameters_Pixel_',
    'Normalized_lesion_location',
    'Coarse_lesion_type',
    'Possibly_noisy',
    'Slice_range',
    'Spacing_mm_px_',
    'Image_size',
    'DICOM_windows',
    'Patient_gender',
    'Patient_age',
    'Train_Val_Test',
)

#: ``Coarse_lesion_type`` codes; -1 means not labelled (the whole training split).
LESION_TYPES = {
    -1: 'unlabelled',
    1: 'bone',
    2: 'abdomen',
    3: 'mediastinum',
    4: 'liver',
    5: 'lung',
    6: 'kidney',
    7: 'soft tissue',
    8: 'pelvis',
}

#: DeepLesion's splits: name -> ``Train_Val_Test`` code (:func:`parse_split` reads either; ``SPLITS.items()`` lists
#: both).
SPLITS = {'train': 1, 'val': 2, 'test': 3}

_FILE_NAME_RE = re.compile(r'^(\d+)_(\d+)_(\d+)_(\d+)\.png$')

# Tolerance (pixels) for a box or RECIST point beyond the image borders before it is an error.
_BORDER_TOL = 1.0


class DLInfoError(ValueError):
    """Malformed ``DL_info.csv``; the message names the file and the row."""


def file_name_to_img_path(file_name: str) -> str:
    """Relative path of a key slice PNG from its ``File_name``.

    Args:
        file_name (str): e.g. ``'000001_01_01_103.png'``.

    Returns:
        str: e.g. ``'Images_png/000001_01_01/103.png'`` (the last ``_`` replaced by ``/``).
    """
    series, _, slice_name = file_name.rpartition('_')
    if not series:
        raise ValueError(f'not a DeepLesion file name: {file_name!r}')
    return f'Images_png/{series}/{slice_name}'


def series_dir(file_name: str) -> str:
    """Relative folder of the series a ``File_name`` belongs to, e.g. ``'Images_png/000001_01_01'``."""
    return osp.dirname(file_name_to_img_path(file_name))


def parse_split(split: Union[None, int, str]) -> Optional[int]:
    """Normalise a split given as ``'train'|'val'|'test'``, 1/2/3 or None (all) to its code."""
    if split is None:
        return None
    if isinstance(split, str):
        if split.lower() not in SPLITS:
            raise ValueError(f'split must be one of {sorted(SPLITS)} or 1/2/3, got {split!r}')
        return SPLITS[split.lower()]
    if int(split) not in SPLITS.values():
        raise ValueError(f'split must be one of {sorted(SPLITS)} or 1/2/3, got {split!r}')
    return int(split)


def select_split(infos: List[dict], split: Union[None, int, str] = None, skip_noisy: bool = True) -> List[dict]:
    """The key slices of one split, lesions flagged ``Possibly_noisy`` dropped (and key slices left without one).

    :func:`load_key_slices`, :class:`~mmdet3dctx.datasets.DeepLesionDataset` (from the CSV or the COCO-style
    JSON) and the evaluation of saved detections select their key slices with this function.

    Args:
        infos (list[dict]): Key slices with all their lesions (:func:`group_key_slices`,
            :func:`~mmdet3dctx.datasets.deeplesion_coco.load_coco_key_slices`).
        split (None | int | str): ``'train'``/``'val'``/``'test'`` or 1/2/3 keeps that ``Train_Val_Test`` split;
            None keeps all. Defaults to None.
        skip_noisy (bool): Drop lesions flagged ``noisy``, and key slices left with none. Defaults to True.

    Returns:
        list[dict]: The kept key slices in their order; with ``skip_noisy`` each is a copy of its dict with the
        kept ``instances``.

    Raises:
        ValueError: For an unknown split.
    """
    code = parse_split(split)
    out = []
    for info in infos:
        if code is not None and info['split'] != code:
            continue
        if skip_noisy:
            lesions = [ins for ins in info['instances'] if not ins['noisy']]
            if not lesions:
                continue
            info = dict(info, instances=lesions)
        out.append(info)
    return out


def _numbers(cell: str, counts: Sequence[int], what: str) -> List[float]:
    parts = [p.strip() for p in cell.split(',')]
    if parts and parts[-1] == '' and len(parts) - 1 in counts:
        parts = parts[:-1]  # a trailing comma
    if len(parts) not in counts:
        raise ValueError(f'{what} needs {" or ".join(map(str, counts))} comma-separated numbers, '
                         f'got {cell!r}')
    values = []
    for p in parts:
        try:
            values.append(float(p) if p else math.nan)
        except ValueError:
            raise ValueError(f'{what}: cannot parse {p!r} as a number in {cell!r}') from None
    return values


def _integer(cell: str, what: str) -> int:
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f'{what}: cannot parse {cell!r} as an integer') from None
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f'{what}: {cell!r} is not an integer')
    return int(value)


def _finite(values: Sequence[float], what: str) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'{what} must be finite numbers, got {list(values)}')


def _parse_row(raw: Dict[str, str]) -> dict:
    """Parse and validate the cells of one CSV row (raises ValueError)."""
    row = {}
    name = raw['File_name'].strip()
    match = _FILE_NAME_RE.match(name)
    if match is None:
        raise ValueError(f'File_name {name!r} is not of the form PPPPPP_SS_ss_KKK.png')
    row['File_name'] = name
    for col in ('Patient_index', 'Study_index', 'Series_ID', 'Key_slice_index', 'Coarse_lesion_type',
                'Possibly_noisy', 'Train_Val_Test'):
        row[col] = _integer(raw[col].strip(), col)
    for col, idx in (('Patient_index', 1), ('Study_index', 2), ('Series_ID', 3), ('Key_slice_index', 4)):
        if int(match.group(idx)) != row[col]:
            raise ValueError(f'{col}={row[col]} disagrees with File_name {name!r}')
    if row['Coarse_lesion_type'] not in LESION_TYPES:
        raise ValueError(f'Coarse_lesion_type must be one of {sorted(LESION_TYPES)}, '
                         f'got {row["Coarse_lesion_type"]}')
    if row['Possibly_noisy'] not in (0, 1):
        raise ValueError(f'Possibly_noisy must be 0 or 1, got {row["Possibly_noisy"]}')
    if row['Train_Val_Test'] not in SPLITS.values():
        raise ValueError(f'Train_Val_Test must be 1, 2 or 3, got {row["Train_Val_Test"]}')

    recist = _numbers(raw['Measurement_coordinates'], (8, ), 'Measurement_coordinates')
    box = _numbers(raw['Bounding_boxes'], (4, ), 'Bounding_boxes')
    diam = _numbers(raw['Lesion_diameters_Pixel_'], (2, ), 'Lesion_diameters_Pixel_')
    loc = _numbers(raw['Normalized_lesion_location'], (3, ), 'Normalized_lesion_location')
    srange = _numbers(raw['Slice_range'], (2, ), 'Slice_range')
    spacing = _numbers(raw['Spacing_mm_px_'], (2, 3), 'Spacing_mm_px_')
    size = _numbers(raw['Image_size'], (2, ), 'Image_size')
    window = _numbers(raw['DICOM_windows'], (2, ), 'DICOM_windows')
    for values, what in ((recist, 'Measurement_coordinates'), (box, 'Bounding_boxes'),
                         (diam, 'Lesion_diameters_Pixel_'), (loc, 'Normalized_lesion_location'),
                         (srange, 'Slice_range'), (spacing[:2], 'Spacing_mm_px_ (x, y)'),
                         (size, 'Image_size'), (window, 'DICOM_windows')):
        _finite(values, what)
    if len(spacing) == 2:
        spacing.append(math.nan)
    if any(v != int(v) for v in srange + size):
        raise ValueError(f'Slice_range and Image_size must be integers, got {srange} and {size}')
    srange = [int(v) for v in srange]
    size = [int(v) for v in size]
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f'Image_size must be positive, got {size}')
    if not srange[0] <= row['Key_slice_index'] <= srange[1]:
        raise ValueError(f'Key_slice_index {row["Key_slice_index"]} is outside Slice_range {srange}')
    if spacing[0] <= 0 or spacing[1] <= 0:
        raise ValueError(f'Spacing_mm_px_ pixel spacing must be positive, got {spacing[:2]}')
    if box[2] < box[0] or box[3] < box[1]:
        raise ValueError(f'Bounding_boxes {box} has x2 < x1 or y2 < y1')
    w, h = size
    for values, what in ((box, 'Bounding_boxes'), (recist, 'Measurement_coordinates')):
        xs, ys = values[0::2], values[1::2]
        # 1-based pixel centres run from 1 to w (resp. h).
        if (min(xs) < 1 - _BORDER_TOL or max(xs) > w + _BORDER_TOL or min(ys) < 1 - _BORDER_TOL
                or max(ys) > h + _BORDER_TOL):
            raise ValueError(f'{what} {values} lies outside the {w}x{h} image')
    if diam[0] < 0 or diam[1] < 0:
        raise ValueError(f'Lesion_diameters_Pixel_ must be non-negative, got {diam}')

    row['Measurement_coordinates'] = tuple(recist)
    row['Bounding_boxes'] = tuple(box)
    row['Lesion_diameters_Pixel_'] = tuple(diam)
    row['Normalized_lesion_location'] = tuple(loc)
    row['Slice_range'] = tuple(srange)
    row['Spacing_mm_px_'] = tuple(spacing)
    row['Image_size'] = tuple(size)
    row['DICOM_windows'] = tuple(window)
    sex = raw['Patient_gender'].strip()
    if sex not in ('M', 'F', ''):
        raise ValueError(f'Patient_gender must be M, F or empty, got {sex!r}')
    row['Patient_gender'] = sex
    age = raw['Patient_age'].strip()
    try:
        row['Patient_age'] = float(age) if age else math.nan
    except ValueError:
        raise ValueError(f'Patient_age: cannot parse {age!r}') from None
    return row


def read_dl_info(csv_path: str) -> List[dict]:
    """Read, parse and validate every row of a ``DL_info.csv``.

    Args:
        csv_path (str): Path of the CSV.

    Returns:
        list[dict]: One dict per CSV row, keyed by the column names of ``DL_INFO_COLUMNS`` with parsed values
        (ints; tuples of floats for multi-valued cells, tuples of ints for ``Slice_range`` and ``Image_size``;
        ``Spacing_mm_px_`` has 3 values, the slice interval NaN when missing; ``Patient_age`` a float, NaN when
        empty). Coordinates are left as in the CSV (1-based). ``row`` is the line number in the file (the
        header is line 1).

    Raises:
        FileNotFoundError: The CSV does not exist.
        DLInfoError: A column is missing or a row is malformed; the message names the file and the row.
    """
    if not osp.isfile(csv_path):
        raise FileNotFoundError(f'DeepLesion annotation file not found: {csv_path}')
    rows = []
    with open(csv_path, newline='') as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in DL_INFO_COLUMNS if c not in header]
        if missing:
            raise DLInfoError(f'{csv_path}: missing column(s) {missing} in the header (line 1)')
        reader.fieldnames = header
        for raw in reader:
            line = reader.line_num
            if all(v is None or not str(v).strip() for v in raw.values()):
                continue  # blank line
            if None in raw or any(raw[c] is None for c in DL_INFO_COLUMNS):
                raise DLInfoError(f'{csv_path}, row {line}: expected {len(header)} cells')
            try:
                row = _parse_row(raw)
            except ValueError as e:
                raise DLInfoError(f'{csv_path}, row {line} ({raw["File_name"].strip()}): {e}') from None
            row['row'] = line
            rows.append(row)
    return rows


def _instance(row: dict) -> dict:
    sx = row['Spacing_mm_px_'][0]
    long_px, short_px = row['Lesion_diameters_Pixel_']
    return dict(
        bbox=[v - 1.0 for v in row['Bounding_boxes']],
        bbox_label=0,
        ignore_flag=0,
        recist=[v - 1.0 for v in row['Measurement_coordinates']],
        diameters_mm=(long_px * sx, short_px * sx),
        diameters_px=(long_px, short_px),
        lesion_type=row['Coarse_lesion_type'],
        noisy=bool(row['Possibly_noisy']),
        location=row['Normalized_lesion_location'],
        row=row['row'],
    )


_PER_IMAGE = ('Slice_range', 'Spacing_mm_px_', 'Image_size', 'DICOM_windows', 'Train_Val_Test',
              'Patient_gender')


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def group_key_slices(rows: List[dict], csv_path: str = 'DL_info.csv') -> List[dict]:
    """Group parsed CSV rows (from :func:`read_dl_info`) by key slice, all lesions kept.

    Args:
        rows (list[dict]): Parsed rows.
        csv_path (str): File name used in error messages.

    Returns:
        list[dict]: Key slices in order of first appearance; see :func:`load_key_slices`.
    """
    slices: 'OrderedDict[str, dict]' = OrderedDict()
    for row in rows:
        name = row['File_name']
        info = slices.get(name)
        if info is None:
            first = row
            spacing = row['Spacing_mm_px_']
            info = dict(
                file_name=name,
                img_path=file_name_to_img_path(name),
                patient_index=row['Patient_index'],
                study_index=row['Study_index'],
                series_id=row['Series_ID'],
                key_slice=row['Key_slice_index'],
                slice_range=row['Slice_range'],
                slice_interval=float(spacing[2]),
                spacing=(float(spacing[0]), float(spacing[1])),
                image_size=row['Image_size'],
                width=row['Image_size'][0],
                height=row['Image_size'][1],
                dicom_window=row['DICOM_windows'],
                sex=row['Patient_gender'],
                age=row['Patient_age'],
                split=row['Train_Val_Test'],
                rows=[],
                instances=[],
                _first=first,
            )
            slices[name] = info
        else:
            first = info['_first']
            for col in _PER_IMAGE:
                if not _same(first[col], row[col]):
                    raise DLInfoError(f'{csv_path}, row {row["row"]} ({name}): {col}={row[col]} disagrees '
                                      f'with {first[col]} on row {first["row"]} of the same key slice')
        info['rows'].append(row['row'])
        info['instances'].append(_instance(row))
    out = []
    for info in slices.values():
        del info['_first']
        out.append(info)
    return out


def load_key_slices(csv_path: str, split: Union[None, int, str] = None, skip_noisy: bool = True) -> List[dict]:
    """Read ``DL_info.csv`` into one dict per unique key slice.

    Args:
        csv_path (str): Path of ``DL_info.csv``.
        split (None | int | str): ``'train'``/``'val'``/``'test'`` or 1/2/3 keeps that ``Train_Val_Test``
            split; None keeps all. Defaults to None.
        skip_noisy (bool): Drop lesions flagged ``Possibly_noisy``, and key slices left with none.
            Defaults to True.

    Returns:
        list[dict]: In order of first appearance in the CSV, each with ``file_name`` (``'000001_01_01_103.png'``),
        ``img_path`` (relative, ``'Images_png/000001_01_01/103.png'``), ``patient_index``, ``study_index``,
        ``series_id``, ``key_slice`` (int), ``slice_range`` (first, last), ``slice_interval`` (mm, NaN if
        missing), ``spacing`` (x, y mm/px), ``image_size`` (w, h), ``width``, ``height``, ``dicom_window``
        (low, high HU), ``sex`` (``'M'``/``'F'``/``''``), ``age`` (float, NaN if empty), ``split`` (1/2/3),
        ``rows`` (CSV line numbers) and ``instances``: one dict per lesion with ``bbox`` (0-based
        [x1, y1, x2, y2] floats: the CSV value minus 1), ``bbox_label`` (0), ``ignore_flag`` (0), ``recist``
        (8 numbers, 0-based), ``diameters_mm`` (long, short: pixel diameters times the x spacing),
        ``diameters_px``, ``lesion_type`` (int, -1 unlabelled), ``noisy`` (bool), ``location`` (normalised
        x, y, z) and ``row`` (CSV line number).

    Raises:
        DLInfoError: The CSV is malformed; the message names the file and the row.

    Example:
        >>> infos = load_key_slices('data/DeepLesion/DL_info.csv', split='test')  # doctest: +SKIP
        >>> infos[0]['img_path'], infos[0]['instances'][0]['bbox']  # doctest: +SKIP
    """
    code = parse_split(split)  # an unknown split fails before the file is read
    return select_split(group_key_slices(read_dl_info(csv_path), csv_path), code, skip_noisy)


def split_counts(infos: List[dict]) -> Dict[int, int]:
    """Number of key slices per split code in a list from :func:`load_key_slices`."""
    counts = dict.fromkeys(SPLITS.values(), 0)
    for info in infos:
        counts[info['split']] += 1
    return counts


__all__ = [
    'DL_INFO_COLUMNS', 'LESION_TYPES', 'SPLITS', 'DLInfoError', 'read_dl_info', 'load_key_slices',
    'group_key_slices', 'file_name_to_img_path', 'series_dir', 'parse_split', 'select_split', 'split_counts'
]
