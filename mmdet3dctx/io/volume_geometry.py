"""A CT volume's geometry without its voxels: slice positions, spacing, origin and direction in LPS mm.

:class:`~mmdet3dctx.io.CTVolume` keeps its geometry in the same fields and delegates to the functions here, so a
prepared dataset's case (whose voxels stay in a memory-mapped cache) is placed in patient space, and split into
runs of slices, exactly as the volume read from its file.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

#: a step between slice positions larger than this many times the series' usual (median) step is a gap
GAP_FACTOR = 1.5


def slice_runs(positions: Sequence[float], gap_factor: float = GAP_FACTOR) -> List[Tuple[int, int]]:
    """Contiguous runs of slices ``[(first, last), ...]`` (inclusive indices), split at every gap: a step between
    increasing ``positions`` (mm) larger than ``gap_factor`` × the median step."""
    positions = np.asarray(positions, np.float64)
    n = int(positions.shape[0])
    if n < 2:
        return [(0, n - 1)] if n else []
    steps = np.diff(positions)
    cuts = np.flatnonzero(steps > gap_factor * np.median(steps))
    starts = [0] + [int(c) + 1 for c in cuts]
    ends = [int(c) for c in cuts] + [n - 1]
    return list(zip(starts, ends))


def slice_run_ids(positions: Sequence[float], gap_factor: float = GAP_FACTOR) -> np.ndarray:
    """``(Z,)`` int: the run (see :func:`slice_runs`) of every slice."""
    ids = np.zeros(len(positions), np.int64)
    for r, (a, b) in enumerate(slice_runs(positions, gap_factor)):
        ids[a:b + 1] = r
    return ids


def voxel_lps(k: Sequence[float], i: Sequence[float], j: Sequence[float], spacing: Sequence[float],
              positions: np.ndarray, origin: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """LPS mm ``(N, 3)`` of voxel coordinates: ``origin + j·sx·d[:, 0] + i·sy·d[:, 1] + (z(k) − z(0))·d[:, 2]``,
    ``z(k)`` the slice position interpolated at (fractional) index ``k``; ``i``, ``j`` continuous row and column
    of pixel centres."""
    k, i, j = (np.atleast_1d(np.asarray(v, np.float64)) for v in (k, i, j))
    z = np.interp(k, np.arange(len(positions)), positions) - positions[0]
    return (origin[None] + j[:, None] * spacing[2] * direction[:, 0][None]
            + i[:, None] * spacing[1] * direction[:, 1][None] + z[:, None] * direction[:, 2][None])


@dataclass
class VolumeGeometry:
    """Where a ``(Z, H, W)`` volume's voxels lie in patient space (the fields and conventions of
    :class:`~mmdet3dctx.io.CTVolume`, which has the same methods).

    Attributes:
        spacing (tuple[float, float, float]): ``(z, y, x)`` mm.
        positions (np.ndarray): ``(Z,)`` increasing slice positions (mm).
        origin (np.ndarray): ``(3,)`` LPS mm of the centre of voxel ``(0, 0, 0)``.
        direction (np.ndarray): ``(3, 3)`` columns: the W, H and Z axes in LPS.
    """
    spacing: Tuple[float, float, float]
    positions: np.ndarray
    origin: Optional[np.ndarray] = None
    direction: Optional[np.ndarray] = None

    def __post_init__(self):
        self.spacing = tuple(float(s) for s in self.spacing)
        self.positions = np.asarray(self.positions, np.float64).reshape(-1)
        self.direction = np.eye(3) if self.direction is None else np.asarray(self.direction, np.float64)
        if self.origin is None:
            self.origin = self.direction[:, 2] * self.positions[0] if self.positions.size else np.zeros(3)
        self.origin = np.asarray(self.origin, np.float64).reshape(3)

    @classmethod
    def from_record(cls, record: dict) -> 'VolumeGeometry':
        """From a prepared dataset's case record (``spacing``, ``positions``, ``origin``, ``direction``)."""
        return cls(record['spacing'], record['positions'], record.get('origin'), record.get('direction'))

    @property
    def num_slices(self) -> int:
        return int(self.positions.shape[0])

    @property
    def slice_interval(self) -> float:
        """The slice interval in mm (``spacing[0]``)."""
        return self.spacing[0]

    def runs(self, gap_factor: float = GAP_FACTOR) -> List[Tuple[int, int]]:
        """See :func:`slice_runs`."""
        return slice_runs(self.positions, gap_factor)

    def run_ids(self, gap_factor: float = GAP_FACTOR) -> np.ndarray:
        """See :func:`slice_run_ids`."""
        return slice_run_ids(self.positions, gap_factor)

    def to_lps(self, k: Sequence[float], i: Sequence[float], j: Sequence[float]) -> np.ndarray:
        """See :func:`voxel_lps`."""
        return voxel_lps(k, i, j, self.spacing, self.positions, self.origin, self.direction)
