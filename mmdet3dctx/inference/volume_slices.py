"""Model inputs from a CT volume, built exactly as training builds them from DeepLesion PNGs."""
from typing import Optional, Tuple

import numpy as np

from mmdet3dctx.datasets.slice_sampling import interpolation_plan, slice_positions, stack_windowed_slices
from mmdet3dctx.io import CTVolume


def volume_slice_input(volume: CTVolume, key: int, num_slices: int, slice_interval: Optional[float] = 2.0,
                       window: Tuple[float, float] = (-1024, 2050),
                       out_range: Tuple[float, float] = (-50, 205)) -> np.ndarray:
    """The ``(H, W, num_slices)`` float32 input for key slice ``key`` (0-based volume index) of ``volume``.

    The same interval normalisation, interpolation, clamping and windowing as ``LoadDeepLesionSlices``: slice
    ``k`` sits at ``key + k · slice_interval / interval`` with the volume's slice interval, fractional
    positions are interpolated between their neighbours, positions past the ends take the end slices. Positions
    are computed in the series' own slice numbering where the volume has one (``metadata['slice_indices']``,
    DeepLesion), so the interpolation weights are bit-identical to training's; a number missing from the
    series takes the nearest existing slice towards the key slice, as the training loader does.
    """
    if not 0 <= key < volume.num_slices:
        raise IndexError(f'key slice {key} outside the volume of {volume.num_slices} slices')
    numbers = list(volume.metadata.get('slice_indices') or range(volume.num_slices))
    row_of = {n: i for i, n in enumerate(numbers)}
    key_number = numbers[key]

    def row(n: int) -> int:
        step = 1 if n < key_number else -1
        while n not in row_of:
            n += step
        return row_of[n]

    positions = slice_positions(key_number, num_slices, slice_interval, volume.slice_interval,
                                (numbers[0], numbers[-1]))
    img = stack_windowed_slices(interpolation_plan(positions), lambda i: volume.hu[row(i)], window, out_range)
    return np.ascontiguousarray(img, dtype=np.float32)
