"""Synthetic labelled CT volumes in the three formats ``tools/prepare_volumes.py`` reads, with their ground truth.

Each case is a small CT-like volume (an ellipse of soft tissue, ~40 HU, in air, -1000 HU; a subcutaneous fat rim; an
organ, ~60 HU; a vertebra of bone, 700 HU; Gaussian noise), laid out as :class:`~mmdet3dctx.io.CTVolume` (W toward
the patient's left, H toward posterior, Z toward superior), with per-case spacing (0.7-0.9 mm in plane, 1.25-5 mm
slices). Two kinds of bright objects, of one contrast distribution (+60 to +100 HU):

* **lesions** (labelled): 3D blobs (ellipsoids, or spheres for the sphere tables) of 5-25 mm inside the organ;
* **vessel look-alikes** (not labelled): tubes of 4-8 mm running along z through every slice.

Writers (cases drawn by ``numpy.random.default_rng([seed, case])``):

* :func:`make_synthetic_msd`: a Decathlon task folder (``dataset.json``, ``imagesTr/``, ``labelsTr/``,
  ``imagesTs/``; label 1 organ, 2 lesion), or nnU-Net v2's naming; NIfTI stored in varying axis orders;
* :func:`make_synthetic_dicom_seg`: one folder per study, a CT series (``write_ct_series``) and a DICOM SEG
  (highdicom) whose segment 1 holds every lesion (studies without lesions have no SEG);
* :func:`make_synthetic_luna`: LUNA16's layout, ``subset0/<seriesuid>.mhd`` (+ ``.raw``, SimpleITK; optionally
  with reversed axes) or ``.nrrd``/``.nii.gz`` and ``annotations.csv`` of spheres (or a box table).

The voxels, lesions and tables are a pure function of the arguments; DICOM series and instance UIDs are new on
every call. Each returns its ground truth: per case ``case_id``, ``patient_id``, the volume's geometry, and per
lesion its ``centre_lps_mm`` (the blob's centre), ``centroid_lps_mm`` (of its voxels), ``diameter_mm``
(sphere-equivalent of its voxels; a sphere's given diameter for sphere tables), ``num_voxels``, ``box_voxels``,
``key_slices`` (the slices with the largest cross-section), ``label``.
"""
import csv
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mmdet3dctx.io import CTVolume

SLICE_INTERVALS = (1.25, 2.0, 2.5, 3.0, 5.0)
LESION_LABEL_NAMES = {1: 'organ', 2: 'tumour'}


@dataclass
class SyntheticCase:
    """One generated volume: HU and the lesions' instance map in :class:`CTVolume`'s layout, its organ mask, and
    the lesions' parameters (``centre_voxel`` ``(k, i, j)``, ``radii_mm`` ``(z, y, x)``)."""
    volume: CTVolume
    lesion_map: np.ndarray
    organ: np.ndarray
    lesions: List[dict] = field(default_factory=list)


def _grid(volume: CTVolume) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mm coordinates (z, y, x) of every voxel centre along the volume's own axes, broadcastable ``(Z, H, W)``."""
    z, h, w = volume.hu.shape
    sz, sy, sx = volume.spacing
    return ((volume.positions - volume.positions[0])[:, None, None], (np.arange(h) * sy)[None, :, None],
            (np.arange(w) * sx)[None, None, :])


