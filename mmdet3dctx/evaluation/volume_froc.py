"""FROC of 3D lesion findings per patient volume (LUNA16's protocol), NumPy only.

The volumetric benchmarks count lesions per patient volume, in 3D. Every volume contributes its findings
(a score, a centre and an axis-aligned box in LPS mm) and its lesions (centre, box, diameter, and optionally its
voxels in an instance map); this module scores them as LUNA16's ``noduleCADEvaluationLUNA16.py`` does:

* a finding **hits** a lesion of its own volume under one of three criteria:

  - ``'centre'`` (LUNA16): the finding's centre lies strictly within the lesion's radius of the lesion's centre,
    ``|c_f - c_l|^2 < (d_l / 2)^2``;
  - ``'centre_in_mask'`` (LUNA16's "within its radius or mask", the mask form): the voxel nearest to the
    finding's centre belongs to that lesion in the volume's instance map (a centre outside the volume hits
    nothing), see :class:`LesionMap`;
  - ``'iou'`` (nnDetection): the 3D intersection over union of the two axis-aligned boxes is at least
    ``iou_thr`` (0.1 by default);

* the findings of all volumes are pooled and ranked by score, highest first; a finding that hits at least one
  lesion is never a false positive (FP): the lesions it hits become detected, each counted once; a finding that
  hits only lesions already detected by a higher-scored finding counts as neither a true nor a false positive.
  LUNA16 does the same: every candidate within a nodule's radius is removed from the FP list, the nodule enters
  its FROC once with the highest probability of its candidates, and the extra candidates are reported as
  "double detections ignored". A finding hitting no lesion (including every finding of a lesion-free volume) is
  a FP;
* after each ranked finding the point (FPs / number of volumes, detected lesions / number of lesions) is
  recorded; FPs are per volume over **all** volumes of the split, lesion-free ones included;
* the sensitivity at each FP level is read off those points with the DeepLesion code's rule
  (:func:`mmdet3dctx.evaluation.froc.interp_sensitivity`: ``numpy.interp`` over the per-finding points, the
  final sensitivity beyond the last point); the competition performance metric (CPM) is the mean over the levels
  (LUNA16's 1/8, 1/4, 1/2, 1, 2, 4 and 8 FPs per volume by default);
* sub-groups by lesion diameter (half-open bins ``[low, high)`` in mm) count sensitivity over the group's lesions
  only; the ranking and the FPs stay those of all findings over all volumes;
* the operating point of each FP level is the lowest score threshold whose kept findings (``score >= thr``) make
  at most that many FPs per volume (:meth:`mmdet3dctx.evaluation.froc.FROCMatch.operating_points`).

Where this differs from LUNA16's script: it interpolates on a 10 001-point grid of FP rates and merges findings of
equal score into one ROC point (scikit-learn's ``roc_curve``); here every finding is a point and ties are
ranked in reverse input order (as in :mod:`mmdet3dctx.evaluation.froc`), which gives the same value wherever
scores are distinct and the levels fall on the curve's points. LUNA16's excluded nodules
(``annotations_excluded.csv``: marks on them neither hit nor FP) have no counterpart in the prepared index.

Because whether a finding is a FP depends on the finding alone and a lesion is detected at the first ranked
finding that hits it, the walk reduces to array operations over every (finding, lesion of its volume) pair, as
in the 2D code; :func:`match_volumes` returns the same :class:`~mmdet3dctx.evaluation.froc.FROCMatch`, with one
"image" per volume.

Input, one mapping per volume (arrays or nested lists; mm in LPS)::

    dict(case_id='liver_003',                 # names the volume in error messages (optional)
         scores=(F,), centres=(F, 3), boxes=(F, 6),        # boxes: min x, y, z then max x, y, z
         lesion_centres=(L, 3), lesion_boxes=(L, 6), lesion_diameters=(L,),
         lesion_ids=(L,),                     # instance values in the lesion map (optional: 1..L)
         lesion_map=LesionMap | callable)     # only for 'centre_in_mask': LPS points (P, 3) -> labels (P,)

``boxes``/``lesion_boxes`` are needed by ``'iou'`` only, ``lesion_diameters`` by ``'centre'`` and the sub-groups
(NaN: unknown diameter, in no sub-group).
"""
import math
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .froc import FROCMatch, interp_sensitivity, ranked_pairs

