"""Reading a CT volume from a NIfTI file (nibabel)."""
import os.path as osp

import numpy as np

from .ct_volume import CTVolume


def read_nifti(path: str) -> CTVolume:
    """Read a NIfTI CT volume into a :class:`CTVolume` in the axial convention of DICOM readers.

    The image is reoriented to the closest canonical (RAS+) axes, then laid out as ``(Z, H, W)`` with W
    toward the patient's left, H toward posterior and Z toward superior — what an axial DICOM series gives —
    with ``scl_slope``/``scl_inter`` applied (values are taken as HU). Spacing comes from the voxel sizes.
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
    img = nib.as_closest_canonical(img)
    data = np.asarray(img.get_fdata(dtype=np.float32))
    data = data.reshape(data.shape[:3])
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    # RAS+ (i -> right, j -> anterior, k -> superior) to (k, posterior, left)
    hu = np.ascontiguousarray(data[::-1, ::-1, :].transpose(2, 1, 0))
    positions = img.affine[2, 3] + np.arange(hu.shape[0]) * zooms[2]
    return CTVolume(hu=hu, spacing=(zooms[2], zooms[1], zooms[0]), positions=positions,
                    metadata=dict(source='nifti', path=path, affine=img.affine.tolist()))