def synthesize_case(seed: int, case: int, num_lesions: int, size: int = 96, num_slices: Optional[int] = None,
                    spheres: bool = False, noise_hu: float = 10.0) -> SyntheticCase:
    """One CT-like volume with ``num_lesions`` lesions inside an organ and 1-2 vessel look-alikes.

    Args:
        seed (int), case (int): the draw is ``default_rng([seed, case])``.
        num_lesions (int): lesions to place (fewer where the organ has no room left).
        size (int): ``H = W``. Defaults to 96.
        num_slices (int, optional): ``Z``; 24-40 drawn by default.
        spheres (bool): round lesions (``radii_mm`` equal: for sphere tables). Defaults to False.
        noise_hu (float): noise standard deviation. Defaults to 10.
    """
    rng = np.random.default_rng([seed, case])
    z = int(num_slices or rng.integers(24, 41))
    sxy = float(np.round(rng.uniform(0.7, 0.9), 4))
    sz = float(rng.choice(SLICE_INTERVALS))
    origin = np.array([-size / 2 * sxy + rng.uniform(-20, 20), -size / 2 * sxy + rng.uniform(-20, 20),
                       float(np.round(rng.uniform(-200, 100), 2))])
    positions = origin[2] + np.arange(z) * sz
    vol = CTVolume(hu=np.zeros((z, size, size), np.float32), spacing=(sz, sxy, sxy), positions=positions,
                   origin=origin, direction=np.eye(3), metadata=dict(source='synthetic'))
    zz, yy, xx = _grid(vol)
    fov = size * sxy
    cy, cx = fov / 2 + rng.uniform(-2, 2), fov / 2 + rng.uniform(-2, 2)
    by, bx = fov * 0.36, fov * 0.44
    body2 = ((yy - cy) / by)**2 + ((xx - cx) / bx)**2
    hu = np.full(vol.hu.shape, -1000.0, np.float32)
    hu[np.broadcast_to(body2 <= 1, hu.shape)] = -100.0  # fat rim
    inner = np.broadcast_to(body2 <= 0.8, hu.shape)
    hu[inner] = 40.0
    # the organ on the patient's right (low j), a vertebra at the back (high i)
    oy, ox = cy - 0.1 * by, cx - 0.35 * bx
    ay, ax = 0.55 * by, 0.42 * bx
    organ = np.broadcast_to(((yy - oy) / ay)**2 + ((xx - ox) / ax)**2 <= 1, hu.shape) & inner
    hu[organ] = 60.0
    spine = np.broadcast_to(((yy - (cy + 0.7 * by))**2 + (xx - cx)**2) <= (0.14 * by)**2, hu.shape)
    hu[spine] = 700.0
    lesion_map = np.zeros(hu.shape, np.uint16)
    lesions = []
    depth = (z - 1) * sz
    for _ in range(num_lesions):
        for _attempt in range(50):
            d = float(rng.uniform(5, 25))
            r = d / 2
            radii = np.array([r, r, r]) if spheres else r * rng.uniform(0.85, 1.15, size=3)
            if depth < 2 * radii[0] + 2 * sz:
                continue
            c = np.array([rng.uniform(radii[0] + sz, depth - radii[0] - sz),
                          oy + rng.uniform(-0.6, 0.6) * (ay - radii[1]), ox + rng.uniform(-0.6, 0.6) * (ax - radii[2])])
            if any(np.linalg.norm(c - o['centre_mm']) < radii.max() + o['radii_mm'].max() + 2 for o in lesions):
                continue
            mask = ((zz - c[0]) / radii[0])**2 + ((yy - c[1]) / radii[1])**2 + ((xx - c[2]) / radii[2])**2 <= 1
            if not mask.any() or (lesion_map[mask] != 0).any():
                continue
            n = len(lesions) + 1
            lesion_map[mask] = n
            hu[mask] += float(rng.uniform(60, 100))
            k = float(np.interp(origin[2] + c[0], positions, np.arange(z)))
            lesions.append(dict(centre_mm=c, radii_mm=radii, centre_voxel=np.array([k, c[1] / sxy, c[2] / sxy]),
                                diameter_mm=d))
            break
    for _ in range(int(rng.integers(1, 3))):  # vessel look-alikes: tubes along z with a slight drift
        r = float(rng.uniform(2, 4))
        ty, tx = cy + rng.uniform(-0.5, 0.5) * by, cx + rng.uniform(-0.1, 0.5) * bx
        vy, vx = rng.uniform(-0.05, 0.05, size=2)
        tube = ((yy - (ty + vy * zz))**2 + (xx - (tx + vx * zz))**2) <= r * r
        tube = tube & inner & (lesion_map == 0)
        hu[tube] += float(rng.uniform(60, 100))
    hu += rng.normal(0, noise_hu, size=hu.shape).astype(np.float32)
    vol.hu = np.round(hu).astype(np.float32)
    return SyntheticCase(volume=vol, lesion_map=lesion_map, organ=np.ascontiguousarray(organ), lesions=lesions)


def lesion_truth(case: SyntheticCase, diameters: Optional[Sequence[float]] = None, label: int = 2) -> List[dict]:
    """The ground truth of a case's lesions (see the module docstring), in the generator's lesion order."""
    vol = case.volume
    sz, sy, sx = vol.spacing
    out = []
    for n, les in enumerate(case.lesions, start=1):
        idx = np.argwhere(case.lesion_map == n)
        areas = np.bincount(idx[:, 0], minlength=vol.num_slices)
        count = int(idx.shape[0])
        vol_mm3 = count * sx * sy * sz
        out.append(dict(centre_lps_mm=vol.to_lps(*les['centre_voxel'])[0].tolist(),
                        centroid_lps_mm=vol.to_lps(*idx.mean(0))[0].tolist(),
                        diameter_mm=float(diameters[n - 1]) if diameters is not None else
                        float((6 * vol_mm3 / np.pi)**(1 / 3)),
                        num_voxels=count, box_voxels=[*idx.min(0).tolist(), *(idx.max(0) + 1).tolist()],
                        key_slices=np.flatnonzero(areas == areas.max()).tolist(), label=label))
    return out


