"""Reading one DeepLesion series folder (``Images_png/<patient>_<study>_<series>/<slice>.png``)."""
import os
import os.path as osp
import re
from typing import Optional, Sequence

import numpy as np

from .ct_volume import CTVolume

#: DeepLesion stores HU + 32768 in 16-bit PNGs
HU_OFFSET = 32768


def read_deeplesion_series(directory: str, spacing: Optional[Sequence[float]] = None,
                           dl_info: Optional[str] = None) -> CTVolume:
    """Read a DeepLesion series folder of 16-bit PNG slices (``HU = value − 32768``) into a :class:`CTVolume`.

    The folder has no spacing of its own: pass ``spacing=(z, y, x)`` in mm, or ``dl_info`` (a ``DL_info.csv``)
    whose rows of this series give it (``Spacing_mm_px_``). Slices are ordered by their index (``KKK.png``,
    1-based); positions are ``index × z`` so gaps in the numbering keep their distance.
    """
    import cv2
    if not osp.isdir(directory):
        raise FileNotFoundError(f'{directory}: no such DeepLesion series folder')
    names = [n for n in os.listdir(directory) if re.fullmatch(r'\d+\.png', n)]
    if not names:
        raise ValueError(f'{directory}: no slice PNGs named like 001.png')
    names.sort(key=lambda n: int(n[:-4]))
    indices = np.array([int(n[:-4]) for n in names])
    if spacing is None:
        if dl_info is None:
            raise ValueError(f'{directory}: pass spacing=(z, y, x) in mm or dl_info=<DL_info.csv> to read it from')
        from mmdet3dctx.datasets.dl_info import read_dl_info
        series = osp.basename(osp.normpath(directory))
        rows = [r for r in read_dl_info(dl_info) if r['File_name'].rsplit('_', 1)[0] == series]
        if not rows:
            raise ValueError(f'{dl_info}: no row of series {series}')
        sx, sy, sz = rows[0]['Spacing_mm_px_']
        spacing = (sz, sy, sx)
    slices = []
    for n in names:
        path = osp.join(directory, n)
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f'{path}: cannot read the PNG')
        if img.dtype != np.uint16 or img.ndim != 2:
            raise ValueError(f'{path}: expected a 16-bit grey PNG, got {img.dtype} with shape {img.shape}')
        slices.append(img.astype(np.float32) - HU_OFFSET)
    shapes = {s.shape for s in slices}
    if len(shapes) > 1:
        raise ValueError(f'{directory}: slices of different sizes {sorted(shapes)}')
    return CTVolume(hu=np.stack(slices), spacing=tuple(spacing), positions=indices * float(spacing[0]),
                    metadata=dict(source='deeplesion', directory=directory, slice_indices=indices.tolist(),
                                  files=[osp.join(directory, n) for n in names]))