#: Hit criteria: LUNA16's centre within the radius, its mask form, nnDetection's 3D IoU.
CRITERIA = ('centre', 'centre_in_mask', 'iou')
#: FPs per volume of LUNA16's competition performance metric (CPM).
DEFAULT_VOLUME_FP_LEVELS = (0.125, 0.25, 0.5, 1., 2., 4., 8.)
#: Lesion diameter sub-groups: bin edges in mm, bins half-open ``[low, high)``.
DEFAULT_DIAMETER_BINS = (0., 10., 20., 30., math.inf)
#: nnDetection's matching threshold for 3D IoU.
DEFAULT_IOU_THR = 0.1

CRITERION_TEXT = {
    'centre': "finding's centre within the lesion's radius (LUNA16)",
    'centre_in_mask': "finding's centre in the lesion's mask (LUNA16, mask form)",
    'iou': '3D box IoU >= {thr:g} (nnDetection)',
}


class VolumeEvalError(ValueError):
    """Malformed input to the 3D evaluation; the message names the volume (case) and the field at fault."""


class LesionMap:
    """A volume's lesion instance map with its patient geometry: the lesion (if any) at an LPS point.

    The geometry is :class:`mmdet3dctx.io.CTVolume`'s: the centre of voxel ``(k, i, j)`` lies at
    ``origin + j·sx·direction[:, 0] + i·sy·direction[:, 1] + (positions[k] − positions[0])·direction[:, 2]``.
    A point belongs to its nearest voxel: column ``j`` covers ``[j − 1/2, j + 1/2)`` of ``x / sx`` along the
    first axis (rows alike), slice ``k`` the positions from the midpoint with its lower neighbour to the midpoint
    with its upper one, the first and last slice half a slice interval (``spacing[0]``) beyond their position.
    A point outside every voxel has label 0 (background).

    Args:
        labels (np.ndarray): ``(Z, H, W)`` integer instance map (0 background, ``n`` lesion ``n``); a memory map
            works (only the looked-up voxels are read).
        spacing (Sequence[float]): ``(z, y, x)`` in mm.
        positions (Sequence[float], optional): ``(Z,)`` increasing slice positions in mm. Defaults to None
            (``k · spacing[0]``).
        origin (Sequence[float], optional): LPS mm of the centre of voxel ``(0, 0, 0)``. Defaults to zeros.
        direction (array-like, optional): ``(3, 3)``, columns the W, H and Z axes in LPS. Defaults to identity.

    Example:
        >>> import numpy as np
        >>> labels = np.zeros((4, 5, 5), np.uint16); labels[1:3, 1:3, 2:4] = 1
        >>> LesionMap(labels, spacing=(2., 1., 1.)).label_at([[2., 1., 2.], [3.6, 1., 2.], [0., 0., -2.]]).tolist()
        [1, 0, 0]
    """

    def __init__(self, labels: np.ndarray, spacing: Sequence[float], positions: Optional[Sequence[float]] = None,
                 origin: Optional[Sequence[float]] = None, direction=None):
        if labels.ndim != 3:
            raise VolumeEvalError(f'lesion map must be (Z, H, W), got shape {labels.shape}')
        self.labels = labels
        self.spacing = tuple(float(s) for s in spacing)
        num = labels.shape[0]
        self.positions = (np.arange(num, dtype=np.float64) * self.spacing[0] if positions is None else
                          np.asarray(positions, np.float64).reshape(-1))
        if self.positions.shape[0] != num:
            raise VolumeEvalError(f'lesion map has {num} slices but {self.positions.shape[0]} positions')
        self.origin = np.zeros(3) if origin is None else np.asarray(origin, np.float64).reshape(3)
        self.direction = np.eye(3) if direction is None else np.asarray(direction, np.float64).reshape(3, 3)
        self._inverse = np.linalg.inv(self.direction)
        # slice k covers [edges[k], edges[k + 1]) along the normal, relative to positions[0]
        rel = self.positions - self.positions[0]
        half = 0.5 * self.spacing[0]
        self._edges = np.concatenate([[rel[0] - half], 0.5 * (rel[1:] + rel[:-1]), [rel[-1] + half]])

    def _indexes(self, points) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        pts = np.asarray(points, np.float64).reshape(-1, 3)
        c = (pts - self.origin) @ self._inverse.T
        j = np.floor(c[:, 0] / self.spacing[2] + 0.5).astype(np.int64)
        i = np.floor(c[:, 1] / self.spacing[1] + 0.5).astype(np.int64)
        k = np.searchsorted(self._edges, c[:, 2], side='right') - 1
        z, h, w = self.labels.shape
        inside = (k >= 0) & (k < z) & (i >= 0) & (i < h) & (j >= 0) & (j < w)
        return k, i, j, inside

    def voxel_index(self, points) -> Tuple[np.ndarray, np.ndarray]:
        """The nearest voxel of each LPS point.

        Args:
            points (array-like): ``(P, 3)`` LPS mm.

        Returns:
            tuple[np.ndarray, np.ndarray]: ``(P, 3)`` int64 indexes ``(k, i, j)`` (clipped into the volume) and
            ``(P,)`` bool, whether the point lies inside the volume.
        """
        k, i, j, inside = self._indexes(points)
        upper = np.array(self.labels.shape) - 1
        return np.clip(np.stack([k, i, j], axis=1), 0, upper), inside

    def label_at(self, points) -> np.ndarray:
        """``(P,)`` int64 instance label at each LPS point's nearest voxel, 0 outside the volume."""
        k, i, j, inside = self._indexes(points)
        if inside.all():
            return np.asarray(self.labels[k, i, j], dtype=np.int64)
        out = np.zeros(k.shape[0], np.int64)
        out[inside] = self.labels[k[inside], i[inside], j[inside]]
        return out

    __call__ = label_at


