"""Free-response ROC (FROC) for DeepLesion-style lesion detection, numpy only.

The protocol every DeepLesion table reports (3DCE, MULAN, MP3D, AlignShift, A3D):

* one class, one "image" per key slice; the detections of all images are pooled and ranked by score,
  highest first;
* walking the ranking, a detection is a false positive (FP) if its image has no lesion or its best overlap with
  its image's lesions is below ``iou_thr``; otherwise every lesion of its image with overlap ``>= iou_thr`` that is
  not hit yet becomes hit (one detection may hit several lesions), and a detection that only re-hits lesions
  already hit counts as neither a true nor a false positive;
* after each detection the point (FPs / number of images, hits / number of lesions) is recorded;
* sensitivity at ``f`` FPs per image is ``numpy.interp(f, fp_per_image, sensitivity)`` over those points (at an
  exact tie in FP count this is the last point with that count); an ``f`` beyond the last point takes the final
  sensitivity;
* overlap is IoU with the +1 pixel convention (``width = x2 - x1 + 1``).

Because whether a detection is a FP depends only on the detection itself, and a lesion is hit at the first
ranked detection that overlaps it enough, the whole walk reduces to array operations: FP flags, the first
hitting rank of every lesion, and two cumulative sums. :func:`froc_curve` is therefore exact (same integer
counts, same divisions, same interpolation as a per-detection loop) and well over ten times faster
(``benchmarks/froc.py``).

Detections with equal scores are ranked in reverse input order (image order, then order within the image),
which is what ``numpy.argsort(scores)[::-1]`` in the reference code gives whenever its sort keeps ties in
input order; a stable sort makes the result independent of the platform's sorting kernel.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

#: FP-per-image levels of every DeepLesion table.
DEFAULT_FP_LEVELS = (0.5, 1, 2, 4, 8, 16)
#: Levels averaged into the headline figure ("avg[0.5-4]").
DEFAULT_AVG_LEVELS = (0.5, 1, 2, 4)

ArrayList = Sequence[np.ndarray]


class FROCMatch(NamedTuple):
    """Outcome of ranking and matching detections, from which every curve is cheap to compute.

    Attributes:
        is_fp (np.ndarray): ``(K,)`` bool, in rank order: the detection is a false positive.
        first_hit (np.ndarray): ``(L,)`` int64, for every lesion (images concatenated in order) the rank of the
            first detection that hits it, ``K`` if none does.
        num_images (int): Number of images (the FP-per-image denominator).
        num_dets_per_image (np.ndarray): ``(num_images,)`` int64 number of detections per image.
        num_lesions_per_image (np.ndarray): ``(num_images,)`` int64 number of lesions per image.
        order (np.ndarray): ``(K,)`` int64, index of each ranked detection in the concatenated input.
        scores (np.ndarray, optional): ``(K,)`` float64 scores in rank order (non-increasing). Defaults to None.
    """
    is_fp: np.ndarray
    first_hit: np.ndarray
    num_images: int
    num_dets_per_image: np.ndarray
    num_lesions_per_image: np.ndarray
    order: np.ndarray
    scores: Optional[np.ndarray] = None

    @property
    def num_lesions(self) -> int:
        """int: Total number of lesions."""
        return int(self.first_hit.shape[0])

    def curve(self, lesion_mask: Optional[Union[np.ndarray, ArrayList]] = None
              ) -> Tuple[np.ndarray, np.ndarray]:
        """The FROC points after each ranked detection.

        Args:
            lesion_mask (np.ndarray | list[np.ndarray], optional): Count sensitivity over these lesions only
                (a sub-group); ranking and FP counting still use all detections. Either one ``(L,)`` bool array
                over the concatenated lesions or one ``(M_i,)`` bool array per image. Defaults to None (all).

        Returns:
            tuple[np.ndarray, np.ndarray]: ``sensitivity`` and ``fp_per_image``, both ``(K,)`` float64.

        Raises:
            ValueError: If there is no lesion to count (sensitivity undefined).
        """
        first_hit = self.first_hit
        if lesion_mask is not None:
            mask = _flatten_mask(lesion_mask, self.num_lesions_per_image)
            first_hit = first_hit[mask]
        num_lesions = first_hit.shape[0]
        if num_lesions == 0:
            raise ValueError('FROC: there are no lesions to count, so sensitivity is undefined '
                             '(check that the ground truth is loaded and not all flagged noisy).')
        num_dets = self.is_fp.shape[0]
        hits = np.cumsum(np.bincount(first_hit[first_hit < num_dets], minlength=num_dets))
        fps = np.cumsum(self.is_fp)
        return hits / float(num_lesions), fps / float(self.num_images)

    def sensitivity_at_fp(self, fp_levels: Sequence[float] = DEFAULT_FP_LEVELS,
                          lesion_mask: Optional[Union[np.ndarray, ArrayList]] = None) -> np.ndarray:
        """Sensitivity at the given FP-per-image levels (see :func:`interp_sensitivity`).

        Args:
            fp_levels (Sequence[float]): FPs per image. Defaults to ``(0.5, 1, 2, 4, 8, 16)``.
            lesion_mask: As in :meth:`curve`.

        Returns:
            np.ndarray: ``(len(fp_levels),)`` float64.
        """
        sens, fp_per_image = self.curve(lesion_mask)
        return interp_sensitivity(sens, fp_per_image, fp_levels)

    def operating_points(self, fp_levels: Sequence[float] = DEFAULT_FP_LEVELS) -> List[dict]:
        """The score threshold that reaches each FP level, and what keeping ``score >= threshold`` gives.

        The threshold for ``f`` FPs per image is the lowest detection score ``t`` such that the detections with
        ``score >= t`` make at most ``f`` FPs per image. A threshold keeps or drops tied scores together, so
        the FPs reached may stay below ``f``; past the end of the curve it is the lowest score (every
        detection kept). None where no threshold does (the top-scored detections alone exceed ``f``).

        Args:
            fp_levels (Sequence[float]): FPs per image. Defaults to ``(0.5, 1, 2, 4, 8, 16)``.

        Returns:
            list[dict]: Per level ``fp_level``, ``score_thr`` (float or None), and at that threshold
            ``fp_per_image``, ``sensitivity`` (fractions; None without a threshold) and ``num_detections``
            (kept detections).

        Example:
            >>> import numpy as np
            >>> dets = [np.array([[0, 0, 9, 9, .9], [50, 50, 59, 59, .8], [0, 0, 9, 9, .7]])]
            >>> gts = [np.array([[0, 0, 9, 9], [30, 30, 39, 39]])]
            >>> [p['score_thr'] for p in match_detections(dets, gts).operating_points((0.5, 1, 2))]
            [0.9, 0.7, 0.7]
        """
        if self.scores is None:
            raise ValueError('this FROCMatch has no scores; build it with match_detections')
        sens, fp_per_image = self.curve()
        # the last rank of every run of equal scores: a threshold cannot separate tied detections
        ends = np.flatnonzero(np.append(self.scores[1:] != self.scores[:-1], True)) if len(self.scores) else \
            np.zeros(0, np.int64)
        points = []
        for level in fp_levels:
            level = float(level)
            ok = ends[fp_per_image[ends] <= level]
            if ok.size == 0:
                points.append(dict(fp_level=level, score_thr=None, fp_per_image=None, sensitivity=None,
                                   num_detections=0))
                continue
            i = int(ok[-1])
            points.append(dict(fp_level=level, score_thr=float(self.scores[i]), fp_per_image=float(fp_per_image[i]),
                               sensitivity=float(sens[i]), num_detections=i + 1))
        return points


def _flatten_mask(lesion_mask, num_lesions_per_image: np.ndarray) -> np.ndarray:
    total = int(num_lesions_per_image.sum())
    if isinstance(lesion_mask, np.ndarray) and lesion_mask.ndim == 1 and lesion_mask.dtype == bool:
        mask = lesion_mask
    else:
        if len(lesion_mask) != len(num_lesions_per_image):
            raise ValueError(f'lesion_mask has {len(lesion_mask)} entries for {len(num_lesions_per_image)} '
                             'images')
        parts = [np.asarray(m, dtype=bool).reshape(-1) for m in lesion_mask]
        for i, (m, n) in enumerate(zip(parts, num_lesions_per_image)):
            if m.shape[0] != n:
                raise ValueError(f'lesion_mask of image {i} has {m.shape[0]} entries for {n} lesions')
        mask = np.concatenate(parts) if parts else np.zeros(0, bool)
    if mask.shape[0] != total:
        raise ValueError(f'lesion_mask has {mask.shape[0]} entries for {total} lesions')
    return mask


def _stack(arrays: ArrayList, width: int, what: str) -> Tuple[np.ndarray, np.ndarray]:
    """Concatenate per-image ``(N_i, width)`` arrays; empty arrays of any shape count as ``(0, width)``."""
    arrays = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrays):
        if a.size and (a.ndim != 2 or a.shape[1] != width):
            raise ValueError(f'{what}[{i}] must be an (N, {width}) array, got shape {a.shape}')
    counts = np.array([a.shape[0] if a.size else 0 for a in arrays], dtype=np.int64)
    parts = [a for a in arrays if a.size]
    stacked = np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, width))
    bad = ~np.isfinite(stacked).all(axis=1)
    if bad.any():
        image = int(np.searchsorted(np.cumsum(counts), np.flatnonzero(bad)[0], side='right'))
        raise ValueError(f'{what}[{image}] contains NaN or infinite values')
    return stacked, counts


def box_overlaps(dets: np.ndarray, gts: np.ndarray, criterion: str = 'iou',
                 plus_one: bool = True) -> np.ndarray:
    """Element-wise overlap of paired boxes.

    Args:
        dets (np.ndarray): ``(P, 4)`` detected boxes ``x1, y1, x2, y2``.
        gts (np.ndarray): ``(P, 4)`` lesion boxes, paired row by row with ``dets``.
        criterion (str): ``'iou'`` (intersection over union) or ``'iobb'`` (intersection over the detected box).
            Defaults to ``'iou'``.
        plus_one (bool): Pixel-index convention, ``width = x2 - x1 + 1`` (the reference); False for continuous
            coordinates, ``width = x2 - x1``. Defaults to True.

    Returns:
        np.ndarray: ``(P,)`` float64 overlaps.
    """
    if criterion not in ('iou', 'iobb'):
        raise ValueError(f"criterion must be 'iou' or 'iobb', got {criterion!r}")
    one = 1. if plus_one else 0.
    # Same operations in the same order as the reference, so ties with the threshold resolve identically.
    iw = np.maximum(np.minimum(gts[:, 2], dets[:, 2]) - np.maximum(gts[:, 0], dets[:, 0]) + one, 0.)
    ih = np.maximum(np.minimum(gts[:, 3], dets[:, 3]) - np.maximum(gts[:, 1], dets[:, 1]) + one, 0.)
    inters = iw * ih
    det_area = (dets[:, 2] - dets[:, 0] + one) * (dets[:, 3] - dets[:, 1] + one)
    if criterion == 'iobb':
        denom = det_area
    else:
        denom = det_area + (gts[:, 2] - gts[:, 0] + one) * (gts[:, 3] - gts[:, 1] + one) - inters
    with np.errstate(divide='ignore', invalid='ignore'):
        out = inters / denom
    # A degenerate box (zero area) overlaps nothing.
    return np.where(denom > 0, out, 0.)


def ranked_pairs(scores: np.ndarray, n_det: np.ndarray,
                 n_gt: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank the detections of all images and list every (ranked detection, lesion of its image) pair.

    Ranking is by descending score, ties in reverse input order (see the module docstring).

    Args:
        scores (np.ndarray): ``(N,)`` scores of the detections of all images, concatenated in image order.
        n_det (np.ndarray): ``(I,)`` detections per image.
        n_gt (np.ndarray): ``(I,)`` lesions per image.

    Returns:
        tuple: ``order`` ``(N,)`` input index of each rank; ``pair_det`` (the rank) and ``pair_gt`` (the lesion's
        index in the concatenated lesions) per pair, pairs ordered by rank.
    """
    order = np.argsort(scores, kind='stable')[::-1]
    det_img = np.repeat(np.arange(len(n_det)), n_det)[order]
    gt_start = np.concatenate([[0], np.cumsum(n_gt)[:-1]]).astype(np.int64)
    pairs_per_det = n_gt[det_img]
    pair_det = np.repeat(np.arange(order.shape[0]), pairs_per_det)
    pair_offset = np.arange(pair_det.shape[0]) - np.repeat(np.cumsum(pairs_per_det) - pairs_per_det,
                                                           pairs_per_det)
    pair_gt = gt_start[det_img][pair_det] + pair_offset
    return order, pair_det, pair_gt


