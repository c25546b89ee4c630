"""The one in-memory form of a CT study every reader returns."""
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

import numpy as np


@dataclass
class CTVolume:
    """A CT volume in Hounsfield units, axial slices ordered along the slice normal.

    The in-plane layout is the radiological display of an axial DICOM image: W (columns) runs toward the
    patient's left, H (rows) toward posterior; Z runs along the slice normal (toward superior for axial
    series).

    Attributes:
        hu (np.ndarray): ``(Z, H, W)`` float32 Hounsfield units.
        spacing (tuple[float, float, float]): ``(z, y, x)`` in mm; ``z`` is the median step between slice
            positions.
        positions (np.ndarray): ``(Z,)`` float64 slice positions along the normal, in mm, increasing.
        metadata (dict): where the volume came from (``source``, file names, series UID, modality, ...).
    """
    hu: np.ndarray
    spacing: Tuple[float, float, float]
    positions: np.ndarray
    metadata: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.hu = np.asarray(self.hu, dtype=np.float32)
        self.positions = np.asarray(self.positions, dtype=np.float64)
        if self.hu.ndim != 3:
            raise ValueError(f'CTVolume.hu must be (Z, H, W), got shape {self.hu.shape}')
        if self.positions.shape != (self.hu.shape[0], ):
            raise ValueError(f'CTVolume has {self.hu.shape[0]} slices but {self.positions.shape[0]} positions')
        self.spacing = tuple(float(s) for s in self.spacing)
        if len(self.spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in self.spacing):
            raise ValueError(f'CTVolume.spacing must be three positive numbers (z, y, x) in mm, got {self.spacing}')

    @property
    def num_slices(self) -> int:
        return int(self.hu.shape[0])

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

    def __repr__(self) -> str:
        return (f'CTVolume(shape={self.hu.shape}, spacing={tuple(round(s, 4) for s in self.spacing)}, '
                f'source={self.metadata.get("source")!r})')