LesionLookup = Union[LesionMap, Callable[[np.ndarray], np.ndarray]]


def volume_record(scores, centres, boxes=None, lesion_centres=None, lesion_boxes=None, lesion_diameters=None,
                  lesion_ids=None, lesion_map: Optional[LesionLookup] = None, case_id: Optional[str] = None) -> dict:
    """One volume's input to :func:`evaluate_volumes`, with the keys it reads (see the module docstring).

    Args:
        scores (array-like): ``(F,)`` finding scores.
        centres (array-like): ``(F, 3)`` finding centres, LPS mm.
        boxes (array-like, optional): ``(F, 6)`` finding boxes ``min xyz, max xyz``, LPS mm (``'iou'``).
        lesion_centres (array-like, optional): ``(L, 3)`` lesion centres, LPS mm (``'centre'``). Without any
            lesion field the volume is lesion-free.
        lesion_boxes (array-like, optional): ``(L, 6)`` lesion boxes, LPS mm (``'iou'``).
        lesion_diameters (array-like, optional): ``(L,)`` diameters in mm (``'centre'``, sub-groups).
        lesion_ids (array-like, optional): ``(L,)`` values of the lesions in ``lesion_map``. Defaults to 1..L.
        lesion_map (LesionMap | callable, optional): LPS points ``(P, 3)`` -> instance labels ``(P,)``
            (``'centre_in_mask'``).
        case_id (str, optional): Names the volume in error messages.

    Returns:
        dict: The record.
    """
    return dict(case_id=case_id, scores=scores, centres=centres, boxes=boxes, lesion_centres=lesion_centres,
                lesion_boxes=lesion_boxes, lesion_diameters=lesion_diameters, lesion_ids=lesion_ids,
                lesion_map=lesion_map)


def _name(volume: Mapping, index: int) -> str:
    case = volume.get('case_id')
    return f'volume {index} ({case})' if case is not None else f'volume {index}'


