"""The Medical Segmentation Decathlon / nnU-Net layout: ``dataset.json``, ``imagesTr/``, ``labelsTr/`` (NIfTI).

Two flavours of ``dataset.json`` are read:

* the Decathlon's (and nnU-Net v1's): ``"labels": {"0": "background", "1": "liver", "2": "cancer"}`` and a
  ``"training"`` list of ``{"image": "./imagesTr/liver_0.nii.gz", "label": "./labelsTr/liver_0.nii.gz"}``; an
  image listed without the channel suffix is also found as ``imagesTr/liver_0_0000.nii.gz``;
* nnU-Net v2's: ``"labels": {"background": 0, "liver": 1}`` (a region given as a list of values names no value)
  and no training list: every ``labelsTr/<case><file_ending>`` pairs with ``imagesTr/<case>_0000<file_ending>``.

Images are read with :func:`~mmdet3dctx.io.read_nifti`, label volumes with nibabel laid out exactly as the image
(:func:`~mmdet3dctx.io.nifti.nifti_in_volume_layout`); a label volume must lie on its image's grid. Test images
(``imagesTs/``, no labels) are not prepared: they are listed as skipped.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.io import CTVolume, read_nifti
from mmdet3dctx.io.nifti import nifti_in_volume_layout
from .base import (LoadedCase, SourceCase, SourceListing, VolumeDatasetError, check_case_ids,
                   instances_from_labels)

#: how far (mm) a label volume's voxel centres may lie from its image's: the corners of the grids are compared
GRID_TOLERANCE_MM = 1e-3
NIFTI_ENDINGS = ('.nii.gz', '.nii')


def read_dataset_json(path: str) -> Tuple[dict, Dict[int, str]]:
    """``dataset.json`` and its labels as ``{value: name}`` (either flavour, see the module docstring)."""
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise VolumeDatasetError(f'{path}: not a readable JSON file ({e})') from e
    labels = meta.get('labels') if isinstance(meta, dict) else None
    if not isinstance(labels, dict) or not labels:
        raise VolumeDatasetError(f'{path}: no "labels" object (value -> name, or name -> value)')
    names: Dict[int, str] = {}
    for k, v in labels.items():
        if isinstance(v, str) and _is_int(k):  # Decathlon: "2": "cancer"
            names[int(k)] = v
        elif isinstance(v, int) and not isinstance(v, bool):  # nnU-Net v2: "cancer": 2
            names[int(v)] = str(k)
        elif isinstance(v, list) and all(isinstance(x, int) for x in v):  # nnU-Net v2 region: names no value
            continue
        else:
            raise VolumeDatasetError(f'{path}: label entry {k!r}: {v!r} is neither "value": "name" nor '
                                     '"name": value')
    return meta, names


def _is_int(s) -> bool:
    try:
        int(s)
    except (TypeError, ValueError):
        return False
    return True


def _strip_ending(name: str, endings: Sequence[str]) -> str:
    for e in endings:
        if name.endswith(e):
            return name[:-len(e)]
    return name


def _resolve(root: str, rel: str) -> str:
    return osp.normpath(osp.join(root, rel))


def _with_channel_suffix(path: str, endings: Sequence[str]) -> str:
    for e in endings:
        if path.endswith(e):
            return path[:-len(e)] + '_0000' + e
    return path


def _training_pairs(root: str, meta: dict, json_path: str) -> List[Tuple[str, str, str]]:
    """``(case_id, image, label)`` of every labelled case, from the training list or (nnU-Net v2) the files."""
    endings = (meta.get('file_ending'), ) if meta.get('file_ending') else NIFTI_ENDINGS
    if not all(e in NIFTI_ENDINGS for e in endings):
        raise VolumeDatasetError(f'{json_path}: file_ending {endings[0]!r}: only NIfTI (.nii.gz, .nii) volumes are '
                                 'read in this layout')
    pairs = []
    if 'training' in meta:
        if not isinstance(meta['training'], list):
            raise VolumeDatasetError(f'{json_path}: "training" must be a list of {{"image", "label"}} objects')
        for n, item in enumerate(meta['training']):
            if not isinstance(item, dict) or not isinstance(item.get('image'), str) or not isinstance(
                    item.get('label'), str):
                raise VolumeDatasetError(f'{json_path}: training entry {n} ({item!r}) needs "image" and "label" paths')
            image, label = _resolve(root, item['image']), _resolve(root, item['label'])
            case_id = _strip_ending(osp.basename(label), NIFTI_ENDINGS)
            if not osp.isfile(image) and osp.isfile(_with_channel_suffix(image, NIFTI_ENDINGS)):
                image = _with_channel_suffix(image, NIFTI_ENDINGS)
            for what, p in (('image', image), ('label', label)):
                if not osp.isfile(p):
                    raise VolumeDatasetError(f'{json_path}: case {case_id!r} (training entry {n}) lists the {what} '
                                             f'{item[what]!r}, but {p} does not exist')
            pairs.append((case_id, image, label))
        return pairs
    labels_dir = osp.join(root, 'labelsTr')
    if not osp.isdir(labels_dir):
        raise VolumeDatasetError(f'{json_path}: no "training" list and no labelsTr/ folder beside it')
    for name in sorted(os.listdir(labels_dir)):
        if name.startswith('.') or not name.endswith(endings):
            continue
        case_id = _strip_ending(name, endings)
        ending = next(e for e in endings if name.endswith(e))
        image = osp.join(root, 'imagesTr', f'{case_id}_0000{ending}')
        if not osp.isfile(image):
            plain = osp.join(root, 'imagesTr', name)
            if not osp.isfile(plain):
                raise VolumeDatasetError(f'case {case_id!r}: {osp.join(labels_dir, name)} has no image: neither '
                                         f'{image} nor {plain} exists')
            image = plain
        pairs.append((case_id, image, osp.join(labels_dir, name)))
    return pairs


def grid_mismatch(volume: CTVolume, origin: np.ndarray, direction: np.ndarray, zooms: np.ndarray,
                  shape: Tuple[int, int, int]) -> Optional[str]:
    """Why a grid (in :class:`CTVolume`'s layout) is not the volume's, or None: the shapes differ, or a corner
    voxel's centre lies more than :data:`GRID_TOLERANCE_MM` from the volume's."""
    if tuple(shape) != tuple(volume.hu.shape):
        return f'shape (Z, H, W) {tuple(shape)} differs from the image\'s {tuple(volume.hu.shape)}'
    z, h, w = shape
    corners = np.array([[a, b, c] for a in (0, w - 1) for b in (0, h - 1) for c in (0, z - 1)], np.float64)
    mine = origin[None] + corners @ (direction * zooms[None]).T
    theirs = volume.affine[:3, 3][None] + corners @ volume.affine[:3, :3].T
    err = float(np.abs(mine - theirs).max())
    if err > GRID_TOLERANCE_MM:
        return (f'voxel centres lie up to {err:.4g} mm from the image\'s (affines differ: origin '
                f'{np.round(origin, 4).tolist()} vs {np.round(volume.origin, 4).tolist()} LPS mm, spacing '
                f'{np.round(zooms, 5).tolist()} vs {list(np.round(volume.spacing[::-1], 5))})')
    return None


def read_label_volume(path: str, volume: CTVolume, case_id: str) -> np.ndarray:
    """A NIfTI label volume in its image's layout ``(Z, H, W)`` int64, refused unless on the image's grid."""
    import nibabel as nib
    try:
        img = nib.load(path)
        if len(img.shape) < 3 or any(s != 1 for s in img.shape[3:]):
            raise VolumeDatasetError(f'case {case_id!r}: {path}: expected a 3-D label volume, got shape {img.shape}')
        data, origin, direction, zooms = nifti_in_volume_layout(img, as_float=False)
    except VolumeDatasetError:
        raise
    except Exception as e:  # noqa: BLE001  (not NIfTI, truncated)
        raise VolumeDatasetError(f'case {case_id!r}: {path}: not a readable NIfTI label volume '
                                 f'({type(e).__name__}: {e})') from e
    why = grid_mismatch(volume, origin, direction, zooms, data.shape)
    if why:
        raise VolumeDatasetError(f'case {case_id!r}: label volume {path} is not on the grid of its image '
                                 f'{volume.metadata.get("path")}: {why}')
    if not np.issubdtype(data.dtype, np.integer):
        rounded = np.rint(data)
        if not np.array_equal(rounded, data):
            bad = data[rounded != data].ravel()[:3]
            raise VolumeDatasetError(f'case {case_id!r}: {path}: label values must be whole numbers, found '
                                     f'{bad.tolist()}')
        data = rounded
    return data.astype(np.int64, copy=False)


def _load_case(case_id: str, image: str, label: str, names: Dict[int, str], lesion_labels: Sequence[int],
               json_path: str) -> LoadedCase:
    try:
        vol = read_nifti(image)
    except (ValueError, FileNotFoundError) as e:
        raise VolumeDatasetError(f'case {case_id!r}: {e}') from e
    labels = read_label_volume(label, vol, case_id)
    if labels.size and labels.min() < 0:
        raise VolumeDatasetError(f'case {case_id!r}: {label}: negative label value {int(labels.min())}')
    present = np.flatnonzero(np.bincount(labels.ravel())) if labels.size else np.zeros(0, int)
    unknown = [int(v) for v in present if int(v) not in names]
    if unknown:
        raise VolumeDatasetError(f'case {case_id!r}: {label} holds label value(s) {unknown} that {json_path} does '
                                 f'not name (its labels: {dict(sorted(names.items()))})')
    lesion_map, lesions = instances_from_labels(labels, lesion_labels, names)
    return LoadedCase(volume=vol, lesion_map=lesion_map, lesions=lesions)


def list_msd_cases(src: str, lesion_labels: Optional[Sequence[int]] = None) -> SourceListing:
    """The labelled cases of a Decathlon / nnU-Net folder.

    Args:
        src (str): the task folder (with ``dataset.json``).
        lesion_labels (Sequence[int], optional): the label values that are lesions; by default the only
            foreground label of ``dataset.json`` (several need a choice).

    Raises:
        VolumeDatasetError: ``dataset.json`` unreadable or without labels, a lesion label it does not name, a case
            listed twice or listed with missing files; the message names the file and case.
    """
    json_path = osp.join(src, 'dataset.json')
    if not osp.isfile(json_path):
        raise VolumeDatasetError(f'{src}: no dataset.json (the Decathlon / nnU-Net layout)')
    meta, names = read_dataset_json(json_path)
    foreground = {v: n for v, n in names.items() if v != 0}
    if lesion_labels is None or len(lesion_labels) == 0:
        if len(foreground) != 1:
            raise VolumeDatasetError(f'{json_path} names several labels {foreground}: say which are lesions '
                                     '(--lesion-labels, e.g. 2 for the Decathlon\'s liver tumours)')
        lesion_labels = list(foreground)
    lesion_labels = [int(v) for v in lesion_labels]
    missing = [v for v in lesion_labels if v not in foreground]
    if missing:
        raise VolumeDatasetError(f'lesion label(s) {missing} not among the labels of {json_path}: {foreground}')
    pairs = _training_pairs(osp.abspath(src), meta, json_path)
    # a case depends on its two files and on dataset.json's label names only: adding cases to dataset.json
    # leaves the prepared ones valid
    label_names = {str(k): str(v) for k, v in sorted(names.items())}
    cases = [SourceCase(case_id=cid, image=image, files=[image, label],
                        load=lambda cid=cid, image=image, label=label: _load_case(cid, image, label, names,
                                                                                   lesion_labels, json_path),
                        signature=dict(lesion_labels=lesion_labels, label_names=label_names))
             for cid, image, label in pairs]
    check_case_ids(cases)
    skipped = []
    ts = osp.join(src, 'imagesTs')
    if osp.isdir(ts):
        unlabelled = sorted(n for n in os.listdir(ts) if not n.startswith('.') and n.endswith(NIFTI_ENDINGS))
        if unlabelled:
            skipped.append((ts, f'{len(unlabelled)} test image(s) without labels are not prepared'))
    return SourceListing(cases=cases, skipped=skipped, lesion_labels=lesion_labels)


__all__ = ['list_msd_cases', 'read_dataset_json', 'read_label_volume', 'grid_mismatch', 'GRID_TOLERANCE_MM']