def match_detections(dets: ArrayList, gts: ArrayList, iou_thr: float = 0.5, criterion: str = 'iou',
                     plus_one: bool = True) -> FROCMatch:
    """Rank all detections and find false positives and the first hit of every lesion.

    Args:
        dets (list[np.ndarray]): One ``(N_i, 5)`` array ``[x1, y1, x2, y2, score]`` per image (``N_i`` may be 0).
        gts (list[np.ndarray]): One ``(M_i, 4)`` array ``[x1, y1, x2, y2]`` per image (``M_i`` may be 0).
        iou_thr (float): Overlap needed for a hit. Defaults to 0.5.
        criterion (str): ``'iou'`` or ``'iobb'``, see :func:`box_overlaps`. Defaults to ``'iou'``.
        plus_one (bool): +1 pixel convention, see :func:`box_overlaps`. Defaults to True.

    Returns:
        FROCMatch: FP flags in rank order and first-hit ranks of the lesions.
    """
    if len(dets) != len(gts):
        raise ValueError(f'dets and gts must have one entry per image, got {len(dets)} and {len(gts)}')
    num_images = len(dets)
    if num_images == 0:
        raise ValueError('FROC needs at least one image (FPs are counted per image)')
    det_all, n_det = _stack(dets, 5, 'dets')
    gt_all, n_gt = _stack(gts, 4, 'gts')

    order, pair_det, pair_gt = ranked_pairs(det_all[:, 4], n_det, n_gt)
    num_dets = order.shape[0]
    overlaps = box_overlaps(det_all[order[pair_det], :4], gt_all[pair_gt], criterion, plus_one)
    good = overlaps >= iou_thr

    # FP <=> no lesion in the image or best overlap below the threshold <=> no good pair.
    is_fp = np.bincount(pair_det[good], minlength=num_dets) == 0
    # A lesion is hit by the first-ranked detection of its good pairs.
    first_hit = np.full(gt_all.shape[0], num_dets, dtype=np.int64)
    np.minimum.at(first_hit, pair_gt[good], pair_det[good])
    return FROCMatch(is_fp, first_hit, num_images, n_det, n_gt, order, det_all[order, 4])


