"""Linking 2D detections on consecutive slices into 3D lesion candidates (numpy only)."""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` ``(M, 4)`` with every box in ``b`` ``(N, 4)``, continuous coordinates."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0, inter / union, 0.0)


def mask_diameters(mask: np.ndarray, spacing: Tuple[float, float] = (1.0, 1.0)) -> Tuple[float, float]:
    """RECIST-like long and short axes of a binary mask, in mm (pixels with the default spacing).

    Long axis: the largest distance between two mask pixels (maximum Feret diameter) plus one pixel's extent
    along it. Short axis: the extent of the mask perpendicular to the long axis.

    Args:
        mask (np.ndarray): ``(H, W)`` bool.
        spacing (tuple[float, float]): ``(y, x)`` mm per pixel.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0, 0.0
    sy, sx = float(spacing[0]), float(spacing[1])
    pts = np.stack([xs, ys], 1).astype(np.float64)
    if len(pts) > 64:  # the hull's vertices carry both diameters (the same values, far fewer pairs)
        import cv2
        pts = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    pts = pts * np.array([sx, sy])
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    i, j = np.unravel_index(np.argmax(d), d.shape)
    if d[i, j] == 0:
        return max(sx, sy), min(sx, sy)
    u = (pts[j] - pts[i]) / d[i, j]
    v = np.array([-u[1], u[0]])
    pixel = lambda w: abs(w[0]) * sx + abs(w[1]) * sy  # noqa: E731  (a pixel's extent along w)
    perp = pts @ v
    return float(d[i, j] + pixel(u)), float(perp.max() - perp.min() + pixel(v))


@dataclass
class LesionFinding:
    """A 3D lesion candidate: 2D detections linked over consecutive slices.

    Attributes:
        slices (list[int]): slice indices (into the volume) of the linked detections, increasing.
        boxes (np.ndarray): ``(S, 4)`` boxes ``x1, y1, x2, y2`` per linked slice.
        scores (np.ndarray): ``(S,)`` scores per linked slice.
        key_slice (int): the slice of the best-scoring detection.
        box (np.ndarray): that detection's box.
        score (float): the best score.
        diameters_mm (tuple[float, float]): long and short axis on the key slice in mm (from the mask when
            there is one, else from the box: its longer and shorter side).
        extent_mm (float): length over slices, ``(positions[last] − positions[first]) + slice interval``
            (the slices' real positions).
        masks (list[np.ndarray], optional): ``(H, W)`` bool mask per linked slice (None where the detector gives
            none).
    """
    slices: List[int]
    boxes: np.ndarray
    scores: np.ndarray
    key_slice: int = 0
    box: np.ndarray = field(default_factory=lambda: np.zeros(4))
    score: float = 0.0
    diameters_mm: Tuple[float, float] = (0.0, 0.0)
    diameters_from: str = 'box'
    extent_mm: float = 0.0
    masks: Optional[List[Optional[np.ndarray]]] = field(default=None, repr=False)

    @property
    def slice_range(self) -> Tuple[int, int]:
        return (self.slices[0], self.slices[-1])

    def to_dict(self) -> dict:
        return dict(slice_range=list(self.slice_range), num_slices=len(self.slices), key_slice=int(self.key_slice),
                    box=[round(float(v), 2) for v in self.box], score=round(float(self.score), 5),
                    long_diameter_mm=round(self.diameters_mm[0], 2), short_diameter_mm=round(self.diameters_mm[1], 2),
                    diameters_from=self.diameters_from, extent_mm=round(self.extent_mm, 2),
                    per_slice=[dict(slice=int(s), box=[round(float(v), 2) for v in b], score=round(float(c), 5))
                               for s, b, c in zip(self.slices, self.boxes, self.scores)])


@dataclass
class _Track:
    """Detections linked so far, one per slice, in slice order: ``(S,)`` slices and per-slice box ``(4,)``,
    score and mask ``(H, W)`` (or None)."""
    slices: List[int] = field(default_factory=list)
    boxes: List[np.ndarray] = field(default_factory=list)
    scores: List[float] = field(default_factory=list)
    masks: List[Optional[np.ndarray]] = field(default_factory=list)

    def add(self, z: int, box: np.ndarray, score: float, mask: Optional[np.ndarray]) -> None:
        self.slices.append(z)
        self.boxes.append(box)
        self.scores.append(score)
        self.masks.append(mask)


def _open_tracks(tracks: Sequence[_Track], z: int, max_gap: int, run_ids: Optional[Sequence[int]]) -> List[int]:
    """Indices of the tracks slice ``z`` may extend: last linked at most ``max_gap`` slices back, in ``z``'s run."""
    return [k for k, tr in enumerate(tracks) if 0 < z - tr.slices[-1] <= max_gap
            and (run_ids is None or run_ids[tr.slices[-1]] == run_ids[z])]


def _match(boxes: np.ndarray, last_boxes: List[np.ndarray], iou_thr: float) -> np.ndarray:
    """Greedy matching of a slice's boxes ``(K, 4)`` to the tracks' last boxes: pairs with IoU >= ``iou_thr``,
    best first, each box and each track used once.

    Returns:
        np.ndarray: ``(K,)`` the matched index into ``last_boxes`` per box, -1 where none.
    """
    assigned = np.full(len(boxes), -1)
    if not last_boxes or not len(boxes):
        return assigned
    iou = box_iou(boxes, np.stack(last_boxes))
    pairs = sorted(((iou[i, j], i, j) for i in range(len(boxes)) for j in range(len(last_boxes))
                    if iou[i, j] >= iou_thr), reverse=True)
    used = set()
    for _, i, j in pairs:
        if assigned[i] < 0 and j not in used:
            assigned[i] = j
            used.add(j)
    return assigned


def _finding(track: _Track, positions: Optional[Sequence[float]], pixel_spacing: Tuple[float, float],
             slice_interval: float) -> LesionFinding:
    """The lesion candidate of a track: its best detection, the diameters on that slice (mask, else box) and the
    extent over slices (from ``positions`` when given, else from the slice count)."""
    best = int(np.argmax(track.scores))
    box = track.boxes[best]
    mask = track.masks[best]
    sy, sx = pixel_spacing
    if mask is not None and np.any(mask):
        mm, source = mask_diameters(mask, (sy, sx)), 'mask'
    else:
        w, h = (box[2] - box[0]) * sx, (box[3] - box[1]) * sy
        mm, source = (max(w, h), min(w, h)), 'box'
    if positions is not None:
        extent = abs(positions[track.slices[-1]] - positions[track.slices[0]]) + slice_interval
    else:
        extent = (track.slices[-1] - track.slices[0] + 1) * slice_interval
    return LesionFinding(slices=track.slices, boxes=np.stack(track.boxes), scores=np.array(track.scores),
                         key_slice=track.slices[best], box=box, score=track.scores[best],
                         diameters_mm=(float(mm[0]), float(mm[1])), diameters_from=source, extent_mm=float(extent),
                         masks=track.masks if any(m is not None for m in track.masks) else None)


def link_detections(slice_indices: Sequence[int],
                    boxes: Sequence[np.ndarray],
                    scores: Sequence[np.ndarray],
                    masks: Optional[Sequence[Optional[np.ndarray]]] = None,
                    positions: Optional[Sequence[float]] = None,
                    pixel_spacing: Tuple[float, float] = (1.0, 1.0),
                    slice_interval: float = 1.0,
                    iou_thr: float = 0.3,
                    max_gap: int = 1,
                    min_slices: int = 1,
                    run_ids: Optional[Sequence[int]] = None) -> List[LesionFinding]:
    """Overlap-based tracking of 2D detections across slices into 3D lesion candidates.

    Slices are visited in order; each detection joins the track whose last box (at most ``max_gap`` slices
    back; 1 = consecutive slices only; never across a gap between runs of slices) overlaps it most with
    IoU ≥ ``iou_thr`` — greedily, best pairs first, one detection per track and slice — or starts a new track.
    Tracks shorter than ``min_slices`` are dropped. Findings are sorted by score, best first.

    Args:
        slice_indices (Sequence[int]): the volume index of each processed slice, increasing.
        boxes (Sequence[np.ndarray]): per slice, ``(K, 4)`` boxes ``x1, y1, x2, y2`` in pixels.
        scores (Sequence[np.ndarray]): per slice, ``(K,)`` scores.
        masks (Sequence[np.ndarray], optional): per slice, ``(K, H, W)`` binary masks (or None).
        positions (Sequence[float], optional): slice positions in mm for every volume index.
        pixel_spacing (tuple[float, float]): ``(y, x)`` mm per pixel for the diameters.
        slice_interval (float): mm between slices (used when ``positions`` is not given).
        iou_thr (float): minimum IoU to link two boxes. Default: 0.3.
        max_gap (int): largest slice-index step between linked detections. Default: 1.
        min_slices (int): shortest kept track. Default: 1.
        run_ids (Sequence[int], optional): the contiguous run (:meth:`~mmdet3dctx.io.CTVolume.run_ids`) of every
            volume index; detections of different runs are never linked.

    Returns:
        list[LesionFinding]
    """
    if not (len(slice_indices) == len(boxes) == len(scores)):
        raise ValueError('slice_indices, boxes and scores need one entry per slice')
    if list(slice_indices) != sorted(slice_indices):
        raise ValueError('slice_indices must be increasing')
    tracks: List[_Track] = []
    for t, z in enumerate(slice_indices):
        b = np.asarray(boxes[t], dtype=np.float64).reshape(-1, 4)
        s = np.asarray(scores[t], dtype=np.float64).reshape(-1)
        open_tracks = _open_tracks(tracks, z, max_gap, run_ids)
        assigned = _match(b, [tracks[k].boxes[-1] for k in open_tracks], iou_thr)
        for i in range(len(b)):
            if assigned[i] >= 0:
                tr = tracks[open_tracks[assigned[i]]]
            else:
                tr = _Track()
                tracks.append(tr)
            tr.add(int(z), b[i], float(s[i]), None if masks is None or masks[t] is None else masks[t][i])
    findings = [_finding(tr, positions, pixel_spacing, slice_interval) for tr in tracks
                if len(tr.slices) >= min_slices]
    findings.sort(key=lambda f: -f.score)
    return findings
