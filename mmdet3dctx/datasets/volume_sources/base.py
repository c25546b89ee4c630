"""What every volume source gives the preparation: its cases, each read on demand into a volume, a lesion instance
map and the lesions' labels; the error type its readers raise; lesion instances from a label volume."""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.io import CTVolume

#: the split names of a prepared volume dataset
SPLITS = ('train', 'val', 'test')

#: the voxel neighbourhood of a 3D connected component: 26-connectivity (faces, edges and corners)
CONNECTIVITY_26 = np.ones((3, 3, 3), bool)


class VolumeDatasetError(ValueError):
    """A volume dataset that cannot be prepared as it is; the message names the file, case, label or row at
    fault."""


@dataclass
class LoadedCase:
    """One case read from its source.

    Attributes:
        volume (CTVolume): the CT, HU in ``(Z, H, W)`` with its LPS geometry.
        lesion_map (np.ndarray): ``(Z, H, W)`` uint16, 0 background, ``n`` the voxels of lesion ``n``
            (``1..len(lesions)``).
        lesions (list[dict]): per lesion ``n`` (at ``n - 1``): ``label`` (int), ``label_name`` (str) and
            optionally ``diameter_mm`` (a diameter the source gives, e.g. a sphere table's) and more entries
            copied into the lesion's index record (e.g. ``row``).
        patient_id (str, optional): the patient, where the source names one (DICOM PatientID).
    """
    volume: CTVolume
    lesion_map: np.ndarray
    lesions: List[dict]
    patient_id: Optional[str] = None


@dataclass
class SourceCase:
    """A case of a source, before reading.

    Attributes:
        case_id (str): unique in the dataset; names the cache files.
        image (str): the source image (file or study folder) as the index records it.
        files (list[str]): every source file the case is read from (their sizes and modification times tell
            whether a cached case is still current).
        load (callable): ``load() -> LoadedCase``.
        patient_id (str, optional): the patient, where known before reading (else the loaded case's, else
            ``case_id``).
        split (str, optional): the dataset's own split of the case ('train', 'val' or 'test').
        signature (dict): more of what the case's records depend on besides the files (options, table rows).
    """
    case_id: str
    image: str
    files: List[str]
    load: Callable[[], LoadedCase]
    patient_id: Optional[str] = None
    split: Optional[str] = None
    signature: dict = field(default_factory=dict)


@dataclass
class SourceListing:
    """The cases of a source and what it leaves out.

    Attributes:
        cases (list[SourceCase]): in a stable order.
        skipped (list[tuple[str, str]]): ``(what, why)`` for every file, study or row not prepared.
        lesion_labels (list[int]): the label values taken as lesions (empty: every segment or table row).
        has_split (bool): the source assigns every case a split of its own.
    """
    cases: List[SourceCase]
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    lesion_labels: List[int] = field(default_factory=list)
    has_split: bool = False


def check_case_ids(cases: Sequence[SourceCase]) -> None:
    """Refuse two cases with one id, an id that is no plain file name, and an id that names another case's lesion
    map (``<id>_lesions``)."""
    seen: Dict[str, SourceCase] = {}
    for c in cases:
        if not c.case_id or c.case_id.startswith('.') or any(ch in c.case_id for ch in '/\\\0'):
            raise VolumeDatasetError(f'{c.image}: case id {c.case_id!r} cannot name a cache file (no path '
                                     'separators, no leading dot)')
        if c.case_id in seen:
            raise VolumeDatasetError(f'duplicate case id {c.case_id!r}: {seen[c.case_id].image} and {c.image}')
        seen[c.case_id] = c
    for cid, c in seen.items():
        if cid.endswith('_lesions') and cid[:-len('_lesions')] in seen:
            raise VolumeDatasetError(f'case ids {cid!r} ({c.image}) and {cid[:-8]!r} would share the cache file '
                                     f'{cid}.npy: rename one')


def instances_from_labels(label_map: np.ndarray, values: Sequence[int], names: Dict[int, str],
                          start: int = 1, lesion_map: Optional[np.ndarray] = None) -> Tuple[np.ndarray, List[dict]]:
    """Lesion instances of a label volume: every 3D connected component (26-connectivity) of each value in
    ``values`` is one lesion.

    Components are numbered per value (values in the given order), within a value in the raster order of their
    first voxel (``scipy.ndimage.label``).

    Args:
        label_map (np.ndarray): ``(Z, H, W)`` int label values, or a bool mask with ``values == [1]``.
        values (Sequence[int]): the label values that are lesions.
        names (dict[int, str]): label value -> name.
        start (int): the id of the first lesion. Defaults to 1.
        lesion_map (np.ndarray, optional): ``(Z, H, W)`` uint16 map to paint into (voxels already painted are
            kept); a new one when None.

    Returns:
        tuple: the uint16 instance map and the lesions' ``dict(label, label_name)``, lesion ``start + n`` at ``n``.
    """
    from scipy import ndimage
    out = np.zeros(label_map.shape, np.uint16) if lesion_map is None else lesion_map
    lesions = []
    next_id = start
    for v in values:
        mask = (label_map == v) & (out == 0)
        if not mask.any():
            continue
        comp, n = ndimage.label(mask, structure=CONNECTIVITY_26)
        if next_id + n - 1 > np.iinfo(np.uint16).max:
            raise VolumeDatasetError(f'more than {np.iinfo(np.uint16).max} lesions in one volume')
        ids = np.zeros(n + 1, np.uint16)
        ids[1:] = np.arange(next_id, next_id + n)
        painted = comp > 0
        out[painted] = ids[comp[painted]]
        lesions += [dict(label=int(v), label_name=str(names.get(int(v), v))) for _ in range(n)]
        next_id += n
    return out, lesions


def files_under(folder: str, skip_dirs: Sequence[str] = ()) -> List[str]:
    """Every file under ``folder``, sorted, hidden files and folders (and folders named in ``skip_dirs``)
    left out."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.') and d not in skip_dirs)
        out += [osp.join(root, n) for n in sorted(names) if not n.startswith('.')]
    return out


__all__ = ['SPLITS', 'VolumeDatasetError', 'LoadedCase', 'SourceCase', 'SourceListing', 'check_case_ids',
           'instances_from_labels', 'files_under', 'CONNECTIVITY_26']
