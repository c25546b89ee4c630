"""Reading a CT volume from a NIfTI file (nibabel), and writing volumes aligned with a :class:`CTVolume`."""
import os.path as osp
from typing import Tuple

import numpy as np

from .ct_volume import CTVolume

#: NIfTI's RAS+ world to DICOM's LPS and back (the same matrix both ways)
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def read_nifti(path: str) -> CTVolume:
    """Read a NIfTI CT volume into a :class:`CTVolume` in the layout DICOM series read to.

    The voxel axes are reoriented to the closest canonical (RAS+) ones, then laid out as ``(Z, H, W)`` with W
    toward the patient's left, H toward posterior and Z toward superior; the NIfTI affine (RAS mm) becomes the
    volume's LPS origin and direction (``x, y`` negated), with ``scl_slope``/``scl_inter`` applied (values are
    taken as HU). Spacing comes from the voxel sizes. A coronal or sagittal acquisition stored as NIfTI has
    already been resampled onto its voxel grid, so any orientation is accepted.
    """
    import nibabel as nib
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such NIfTI file')
    try:
        img = nib.load(path)
    except Exception as e:
        raise ValueError(f'{path}: not a readable NIfTI image ({e})') from e
    if len(img.shape) < 3 or any(s != 1 for s in img.shape[3:]):
        raise ValueError(f'{path}: expected a 3-D volume, got shape {img.shape}')
    original_affine = img.affine.copy()
    try:
        data, origin, direction, zooms = nifti_in_volume_layout(img)
    except Exception as e:  # noqa: BLE001  (truncated or corrupt voxel data: the header alone read)
        raise ValueError(f'{path}: unreadable NIfTI voxel data ({type(e).__name__}: {e})') from e
    normal = direction[:, 2]
    positions = float(np.dot(origin, normal)) + np.arange(data.shape[0]) * zooms[2]
    return CTVolume(hu=data, spacing=(zooms[2], zooms[1], zooms[0]), positions=positions, origin=origin,
                    direction=direction,
                    metadata=dict(source='nifti', path=path, affine=original_affine.tolist()))


def nifti_in_volume_layout(img, as_float: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 3-D NIfTI image's voxels in :class:`CTVolume`'s layout, with the layout's LPS geometry.

    The voxel axes are reoriented to the closest canonical (RAS+) ones (``nibabel.as_closest_canonical``), then
    the canonical ``(i: R, j: A, k: S)`` array becomes ``(Z, H, W)`` = ``(k, −j, −i)``: W toward the patient's
    left, H toward posterior, Z toward superior. The affine maps the new index ``(w, h, z)`` to LPS mm:
    ``diag(−1, −1, 1) · A_ras · T`` with ``T`` the flip of ``i`` and ``j``. Label volumes read through this
    function land on the same voxels as :func:`read_nifti`'s image of the same grid.

    Args:
        img (nibabel.Nifti1Image): a 3-D image (trailing axes of length 1 are dropped).
        as_float (bool): float32 values (``get_fdata``); False keeps the stored type where no
            ``scl_slope``/``scl_inter`` scales it (``np.asanyarray(dataobj)``, for label volumes). Scaling is
            applied either way. Defaults to True.

    Returns:
        tuple: ``data`` ``(Z, H, W)``, ``origin`` ``(3,)`` LPS mm of voxel ``(0, 0, 0)``, ``direction``
        ``(3, 3)`` unit columns of the W, H, Z axes in LPS, ``zooms`` ``(3,)`` mm along W, H, Z.
    """
    import nibabel as nib
    img = nib.as_closest_canonical(img)
    if as_float:
        data = np.asarray(img.get_fdata(dtype=np.float32))
    else:
        data = np.asanyarray(img.dataobj)
    data = data.reshape(data.shape[:3])
    ni, nj, nk = data.shape
    # RAS+ (i -> right, j -> anterior, k -> superior) to (k, posterior, left)
    data = np.ascontiguousarray(data[::-1, ::-1, :].transpose(2, 1, 0))
    # index (w, h, z) of the new layout -> (i, j, k) of the canonical one -> RAS -> LPS
    to_canonical = np.array([[-1, 0, 0, ni - 1], [0, -1, 0, nj - 1], [0, 0, 1, 0], [0, 0, 0, 1]], np.float64)
    lps = RAS_TO_LPS @ img.affine @ to_canonical
    zooms = np.linalg.norm(lps[:3, :3], axis=0)
    return data, lps[:3, 3].copy(), lps[:3, :3] / zooms, zooms


def volume_to_nifti(data: np.ndarray, volume: CTVolume):
    """A ``nibabel.Nifti1Image`` of ``data`` (``(Z, H, W)``, the volume's layout) on the volume's grid.

    For a NIfTI input the image has the input's own voxel order and affine (it opens over the input in any
    viewer); otherwise the affine is the volume's :attr:`CTVolume.affine` in RAS (an uneven series is placed on
    its median slice step).
    """
    import nibabel as nib
    arr = np.asarray(data).transpose(2, 1, 0)  # (W, H, Z) = (i, j, k) indexing
    img = nib.Nifti1Image(np.ascontiguousarray(arr), RAS_TO_LPS @ volume.affine)
    original = volume.metadata.get('affine') if volume.metadata.get('source') == 'nifti' else None
    if original is not None:
        original = np.asarray(original, np.float64)
        target = nib.orientations.io_orientation(original)
        current = nib.orientations.io_orientation(img.affine)
        img = img.as_reoriented(nib.orientations.ornt_transform(current, target))
        img.set_sform(original, code=1)
        img.set_qform(original, code=1)
    else:
        img.set_sform(img.affine, code=1)
        img.set_qform(img.affine, code=1)
    return img