def _geometry(vol: CTVolume) -> dict:
    return dict(shape=list(vol.hu.shape), spacing=list(vol.spacing), origin=vol.origin.tolist(),
                direction=vol.direction.tolist(), positions=vol.positions.tolist())


#: storage orders of the NIfTI files, cycled over the cases (nibabel axis codes of the stored i, j, k)
NIFTI_STORAGE = (('L', 'P', 'S'), ('R', 'A', 'S'), ('R', 'P', 'I'), ('A', 'R', 'S'))


def _save_nifti(data: np.ndarray, vol: CTVolume, path: str, axcodes: Sequence[str], dtype) -> None:
    import nibabel as nib

    from mmdet3dctx.io import volume_to_nifti
    img = volume_to_nifti(np.asarray(data).astype(dtype), vol)  # stored L, P, S
    ornt = nib.orientations.ornt_transform(nib.orientations.io_orientation(img.affine),
                                           nib.orientations.axcodes2ornt(tuple(axcodes)))
    img = img.as_reoriented(ornt)
    img.set_sform(img.affine, code=1)
    img.set_qform(img.affine, code=1)
    nib.save(img, path)


def make_synthetic_msd(root: str, num_cases: int = 4, seed: int = 0, nnunet_v2: bool = False,
                       num_lesions: Sequence[int] = (2, 1, 0, 3), num_test: int = 1, size: int = 96,
                       task: str = 'Task99_Synthetic') -> dict:
    """A Decathlon task folder (or nnU-Net v2's naming) of generated cases; returns the ground truth.

    Args:
        root (str): the parent folder; the task is ``root/task``.
        num_cases (int): labelled cases ``case_000 ...``. Defaults to 4.
        seed (int): the draw. Defaults to 0.
        nnunet_v2 (bool): nnU-Net v2's ``dataset.json`` (``{"name": value}`` labels, no training list) and
            ``_0000`` image names. Defaults to False (the Decathlon's).
        num_lesions (Sequence[int]): lesions per case, cycled (0: a lesion-free case).
        num_test (int): unlabelled ``imagesTs/`` cases. Defaults to 1.
        size (int): in-plane size. Defaults to 96.
        task (str): the folder's name.

    Returns:
        dict: ``root`` (the task folder), ``cases`` (per case ``case_id``, ``patient_id``, ``image``, ``label``,
        geometry, ``lesions``: :func:`lesion_truth`), ``labels`` ``{value: name}``.
    """
    task_dir = osp.join(root, task)
    for d in ('imagesTr', 'labelsTr', 'imagesTs'):
        os.makedirs(osp.join(task_dir, d), exist_ok=True)
    suffix = '_0000' if nnunet_v2 else ''
    cases, training = [], []
    for n in range(num_cases + num_test):
        test = n >= num_cases
        cid = f'case_{n:03d}' if not test else f'case_{900 + n - num_cases:03d}'
        c = synthesize_case(seed, n, 0 if test else num_lesions[n % len(num_lesions)], size=size)
        axcodes = NIFTI_STORAGE[n % len(NIFTI_STORAGE)]
        image = osp.join(task_dir, 'imagesTs' if test else 'imagesTr', f'{cid}{suffix}.nii.gz')
        _save_nifti(c.volume.hu, c.volume, image, axcodes, np.int16)
        if test:
            continue
        labels = np.where(c.lesion_map > 0, 2, np.where(c.organ, 1, 0)).astype(np.uint8)
        label = osp.join(task_dir, 'labelsTr', f'{cid}.nii.gz')
        _save_nifti(labels, c.volume, label, axcodes, np.uint8)
        training.append({'image': f'./imagesTr/{cid}.nii.gz', 'label': f'./labelsTr/{cid}.nii.gz'})
        cases.append(dict(case_id=cid, patient_id=cid, image=image, label=label, **_geometry(c.volume),
                          lesions=lesion_truth(c, label=2)))
    if nnunet_v2:
        meta = {'channel_names': {'0': 'CT'}, 'labels': {'background': 0, 'organ': 1, 'tumour': 2},
                'numTraining': num_cases, 'file_ending': '.nii.gz', 'name': task}
    else:
        meta = {'name': task, 'description': 'synthetic CT volumes (mmdet3dctx.testing)', 'tensorImageSize': '3D',
                'modality': {'0': 'CT'}, 'labels': {'0': 'background', '1': 'organ', '2': 'tumour'},
                'numTraining': num_cases, 'numTest': num_test, 'training': training,
                'test': [f'./imagesTs/case_{900 + t:03d}.nii.gz' for t in range(num_test)]}
    with open(osp.join(task_dir, 'dataset.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return dict(root=task_dir, cases=cases, labels=dict(LESION_LABEL_NAMES))


def write_seg_for_series(path: str, series_files: Sequence[str], masks: np.ndarray, labels: Sequence[str]) -> None:
    """A binary DICOM SEG (highdicom) of ``masks`` ``(S, Z, H, W)`` (segment ``s + 1`` = ``masks[s]``) over the
    single-frame CT images ``series_files`` in slice order (their stored pixel layout)."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid
    sources = [pydicom.dcmread(f) for f in series_files]
    descriptions = [hd.seg.SegmentDescription(
        segment_number=s + 1, segment_label=name,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_id=f'{name} {s + 1}', tracking_uid=generate_uid()) for s, name in enumerate(labels)]
    pixels = np.moveaxis(np.asarray(masks, bool), 0, -1)  # (Z, H, W, S)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=99,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer='mmdet3dctx',
        manufacturer_model_name='synthetic',
        software_versions='1', device_serial_number='0', series_description='synthetic lesions')
    seg.save_as(path, enforce_file_format=True)


def make_synthetic_dicom_seg(root: str, num_studies: int = 3, seed: int = 0,
                             num_lesions: Sequence[int] = (2, 0, 1), patients: Optional[Sequence[str]] = None,
                             size: int = 64) -> dict:
    """One folder per study (``root/study_<n>/ct/*.dcm``, ``root/study_<n>/seg.dcm``); returns the ground truth.

    The CT is written head-first supine (stored as laid out), so the SEG's frames are the lesion maps' slices;
    segment 1 (``lesion``) holds every lesion of the study. A study without lesions gets no SEG.

    Args:
        patients (Sequence[str], optional): ``PatientID`` per study (by default one patient per study,
            ``patient_<n>``).
        size (int): in-plane size. Defaults to 64 (DICOM writing is the slow part).

    Returns:
        dict: ``root`` and ``cases`` (``case_id`` = the folder, ``patient_id``, ``image`` = the study folder,
        ``seg``, geometry, ``lesions``: :func:`lesion_truth` with label 1).
    """
    from pydicom.uid import generate_uid

    from mmdet3dctx.io import write_ct_series
    cases = []
    for n in range(num_studies):
        cid = f'study_{n:02d}'
        pid = patients[n] if patients is not None else f'patient_{n:02d}'
        c = synthesize_case(seed, n, num_lesions[n % len(num_lesions)], size=size, num_slices=24)
        vol = c.volume
        folder = osp.join(root, cid)
        sz, sy, sx = vol.spacing
        write_ct_series(osp.join(folder, 'ct'), vol.hu, vol.positions, spacing=(sy, sx),
                        origin_xy=(float(vol.origin[0]), float(vol.origin[1])), patient_id=pid,
                        study_uid=generate_uid(entropy_srcs=['mmdet3dctx synthetic study', str(seed), cid]),
                        description='synthetic CT')
        seg = None
        if c.lesions:
            files = sorted(osp.join(folder, 'ct', f) for f in os.listdir(osp.join(folder, 'ct')))
            seg = osp.join(folder, 'seg.dcm')
            write_seg_for_series(seg, files, (c.lesion_map > 0)[None], ['lesion'])
        cases.append(dict(case_id=cid, patient_id=pid, image=folder, seg=seg, **_geometry(vol),
                          lesions=lesion_truth(c, label=1)))
    return dict(root=root, cases=cases)


def _write_itk(path: str, vol: CTVolume, flip: Sequence[bool]) -> None:
    """Write the volume with SimpleITK, index axes reversed where ``flip`` (W, H, Z) says (direction negated and
    the origin moved to the reversed axis' first voxel), as scanners and converters may store it."""
    import SimpleITK as sitk
    arr = np.asarray(vol.hu, np.int16)  # (k, i, j) = ITK (z, y, x) index order
    direction = np.array(vol.direction, np.float64)
    origin = np.array(vol.origin, np.float64)
    sz, sy, sx = vol.spacing
    steps = (sx, sy, sz)
    shape = (arr.shape[2], arr.shape[1], arr.shape[0])
    for axis, f in enumerate(flip):
        if f:
            arr = np.flip(arr, 2 - axis)
            origin = origin + (shape[axis] - 1) * steps[axis] * direction[:, axis]
            direction[:, axis] = -direction[:, axis]
    img = sitk.GetImageFromArray(np.ascontiguousarray(arr))
    img.SetSpacing((sx, sy, sz))
    img.SetOrigin(tuple(float(v) for v in origin))
    img.SetDirection(tuple(float(v) for v in direction.ravel()))
    sitk.WriteImage(img, path)


def make_synthetic_luna(root: str, num_cases: int = 3, seed: int = 0, num_lesions: Sequence[int] = (2, 1, 0),
                        table: str = 'spheres', volume_format: str = 'mhd',
                        flip: Sequence[Sequence[bool]] = ((False, False, False), ), size: int = 96) -> dict:
    """LUNA16's layout: ``root/subset0/<seriesuid>.<volume_format>`` and ``root/annotations.csv``.

    Args:
        table (str): ``'spheres'`` (``seriesuid, coordX, coordY, coordZ, diameter_mm``: the lesions are spheres)
            or ``'boxes'`` (``case_id, x_min, ..., z_max``: each lesion's voxel-corner extent in LPS mm).
        volume_format (str): ``'mhd'`` (with ``.raw``), ``'nrrd'`` or ``'nii.gz'``.
        flip (Sequence[Sequence[bool]]): per case (cycled), which index axes (W, H, Z) the file stores reversed
            (MetaImage/NRRD: a negative direction).

    Returns:
        dict: ``root``, ``annotations`` (the table's path) and ``cases`` (``case_id`` = the series uid,
        ``image``, geometry, ``lesions``: :func:`lesion_truth`, the given diameters for spheres, label 1).
    """
    from mmdet3dctx.datasets.volume_index import box_lps_extent
    if table not in ('spheres', 'boxes') or volume_format not in ('mhd', 'nrrd', 'nii.gz'):
        raise ValueError(f'table {table!r}, volume_format {volume_format!r}: not generated')
    folder = osp.join(root, 'subset0')
    os.makedirs(folder, exist_ok=True)
    rows, cases = [], []
    for n in range(num_cases):
        uid = f'1.3.6.1.4.1.14519.5.2.1.{seed}.{n + 1}'
        c = synthesize_case(seed, n, num_lesions[n % len(num_lesions)], size=size, spheres=table == 'spheres')
        vol = c.volume
        path = osp.join(folder, f'{uid}.{volume_format}')
        if volume_format == 'nii.gz':
            _save_nifti(vol.hu, vol, path, NIFTI_STORAGE[n % len(NIFTI_STORAGE)], np.int16)
        else:
            _write_itk(path, vol, flip[n % len(flip)])
        diameters = [les['diameter_mm'] for les in c.lesions] if table == 'spheres' else None
        truth = lesion_truth(c, diameters, label=1)
        for les, t in zip(c.lesions, truth):
            if table == 'spheres':
                x, y, z = t['centre_lps_mm']
                rows.append([uid, f'{x:.6f}', f'{y:.6f}', f'{z:.6f}', f'{les["diameter_mm"]:.6f}'])
            else:
                ext = box_lps_extent(vol, t['box_voxels'])
                rows.append([uid, *(f'{v:.6f}' for v in ext['min']), *(f'{v:.6f}' for v in ext['max'])])
        cases.append(dict(case_id=uid, patient_id=uid, image=path, **_geometry(vol), lesions=truth))
    header = (['seriesuid', 'coordX', 'coordY', 'coordZ', 'diameter_mm'] if table == 'spheres' else
              ['case_id', 'x_min', 'y_min', 'z_min', 'x_max', 'y_max', 'z_max'])
    annotations = osp.join(root, 'annotations.csv')
    with open(annotations, 'w', newline='') as f:
        csv.writer(f).writerows([header] + rows)
    return dict(root=root, annotations=annotations, cases=cases)


__all__ = ['SyntheticCase', 'synthesize_case', 'lesion_truth', 'make_synthetic_msd', 'make_synthetic_dicom_seg',
           'make_synthetic_luna', 'write_seg_for_series']