def _stack(volumes: Sequence[Mapping], key: str, width: int, counts: Optional[np.ndarray] = None
           ) -> Tuple[np.ndarray, np.ndarray]:
    """Concatenate one field of every volume as float64 ``(N, width)`` (``width`` 0: ``(N,)``) and its counts.

    Raises:
        VolumeEvalError: naming the volume whose field is missing, mis-shaped or of the wrong length
            (``counts``).
    """
    what = f'(N, {width})' if width else '(N,)'
    parts = []
    for n, v in enumerate(volumes):
        value = v.get(key)
        if value is None:
            if counts is not None and counts[n] == 0:
                value = ()
            else:
                raise VolumeEvalError(f'{_name(v, n)}: {key} is missing')
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise VolumeEvalError(f'{_name(v, n)}: {key} must be numbers of shape {what}') from None
        if a.size == 0:
            a = a.reshape((0, width) if width else (0, ))
        if not (a.ndim == 2 and a.shape[1] == width if width else a.ndim == 1):
            raise VolumeEvalError(f'{_name(v, n)}: {key} must have shape {what}, got {a.shape}')
        parts.append(a)
    num = np.fromiter((p.shape[0] for p in parts), np.int64, len(parts))
    if counts is not None and not np.array_equal(num, counts):
        n = int(np.flatnonzero(num != counts)[0])
        raise VolumeEvalError(f'{_name(volumes[n], n)}: {key} has {num[n]} rows for {counts[n]} entries')
    flat = np.concatenate(parts) if parts else np.zeros((0, width) if width else (0, ))
    return flat, num


def _num_lesions(volume: Mapping) -> int:
    """A volume's number of lesions: the length of the first lesion field it has (0 for none)."""
    for key in ('lesion_centres', 'lesion_boxes', 'lesion_diameters', 'lesion_ids'):
        value = volume.get(key)
        if value is not None:
            return len(value)
    return 0


def _check_finite(volumes, key, flat, num, allow_nan=False):
    bad = ~np.isfinite(flat) if not allow_nan else np.isinf(flat)
    if flat.ndim == 2:
        bad = bad.any(axis=1)
    if bad.any():
        n = int(np.searchsorted(np.cumsum(num), np.flatnonzero(bad)[0], side='right'))
        raise VolumeEvalError(f'{_name(volumes[n], n)}: {key} has NaN or infinite values')


