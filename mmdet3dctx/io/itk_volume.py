"""Reading MetaImage (``.mhd``/``.raw``, ``.mha``) and NRRD CT volumes (SimpleITK) into a :class:`CTVolume`."""
import os.path as osp
from typing import Tuple

import numpy as np

from .ct_volume import CTVolume

#: file endings read by :func:`read_itk_volume`
ITK_SUFFIXES = ('.mhd', '.mha', '.nrrd', '.nhdr')


def itk_axes_to_volume_layout(direction: np.ndarray) -> Tuple[Tuple[int, int, int], Tuple[bool, bool, bool]]:
    """Which ITK index axis becomes each of :class:`CTVolume`'s W, H and Z axes, and whether it is reversed.

    ITK (and MetaImage, NRRD) world coordinates are LPS. Index axis ``a`` (``0`` = i, the fastest) runs along the
    column ``direction[:, a]``; it is assigned to the LPS axis it is closest to (``argmax |direction[:, a]|``)
    and reversed where it runs toward −x, −y or −z, so that W runs toward the patient's left (+x), H toward
    posterior (+y) and Z toward superior (+z).

    Args:
        direction (np.ndarray): ``(3, 3)`` ITK direction cosines, columns = index axes in LPS.

    Returns:
        tuple: ``axes`` ``(a_W, a_H, a_Z)`` ITK index axes, ``flips`` ``(flip_W, flip_H, flip_Z)``.

    Raises:
        ValueError: two index axes closest to one LPS axis (an oblique grid with no nearest axial layout).
    """
    d = np.asarray(direction, np.float64).reshape(3, 3)
    nearest = [int(np.argmax(np.abs(d[:, a]))) for a in range(3)]
    if sorted(nearest) != [0, 1, 2]:
        raise ValueError(f'direction {d.round(4).tolist()}: two voxel axes are closest to one patient axis')
    axes = tuple(nearest.index(p) for p in range(3))
    flips = tuple(bool(d[p, axes[p]] < 0) for p in range(3))
    return axes, flips


def read_itk_volume(path: str) -> CTVolume:
    """Read a MetaImage or NRRD CT volume with SimpleITK into a :class:`CTVolume`.

    SimpleITK gives the voxels ``arr[k, j, i]`` of index ``(i, j, k)``, whose centre lies at the LPS point
    ``origin + direction · (spacing ∘ (i, j, k))``. The index axes are permuted and reversed as
    :func:`itk_axes_to_volume_layout` says, so the array is ``(Z, H, W)`` with W toward the patient's left,
    H toward posterior and Z toward superior, exactly as :func:`~mmdet3dctx.io.read_nifti` and
    :func:`~mmdet3dctx.io.read_dicom_series` lay it out; the volume's origin is the LPS point of the new
    voxel ``(0, 0, 0)`` and its direction the index axes' columns, negated where reversed. Values are taken as HU.

    Args:
        path (str): a ``.mhd`` (with its ``.raw``), ``.mha``, ``.nrrd`` or ``.nhdr`` file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: SimpleITK cannot read it, or it is not one 3-D scalar volume; the message names the file.
    """
    try:
        import SimpleITK as sitk
    except ImportError as e:  # pragma: no cover - a runtime requirement
        raise ImportError(f'{path}: reading MetaImage/NRRD needs SimpleITK (pip install SimpleITK, pinned in '
                          'requirements/runtime.txt)') from e
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such MetaImage/NRRD file')
    try:
        img = sitk.ReadImage(path)
        arr = sitk.GetArrayFromImage(img)  # a copy: a view dies with the image
    except Exception as e:  # noqa: BLE001  (missing .raw, truncated data, unknown format: SimpleITK's RuntimeError)
        msg = ' '.join(str(e).split())[-300:]
        raise ValueError(f'{path}: not a readable MetaImage/NRRD volume ({msg})') from e
    if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f'{path}: expected one 3-D scalar volume, got {img.GetDimension()}-D with '
                         f'{img.GetNumberOfComponentsPerPixel()} component(s) per voxel')
    direction = np.array(img.GetDirection(), np.float64).reshape(3, 3)
    spacing = np.array(img.GetSpacing(), np.float64)  # (i, j, k)
    size = np.array(img.GetSize())  # (i, j, k)
    try:
        axes, flips = itk_axes_to_volume_layout(direction)
    except ValueError as e:
        raise ValueError(f'{path}: {e}') from e
    # numpy axis of ITK index axis a is 2 - a; the volume's (Z, H, W) take the index axes (a_Z, a_H, a_W)
    hu = np.asarray(arr, np.float32).transpose(2 - axes[2], 2 - axes[1], 2 - axes[0])
    for dim, flip in zip((2, 1, 0), flips):  # W, H, Z
        if flip:
            hu = np.flip(hu, dim)
    index0 = np.zeros(3)
    for p in range(3):
        if flips[p]:
            index0[axes[p]] = size[axes[p]] - 1
    origin = np.array(img.GetOrigin(), np.float64) + direction @ (spacing * index0)
    new_dir = np.stack([direction[:, axes[p]] * (-1.0 if flips[p] else 1.0) for p in range(3)], 1)
    sx, sy, sz = (float(spacing[axes[p]]) for p in range(3))
    positions = float(np.dot(origin, new_dir[:, 2])) + np.arange(hu.shape[0]) * sz
    return CTVolume(hu=np.ascontiguousarray(hu), spacing=(sz, sy, sx), positions=positions, origin=origin,
                    direction=new_dir,
                    metadata=dict(source='itk', path=path, itk_direction=direction.tolist(),
                                  itk_origin=list(img.GetOrigin()), itk_spacing=spacing.tolist(),
                                  itk_axes=list(axes), itk_flips=list(flips)))


__all__ = ['ITK_SUFFIXES', 'itk_axes_to_volume_layout', 'read_itk_volume']
