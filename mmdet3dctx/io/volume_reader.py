"""One entry for every CT input: detect the format of a path and read it with its reader into a :class:`CTVolume`.

A ``.nii``/``.nii.gz`` file is NIfTI (:func:`~mmdet3dctx.io.read_nifti`), a ``.mhd``/``.mha``/``.nrrd``/``.nhdr``
file MetaImage or NRRD (:func:`~mmdet3dctx.io.read_itk_volume`, SimpleITK), a folder of slices named like
``001.png`` is a DeepLesion series (:func:`~mmdet3dctx.io.read_deeplesion_series`), any other existing file or
folder a DICOM study, series or file (:func:`~mmdet3dctx.io.read_dicom_series`).
"""
import os
import os.path as osp

from .ct_volume import CTVolume
from .deeplesion_series import read_deeplesion_series
from .dicom import read_dicom_series
from .itk_volume import ITK_SUFFIXES, read_itk_volume
from .nifti import read_nifti

#: The readers by format name, and the options each takes.
VOLUME_READERS = {
    'dicom': (read_dicom_series, ('series_uid', 'allow_non_ct')),
    'nifti': (read_nifti, ()),
    'deeplesion': (read_deeplesion_series, ('spacing', 'dl_info')),
    'itk': (read_itk_volume, ()),
}
#: The format names :func:`read_volume` takes besides ``'auto'``.
VOLUME_FORMATS = tuple(VOLUME_READERS)
_WHAT = ('a DICOM folder or file, a .nii/.nii.gz file, a MetaImage or NRRD file (.mhd/.mha/.nrrd/.nhdr) or a '
         'DeepLesion series folder')


def _is_deeplesion_series(path: str) -> bool:
    return osp.isdir(path) and any(n.endswith('.png') and n[:-4].isdigit() for n in os.listdir(path))


def detect_volume_format(path: str) -> str:
    """The format of a CT input: ``'nifti'``, ``'itk'``, ``'deeplesion'`` or ``'dicom'`` (see the module
    docstring).

    Args:
        path (str): A file or folder.

    Returns:
        str: A key of :data:`VOLUME_READERS`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if osp.isfile(path) and path.endswith(('.nii', '.nii.gz')):
        return 'nifti'
    if osp.isfile(path) and path.lower().endswith(ITK_SUFFIXES):
        return 'itk'
    if _is_deeplesion_series(path):
        return 'deeplesion'
    if osp.exists(path):
        return 'dicom'
    raise FileNotFoundError(f'{path}: no such folder or file ({_WHAT})')


def read_volume(path: str, format: str = 'auto', **options) -> CTVolume:
    """Read a CT study, series or volume of any supported format into a :class:`CTVolume`.

    Args:
        path (str): A DICOM study folder (searched recursively), series folder or file; a NIfTI file
            (``.nii``/``.nii.gz``); a MetaImage or NRRD file; or a DeepLesion series folder
            (``Images_png/<series>/``).
        format (str): ``'auto'`` (:func:`detect_volume_format`), or one of :data:`VOLUME_FORMATS`.
            Defaults to ``'auto'``.
        **options: Options of the format's reader; an option given as None takes the reader's default.
            DICOM: ``series_uid``, ``allow_non_ct`` (:func:`~mmdet3dctx.io.read_dicom_series`); DeepLesion:
            ``spacing`` ``(z, y, x)`` mm, ``dl_info`` (:func:`~mmdet3dctx.io.read_deeplesion_series`); NIfTI,
            MetaImage/NRRD: none.

    Returns:
        CTVolume: The volume, HU in ``(Z, H, W)`` with its patient geometry.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: An unknown format, an option the format's reader does not take, or a file its reader cannot
            read (:class:`~mmdet3dctx.io.DicomSeriesError` for DICOM); the message names the path.

    Example:
        >>> from mmdet3dctx.io import read_volume
        >>> vol = read_volume('data/study.nii.gz')  # doctest: +SKIP
        >>> vol = read_volume('Images_png/000001_01_01', dl_info='DL_info.csv')  # doctest: +SKIP
        >>> vol = read_volume('STUDY', series_uid='1.2.840.113619.2.55.3')  # doctest: +SKIP
    """
    if format != 'auto' and format not in VOLUME_READERS:
        raise ValueError(f'{path}: unknown format {format!r}; choose from auto, {", ".join(VOLUME_FORMATS)}')
    if not osp.exists(path):
        raise FileNotFoundError(f'{path}: no such folder or file ({_WHAT})')
    fmt = detect_volume_format(path) if format == 'auto' else format
    reader, accepted = VOLUME_READERS[fmt]
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f'takes only {", ".join(accepted)}' if accepted else 'takes no option'
        raise ValueError(f'{path}: {", ".join(unknown)} do(es) not apply to {fmt} input (its reader {takes})')
    return reader(path, **options)


__all__ = ['VOLUME_FORMATS', 'VOLUME_READERS', 'detect_volume_format', 'read_volume']