def box_iou_3d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise 3D IoU of paired axis-aligned boxes ``min x, y, z, max x, y, z`` (continuous mm).

    ``IoU = V(a ∩ b) / (V(a) + V(b) − V(a ∩ b))``; boxes with no volume overlap nothing (IoU 0).

    Args:
        a (np.ndarray): ``(P, 6)`` boxes.
        b (np.ndarray): ``(P, 6)`` boxes, paired row by row with ``a``.

    Returns:
        np.ndarray: ``(P,)`` float64.

    Example:
        >>> import numpy as np
        >>> box_iou_3d(np.array([[0, 0, 0, 2, 2, 2.]]), np.array([[1, 0, 0, 3, 2, 2.]])).tolist()
        [0.3333333333333333]
    """
    # The same operations in the same order as the reference loop, so ties with a threshold resolve alike.
    dx = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 0], b[:, 0]), 0.)
    dy = np.maximum(np.minimum(a[:, 4], b[:, 4]) - np.maximum(a[:, 1], b[:, 1]), 0.)
    dz = np.maximum(np.minimum(a[:, 5], b[:, 5]) - np.maximum(a[:, 2], b[:, 2]), 0.)
    inter = dx * dy * dz
    vol_a = (a[:, 3] - a[:, 0]) * (a[:, 4] - a[:, 1]) * (a[:, 5] - a[:, 2])
    vol_b = (b[:, 3] - b[:, 0]) * (b[:, 4] - b[:, 1]) * (b[:, 5] - b[:, 2])
    union = vol_a + vol_b - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        out = inter / union
    return np.where(union > 0, out, 0.)


def _check_criterion(criterion: str, iou_thr: float) -> None:
    if criterion not in CRITERIA:
        raise VolumeEvalError(f'criterion must be one of {CRITERIA}, got {criterion!r}')
    if criterion == 'iou' and not 0 < iou_thr <= 1:
        raise VolumeEvalError(f'iou_thr must be in (0, 1], got {iou_thr}')


def _finding_labels(volumes, centres, num_findings, num_lesions) -> np.ndarray:
    """``(F,)`` instance label at every finding centre, volume by volume (each volume's own map)."""
    labels = np.zeros(centres.shape[0], np.int64)
    start = 0
    for n, (v, f, m) in enumerate(zip(volumes, num_findings, num_lesions)):
        if f and m:
            lookup = v.get('lesion_map')
            if lookup is None:
                raise VolumeEvalError(f"{_name(v, n)}: criterion 'centre_in_mask' needs its lesion_map")
            out = np.asarray(lookup(centres[start:start + f]), dtype=np.int64).reshape(-1)
            if out.shape[0] != f:
                raise VolumeEvalError(f'{_name(v, n)}: lesion_map gave {out.shape[0]} labels for {f} points')
            labels[start:start + f] = out
        start += f
    return labels


def match_volumes(volumes: Sequence[Mapping], criterion: str = 'centre', iou_thr: float = DEFAULT_IOU_THR
                  ) -> FROCMatch:
    """Rank the findings of all volumes, flag false positives and find the first hit of every lesion.

    Args:
        volumes (Sequence[Mapping]): One record per volume (see the module docstring, :func:`volume_record`).
        criterion (str): ``'centre'``, ``'centre_in_mask'`` or ``'iou'``. Defaults to ``'centre'``.
        iou_thr (float): 3D IoU for a hit with ``'iou'``. Defaults to 0.1.

    Returns:
        FROCMatch: FP flags in rank order, the rank of the first finding that hits each lesion (volumes
        concatenated in order), one "image" per volume, and the ranked scores.

    Raises:
        VolumeEvalError: On an unknown criterion, no volume, or a malformed record (naming the volume).
    """
    _check_criterion(criterion, iou_thr)
    num_volumes = len(volumes)
    if num_volumes == 0:
        raise VolumeEvalError('the 3D FROC needs at least one volume (FPs are counted per volume)')
    scores, n_det = _stack(volumes, 'scores', 0)
    _check_finite(volumes, 'scores', scores, n_det)
    centres, _ = _stack(volumes, 'centres', 3, n_det)
    _check_finite(volumes, 'centres', centres, n_det)
    if criterion == 'iou':
        boxes, _ = _stack(volumes, 'boxes', 6, n_det)
        _check_finite(volumes, 'boxes', boxes, n_det)
    n_gt = np.fromiter((_num_lesions(v) for v in volumes), np.int64, num_volumes)
    if criterion == 'centre':
        les_centres, _ = _stack(volumes, 'lesion_centres', 3, n_gt)
        _check_finite(volumes, 'lesion_centres', les_centres, n_gt)
        diam, _ = _stack(volumes, 'lesion_diameters', 0, n_gt)
        _check_finite(volumes, 'lesion_diameters', diam, n_gt)
        if (diam < 0).any():
            n = int(np.searchsorted(np.cumsum(n_gt), np.flatnonzero(diam < 0)[0], side='right'))
            raise VolumeEvalError(f'{_name(volumes[n], n)}: lesion_diameters must not be negative')
    elif criterion == 'iou':
        les_boxes, _ = _stack(volumes, 'lesion_boxes', 6, n_gt)
        _check_finite(volumes, 'lesion_boxes', les_boxes, n_gt)
    else:
        ids = [v.get('lesion_ids') for v in volumes]
        ids = [np.arange(1, n + 1) if i is None else i for i, n in zip(ids, n_gt)]
        les_ids, _ = _stack([dict(v, lesion_ids=i) for v, i in zip(volumes, ids)], 'lesion_ids', 0, n_gt)
        bad = ~(les_ids > 0) | (les_ids != np.round(les_ids))
        if bad.any():
            n = int(np.searchsorted(np.cumsum(n_gt), np.flatnonzero(bad)[0], side='right'))
            raise VolumeEvalError(f'{_name(volumes[n], n)}: lesion_ids must be positive integers (0 is background)')
        labels = _finding_labels(volumes, centres, n_det, n_gt)

    # Rank as the 2D FROC does; every (ranked finding, lesion of its volume) pair, pairs ordered by finding rank.
    order, pair_det, pair_gt = ranked_pairs(scores, n_det, n_gt)
    num_dets = order.shape[0]
    pair_in = order[pair_det]  # the finding's index in the concatenated input
    if criterion == 'centre':
        d = centres[pair_in] - les_centres[pair_gt]
        radius = diam[pair_gt] / 2.
        hit = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2] < radius * radius
    elif criterion == 'iou':
        hit = box_iou_3d(boxes[pair_in], les_boxes[pair_gt]) >= iou_thr
    else:
        hit = labels[pair_in] == les_ids[pair_gt].astype(np.int64)

    is_fp = np.bincount(pair_det[hit], minlength=num_dets) == 0
    first_hit = np.full(int(n_gt.sum()), num_dets, dtype=np.int64)
    np.minimum.at(first_hit, pair_gt[hit], pair_det[hit])
    return FROCMatch(is_fp, first_hit, num_volumes, n_det, n_gt, order, scores[order])


