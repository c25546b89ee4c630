"""The in-memory form of a CT study that every reader returns, with its geometry in patient space (LPS)."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .volume_geometry import GAP_FACTOR, VolumeGeometry, slice_run_ids, slice_runs, voxel_lps


@dataclass
class CTVolume:
    """A CT volume in Hounsfield units in one array layout, whatever the file format or patient position.

    Array layout (the radiological display of an axial image, for DICOM and NIfTI alike): ``hu[k, i, j]`` with
    ``j`` (W, columns) running toward the patient's **left** (+x of DICOM's LPS), ``i`` (H, rows) toward
    **posterior** (+y) and ``k`` (Z, slices) toward **superior** (+z along the slice normal). Readers flip the
    stored rows, columns and slice order to reach it (a feet-first prone series reads to the same array as a
    head-first supine one).

    Geometry: the centre of voxel ``(k, i, j)`` lies at the LPS point (mm)
    ``origin + j·sx·direction[:, 0] + i·sy·direction[:, 1] + (positions[k] − positions[0])·direction[:, 2]``.
    :attr:`affine` is the same map for a regular grid (median slice step), indexed ``(j, i, k)`` as ITK and
    NIfTI index voxels.

    Attributes:
        hu (np.ndarray): ``(Z, H, W)`` float32 Hounsfield units.
        spacing (tuple[float, float, float]): ``(z, y, x)`` in mm; ``z`` is the median step between slice
            positions.
        positions (np.ndarray): ``(Z,)`` float64 slice positions along the slice normal, in mm, increasing.
        origin (np.ndarray): ``(3,)`` LPS mm of the centre of voxel ``(0, 0, 0)``.
        direction (np.ndarray): ``(3, 3)`` unit vectors (columns) of the W, H and Z axes in LPS.
        metadata (dict): where the volume came from (``source``, file names, series UID, modality, ...).
        slice_refs (list[dict]): per slice (in array order) where it came from: ``file``, ``sop_instance_uid``
            and ``frame`` (1-based, multi-frame objects) for DICOM; empty for other sources.
        headers (list): the DICOM datasets (without pixel data) of the series, for writing DICOM outputs.
    """
    hu: np.ndarray
    spacing: Tuple[float, float, float]
    positions: np.ndarray
    metadata: Dict[str, Any] = field(default_factory=dict)
    origin: Optional[np.ndarray] = None
    direction: Optional[np.ndarray] = None
    slice_refs: List[dict] = field(default_factory=list)
    headers: List[Any] = field(default_factory=list, repr=False)

    def __post_init__(self):
        self.hu = np.asarray(self.hu, dtype=np.float32)
        self.positions = np.asarray(self.positions, dtype=np.float64)
        if self.hu.ndim != 3:
            raise ValueError(f'CTVolume.hu must be (Z, H, W), got shape {self.hu.shape}')
        if self.positions.shape != (self.hu.shape[0], ):
            raise ValueError(f'CTVolume has {self.hu.shape[0]} slices but {self.positions.shape[0]} positions')
        if self.positions.size > 1 and np.any(np.diff(self.positions) <= 0):
            raise ValueError('CTVolume.positions must increase')
        self.spacing = tuple(float(s) for s in self.spacing)
        if len(self.spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in self.spacing):
            raise ValueError(f'CTVolume.spacing must be three positive numbers (z, y, x) in mm, got {self.spacing}')
        self.direction = np.eye(3) if self.direction is None else np.asarray(self.direction, np.float64)
        if self.origin is None:  # the positions run along the normal, the origin sits on the first one
            self.origin = self.direction[:, 2] * self.positions[0] if self.positions.size else np.zeros(3)
        self.origin = np.asarray(self.origin, np.float64).reshape(3)
        if self.direction.shape != (3, 3):
            raise ValueError(f'CTVolume.direction must be (3, 3), got {self.direction.shape}')

    @property
    def num_slices(self) -> int:
        return int(self.hu.shape[0])

    @property
    def geometry(self) -> VolumeGeometry:
        """The geometry alone (shares the position, origin and direction arrays)."""
        return VolumeGeometry(self.spacing, self.positions, self.origin, self.direction)

    @property
    def slice_interval(self) -> float:
        """The slice interval in mm (``spacing[0]``)."""
        return self.spacing[0]

    @property
    def uneven_slices(self) -> bool:
        """Whether the steps between slice positions differ by more than 1% (or 0.01 mm)."""
        if self.num_slices < 3:
            return False
        steps = np.diff(self.positions)
        return bool(np.abs(steps - np.median(steps)).max() > max(0.01, 0.01 * np.median(steps)))

    @property
    def affine(self) -> np.ndarray:
        """``(4, 4)`` map from voxel index ``(j, i, k, 1)`` to LPS mm, with the median slice step."""
        a = np.eye(4)
        a[:3, :3] = self.direction * np.array([self.spacing[2], self.spacing[1], self.spacing[0]])
        a[:3, 3] = self.origin
        return a

    def runs(self, gap_factor: float = GAP_FACTOR) -> List[Tuple[int, int]]:
        """Contiguous runs of slices ``[(first, last), ...]`` (inclusive indices), split at every gap: a step
        between positions larger than ``gap_factor`` × the median step."""
        return slice_runs(self.positions, gap_factor)

    def run_ids(self, gap_factor: float = GAP_FACTOR) -> np.ndarray:
        """``(Z,)`` int: the run (see :meth:`runs`) of every slice."""
        return slice_run_ids(self.positions, gap_factor)

    def to_lps(self, k: Sequence[float], i: Sequence[float], j: Sequence[float]) -> np.ndarray:
        """LPS mm ``(N, 3)`` of voxel coordinates (``k`` a slice index, interpolated between positions;
        ``i``, ``j`` continuous row and column of pixel centres)."""
        return voxel_lps(k, i, j, self.spacing, self.positions, self.origin, self.direction)

    def __repr__(self) -> str:
        return (f'CTVolume(shape={self.hu.shape}, spacing={tuple(round(s, 4) for s in self.spacing)}, '
                f'source={self.metadata.get("source")!r})')