def froc_curve(dets: ArrayList, gts: ArrayList, iou_thr: float = 0.5, criterion: str = 'iou',
               plus_one: bool = True, lesion_mask: Optional[Union[np.ndarray, ArrayList]] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
    """The FROC curve: sensitivity and FPs per image after each ranked detection.

    Args:
        dets (list[np.ndarray]): One ``(N_i, 5)`` array ``[x1, y1, x2, y2, score]`` per image (``N_i`` may be 0).
        gts (list[np.ndarray]): One ``(M_i, 4)`` array ``[x1, y1, x2, y2]`` per image (``M_i`` may be 0).
        iou_thr (float): Overlap needed for a hit. Defaults to 0.5.
        criterion (str): ``'iou'`` or ``'iobb'`` (intersection over the detected box). Defaults to ``'iou'``.
        plus_one (bool): +1 pixel convention (the reference); False for continuous coordinates (as MP3D).
            Defaults to True.
        lesion_mask (np.ndarray | list[np.ndarray], optional): Sub-group of lesions to count sensitivity over,
            see :meth:`FROCMatch.curve`. Defaults to None (all lesions).

    Returns:
        tuple[np.ndarray, np.ndarray]: ``sensitivity`` and ``fp_per_image``, both ``(K,)`` float64 with ``K``
        the total number of detections (empty if there is none).

    Raises:
        ValueError: On malformed input, no image, or no lesion to count.

    Example:
        >>> import numpy as np
        >>> dets = [np.array([[0, 0, 9, 9, .9], [50, 50, 59, 59, .8]]), np.zeros((0, 5))]
        >>> gts = [np.array([[0, 0, 9, 9]]), np.array([[20, 20, 29, 29]])]
        >>> sens, fp = froc_curve(dets, gts)
        >>> sens.tolist(), fp.tolist()
        ([0.5, 0.5], [0.0, 0.5])
    """
    return match_detections(dets, gts, iou_thr, criterion, plus_one).curve(lesion_mask)


def interp_sensitivity(sensitivity: np.ndarray, fp_per_image: np.ndarray,
                       fp_levels: Sequence[float] = DEFAULT_FP_LEVELS) -> np.ndarray:
    """Read sensitivities off an FROC curve.

    ``numpy.interp`` on the per-detection points (at an exact tie in FP count: the last point with that count);
    a level beyond the last point takes the final sensitivity. A curve without points (no detection at all)
    has sensitivity 0 everywhere.

    Args:
        sensitivity (np.ndarray): ``(K,)`` sensitivity after each ranked detection.
        fp_per_image (np.ndarray): ``(K,)`` non-decreasing FPs per image after each ranked detection.
        fp_levels (Sequence[float]): Levels to read. Defaults to ``(0.5, 1, 2, 4, 8, 16)``.

    Returns:
        np.ndarray: ``(len(fp_levels),)`` float64.
    """
    levels = np.asarray(fp_levels, dtype=np.float64).reshape(-1)
    if sensitivity.shape[0] == 0:
        return np.zeros_like(levels)
    inside = np.interp(levels, fp_per_image, sensitivity)
    return np.where(levels > fp_per_image[-1], sensitivity[-1], inside)


def sensitivity_at_fp(dets: ArrayList, gts: ArrayList, fp_levels: Sequence[float] = DEFAULT_FP_LEVELS,
                      iou_thr: float = 0.5, criterion: str = 'iou', plus_one: bool = True,
                      lesion_mask: Optional[Union[np.ndarray, ArrayList]] = None) -> np.ndarray:
    """Sensitivity at given numbers of false positives per image (the DeepLesion FROC table).

    Args:
        dets (list[np.ndarray]): One ``(N_i, 5)`` array ``[x1, y1, x2, y2, score]`` per image.
        gts (list[np.ndarray]): One ``(M_i, 4)`` array ``[x1, y1, x2, y2]`` per image.
        fp_levels (Sequence[float]): FPs per image. Defaults to ``(0.5, 1, 2, 4, 8, 16)``.
        iou_thr (float): Overlap needed for a hit. Defaults to 0.5.
        criterion (str): ``'iou'`` or ``'iobb'``. Defaults to ``'iou'``.
        plus_one (bool): +1 pixel convention. Defaults to True.
        lesion_mask (np.ndarray | list[np.ndarray], optional): Sub-group of lesions. Defaults to None.

    Returns:
        np.ndarray: ``(len(fp_levels),)`` float64 sensitivities in [0, 1]; all zero if there is no detection.

    Example:
        >>> import numpy as np
        >>> dets = [np.array([[0, 0, 9, 9, .9], [50, 50, 59, 59, .8]])]
        >>> gts = [np.array([[0, 0, 9, 9], [30, 30, 39, 39]])]
        >>> sensitivity_at_fp(dets, gts, fp_levels=(0.5, 1, 2)).tolist()
        [0.5, 0.5, 0.5]
    """
    sens, fp_per_image = froc_curve(dets, gts, iou_thr, criterion, plus_one, lesion_mask)
    return interp_sensitivity(sens, fp_per_image, fp_levels)