def diameter_groups(diameter_bins: Sequence[float]) -> List[Tuple[str, float, float]]:
    """Names and bounds of the diameter sub-groups: ``(name, low, high)``, each bin ``[low, high)`` in mm.

    Example:
        >>> [g[0] for g in diameter_groups((0, 10, 20, 30, float('inf')))]
        ['<10mm', '10-20mm', '20-30mm', '>=30mm']
    """
    edges = [float(e) for e in diameter_bins]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or math.isnan(sum(edges)):
        raise VolumeEvalError(f'diameter_bins must be at least two increasing edges in mm, got {list(diameter_bins)}')
    groups = []
    for low, high in zip(edges, edges[1:]):
        if low <= 0 and math.isfinite(high):
            name = f'<{high:g}mm'
        elif math.isinf(high):
            name = f'>={low:g}mm'
        else:
            name = f'{low:g}-{high:g}mm'
        groups.append((name, low, high))
    return groups


def _json_number(x: float) -> Optional[float]:
    return float(x) if math.isfinite(x) else None


def evaluate_volumes(volumes: Sequence[Mapping],
                     criterion: str = 'centre',
                     iou_thr: float = DEFAULT_IOU_THR,
                     fp_levels: Sequence[float] = DEFAULT_VOLUME_FP_LEVELS,
                     diameter_bins: Optional[Sequence[float]] = DEFAULT_DIAMETER_BINS,
                     use_mask: bool = False,
                     curve_points: int = 200) -> dict:
    """The 3D FROC per volume: sensitivity at FPs per volume, CPM, diameter sub-groups, operating points.

    Args:
        volumes (Sequence[Mapping]): One record per volume (see the module docstring, :func:`volume_record`);
            lesion-free volumes count in the FP denominator.
        criterion (str): ``'centre'`` (LUNA16), ``'centre_in_mask'`` or ``'iou'`` (nnDetection).
            Defaults to ``'centre'``.
        iou_thr (float): 3D IoU for a hit with ``'iou'``. Defaults to 0.1.
        fp_levels (Sequence[float]): FPs per volume of the table; the CPM is their mean. Defaults to
            ``(1/8, 1/4, 1/2, 1, 2, 4, 8)`` (LUNA16).
        diameter_bins (Sequence[float], optional): Sub-group edges in mm, bins ``[low, high)``. Defaults to
            ``(0, 10, 20, 30, inf)``; None or empty: no sub-groups.
        use_mask (bool): With ``'centre'``, use the mask form (``'centre_in_mask'``). Defaults to False.
        curve_points (int): Points of the stored curve (log-spaced FP levels, exact protocol values).
            Defaults to 200.

    Returns:
        dict: JSON-ready: ``criterion``, ``iou_thr`` (None unless ``'iou'``), ``fp_levels``, ``sensitivity``
        (fractions at ``fp_levels``), ``cpm``; counts ``num_volumes``, ``num_lesion_free_volumes``,
        ``num_lesions``, ``num_findings``, ``num_detected_lesions`` (hit at the lowest threshold),
        ``num_false_positives``, ``num_duplicate_findings`` (neither TP nor FP); ``diameter_bins`` (None for
        infinity) and ``subgroups`` (``{name: {range_mm, num_lesions, sensitivity, cpm}}``, None for an empty
        group); ``score_thresholds`` and ``operating_points`` (per level ``fp_level``, ``score_thr``,
        ``fp_per_volume``, ``sensitivity``, ``num_findings``; None where no threshold reaches the level), so
        ``tools/infer.py --score-thr FILE:FP`` reads it as a ``froc.json``; ``curve`` (``fp_per_volume``,
        ``sensitivity``).

    Raises:
        VolumeEvalError: On malformed input, or no lesion at all (sensitivity undefined).

    Example:
        >>> v = [volume_record([.9, .8], [[0, 0, 0], [50, 0, 0]], lesion_centres=[[1, 0, 0]],
        ...                    lesion_diameters=[6.]),
        ...      volume_record([.7], [[0, 0, 0]])]
        >>> r = evaluate_volumes(v, fp_levels=(0.5, 1))
        >>> r['sensitivity'], r['cpm'], r['num_false_positives']
        ([1.0, 1.0], 1.0, 2)
    """
    if use_mask and criterion == 'centre':
        criterion = 'centre_in_mask'
    elif use_mask and criterion != 'centre_in_mask':
        raise VolumeEvalError(f"use_mask applies to the 'centre' criterion, not {criterion!r}")
    match = match_volumes(volumes, criterion, iou_thr)
    if match.num_lesions == 0:
        raise VolumeEvalError(f'none of the {match.num_images} volumes has a lesion, so sensitivity is undefined '
                              '(check the split and the lesion labels)')
    fp_levels = [float(f) for f in fp_levels]
    if not fp_levels:
        raise VolumeEvalError('fp_levels is empty')
    sens, fp = match.curve()
    num_dets = match.is_fp.shape[0]
    new = np.bincount(match.first_hit[match.first_hit < num_dets], minlength=num_dets) > 0
    sensitivity = interp_sensitivity(sens, fp, fp_levels)

    subgroups = {}
    bins = None
    if diameter_bins is not None and len(diameter_bins):
        groups = diameter_groups(diameter_bins)
        bins = [_json_number(float(e)) for e in diameter_bins]
        if criterion == 'centre':
            diam = _stack(volumes, 'lesion_diameters', 0, match.num_lesions_per_image)[0]
        else:
            diam = np.concatenate(
                [np.full(n, np.nan) if v.get('lesion_diameters') is None else
                 np.asarray(v['lesion_diameters'], np.float64).reshape(-1)
                 for v, n in zip(volumes, match.num_lesions_per_image)] or [np.zeros(0)])
            if diam.shape[0] != match.num_lesions:
                raise VolumeEvalError(f'lesion_diameters give {diam.shape[0]} values for {match.num_lesions} '
                                      'lesions')
        with np.errstate(invalid='ignore'):
            for name, low, high in groups:
                mask = (diam >= low) & (diam < high)
                n = int(mask.sum())
                row = dict(range_mm=[_json_number(low), _json_number(high)], num_lesions=n, sensitivity=None,
                           cpm=None)
                if n:
                    s = match.sensitivity_at_fp(fp_levels, mask)
                    row.update(sensitivity=[float(x) for x in s], cpm=float(np.mean(s)))
                subgroups[name] = row

    points = [dict(fp_level=p['fp_level'], score_thr=p['score_thr'], fp_per_volume=p['fp_per_image'],
                   sensitivity=p['sensitivity'], num_findings=p['num_detections'])
              for p in match.operating_points(fp_levels)]
    grid_max = max(fp_levels + [fp[-1] if fp.size else 0.])
    grid_min = min([f for f in fp_levels if f > 0] or [1.]) / 8
    grid = np.geomspace(grid_min, max(grid_max, grid_min) * 1.01, curve_points)
    return dict(
        criterion=criterion,
        iou_thr=float(iou_thr) if criterion == 'iou' else None,
        fp_levels=fp_levels,
        sensitivity=[float(s) for s in sensitivity],
        cpm=float(np.mean(sensitivity)),
        num_volumes=match.num_images,
        num_lesion_free_volumes=int((match.num_lesions_per_image == 0).sum()),
        num_lesions=match.num_lesions,
        num_findings=int(num_dets),
        num_detected_lesions=int((match.first_hit < num_dets).sum()),
        num_false_positives=int(match.is_fp.sum()),
        num_duplicate_findings=int((~match.is_fp & ~new).sum()),
        diameter_bins=bins,
        subgroups=subgroups,
        score_thresholds=[p['score_thr'] for p in points],
        operating_points=points,
        curve=dict(fp_per_volume=grid.tolist(), sensitivity=interp_sensitivity(sens, fp, grid).tolist()),
    )


