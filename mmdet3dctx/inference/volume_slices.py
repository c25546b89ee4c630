"""Model inputs from a CT volume: the neighbours of a key slice taken at their positions in mm."""
from typing import Callable, List, Optional, Tuple

import numpy as np

from mmdet3dctx.datasets.slice_sampling import (effective_input_slice_interval, interpolation_plan,
                                                nearest_existing_slice, slice_offsets, slice_positions,
                                                stack_windowed_slices)
from mmdet3dctx.io import GAP_FACTOR, CTVolume

Plan = List[Tuple[int, int, float]]


def physical_plan(positions: np.ndarray, key: int, num_slices: int, input_slice_interval: Optional[float],
                  run: Tuple[int, int], eps: float = 1e-6) -> Plan:
    """Interpolation plan ``(i0, i1, w)`` per input slice from slice positions in mm.

    Input slice ``k`` (``k = -(n-1)/2 .. (n-1)/2``) is wanted at ``positions[key] + k · input_slice_interval`` mm and
    interpolated linearly between the two real slices around that position, ``(1 − w)·S[i0] + w·S[i1]``;
    a position past an end of ``run`` (the contiguous run of slices holding the key slice) takes that end slice.
    ``input_slice_interval=None`` takes the adjacent slices (``key + k``, clamped to the run).

    Args:
        positions (np.ndarray): ``(Z,)`` increasing slice positions in mm.
        key (int): key slice index.
        num_slices (int): odd number of input slices.
        input_slice_interval (float | None): wanted spacing of the inputs in mm.
        run (tuple[int, int]): first and last index (inclusive) of the key slice's run.
        eps (float): positions closer than this (mm) to a real slice take it.
    """
    first, last = run
    offsets = slice_offsets(num_slices)
    if input_slice_interval is None:
        return [(int(r), int(r), 0.0) for r in np.clip(key + offsets, first, last)]
    pos = positions[first:last + 1]
    plan = []
    for q in positions[key] + offsets * float(input_slice_interval):
        if q <= pos[0] + eps:
            plan.append((first, first, 0.0))
        elif q >= pos[-1] - eps:
            plan.append((last, last, 0.0))
        else:
            i0 = int(np.searchsorted(pos, q, side='right')) - 1
            if q - pos[i0] < eps:
                plan.append((first + i0, first + i0, 0.0))
            elif pos[i0 + 1] - q < eps:
                plan.append((first + i0 + 1, first + i0 + 1, 0.0))
            else:
                plan.append((first + i0, first + i0 + 1, float((q - pos[i0]) / (pos[i0 + 1] - pos[i0]))))
    return plan


def volume_input_plan(volume: CTVolume, key: int, num_slices: int, input_slice_interval: Optional[float] = 2.0,
                      gap_factor: float = GAP_FACTOR) -> Tuple[Plan, Callable[[int], int]]:
    """The interpolation plan of key slice ``key`` and the map from plan entries to volume rows.

    DeepLesion volumes (``metadata['slice_indices']``) are planned exactly as the training loader plans them —
    in the series' slice numbering, interval-normalised (:func:`slice_positions`), a missing number replaced by
    the nearest existing slice towards the key slice — so their inputs are bit-identical to training's. Every
    other volume is planned from its slice positions in mm (:func:`physical_plan`) within the contiguous run
    (:meth:`CTVolume.runs`) holding the key slice: nothing is interpolated or stacked across a gap.
    """
    if not 0 <= key < volume.num_slices:
        raise IndexError(f'key slice {key} outside the volume of {volume.num_slices} slices')
    numbers = volume.metadata.get('slice_indices')
    if numbers:
        numbers = list(numbers)
        row_of = {n: i for i, n in enumerate(numbers)}
        key_number = numbers[key]
        positions = slice_positions(key_number, num_slices, input_slice_interval, volume.slice_interval,
                                    (numbers[0], numbers[-1]))
        return interpolation_plan(positions), lambda n: row_of[nearest_existing_slice(n, key_number,
                                                                                      row_of.__contains__)]
    run = next(r for r in volume.runs(gap_factor) if r[0] <= key <= r[1])
    return physical_plan(volume.positions, key, num_slices, input_slice_interval, run), lambda i: i


def volume_slice_input(volume: CTVolume, key: int, num_slices: int, input_slice_interval: Optional[float] = 2.0,
                       window: Tuple[float, float] = (-1024, 2050),
                       out_range: Tuple[float, float] = (-50, 205), gap_factor: float = GAP_FACTOR) -> np.ndarray:
    """The ``(H, W, num_slices)`` float32 input for key slice ``key`` (0-based volume index) of ``volume``.

    Slices are planned by :func:`volume_input_plan` (positions in mm, never across a gap; DeepLesion volumes
    as in training) and interpolated and windowed by the training loader's own
    :func:`~mmdet3dctx.datasets.slice_sampling.stack_windowed_slices`.
    """
    plan, row = volume_input_plan(volume, key, num_slices, input_slice_interval, gap_factor)
    img = stack_windowed_slices(plan, lambda i: volume.hu[row(i)], window, out_range)
    return np.ascontiguousarray(img, dtype=np.float32)


def volume_input_spacing(volume: CTVolume, input_slice_interval: Optional[float]) -> float:
    """The mm between the stacked input slices (the training loader's rule,
    :func:`~mmdet3dctx.datasets.slice_sampling.effective_input_slice_interval`)."""
    return effective_input_slice_interval(input_slice_interval, volume.slice_interval)