def _count(num: int, noun: str) -> str:
    return f'{num} {noun}' + ('' if num == 1 else 's')


def format_volume_froc_table(result: dict, title: Optional[str] = None) -> str:
    """Text table of a :func:`evaluate_volumes` result: sensitivity (%) at each FP level per volume and the CPM,
    the diameter sub-groups, and the score threshold of each level.

    Args:
        result (dict): From :func:`evaluate_volumes`.
        title (str, optional): First line. Defaults to a summary of the counts and the criterion.

    Returns:
        str: The table.
    """
    levels = result['fp_levels']
    cols = [f'{f:g}' for f in levels] + ['CPM']
    widths = [max(6, len(c)) for c in cols]
    names = ['all lesions'] + [f'{name}' for name in result.get('subgroups', {})]
    name_w = max([len('FPs per volume'), len('score threshold')] + [len(n) for n in names])

    def cells(values, fmt):
        return '  '.join((fmt(v) if v is not None else '-').rjust(w) for v, w in zip(values, widths))

    def pct(v):
        return f'{100 * v:.2f}'

    crit = CRITERION_TEXT[result['criterion']].format(thr=result.get('iou_thr') or 0)
    n = result
    lines = [title or (f'3D FROC per volume: {_count(n["num_volumes"], "volume")} '
                       f'({n["num_lesion_free_volumes"]} lesion-free), {_count(n["num_lesions"], "lesion")}, '
                       f'{_count(n["num_findings"], "finding")}; hit: {crit}'),
             f'sensitivity (%) at FPs per volume; {_count(n["num_detected_lesions"], "lesion")} detected at the '
             f'lowest threshold, {_count(n["num_false_positives"], "false positive")}, '
             f'{_count(n["num_duplicate_findings"], "duplicate finding")} ignored']
    lines.append('FPs per volume'.ljust(name_w) + '  ' + 'lesions'.rjust(7) + '  '
                 + '  '.join(c.rjust(w) for c, w in zip(cols, widths)))
    lines.append('all lesions'.ljust(name_w) + '  ' + str(result['num_lesions']).rjust(7) + '  '
                 + cells(result['sensitivity'] + [result['cpm']], pct))
    for name, row in result.get('subgroups', {}).items():
        values = (row['sensitivity'] or [None] * len(levels)) + [row['cpm']]
        lines.append(name.ljust(name_w) + '  ' + str(row['num_lesions']).rjust(7) + '  ' + cells(values, pct))
    lines.append('score threshold'.ljust(name_w) + '  ' + ''.rjust(7) + '  '
                 + cells(result['score_thresholds'], lambda v: f'{v:.4g}'))
    if result.get('subgroups'):
        lines.append('(sub-groups: sensitivity over the group\'s lesions, FPs of all findings over all volumes)')
    return '\n'.join(lines)


def volume_froc_summary(result: dict) -> Dict[str, float]:
    """Flat ``{name: value}`` of a result for logging: ``cpm`` and ``sens@<level>`` (fractions)."""
    out = {'cpm': result['cpm']}
    out.update({f'sens@{f:g}': s for f, s in zip(result['fp_levels'], result['sensitivity'])})
    return out


__all__ = [
    'CRITERIA', 'DEFAULT_VOLUME_FP_LEVELS', 'DEFAULT_DIAMETER_BINS', 'DEFAULT_IOU_THR', 'VolumeEvalError',
    'LesionMap', 'volume_record', 'box_iou_3d', 'match_volumes', 'diameter_groups', 'evaluate_volumes',
    'format_volume_froc_table', 'volume_froc_summary'
]
