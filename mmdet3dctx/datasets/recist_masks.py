"""Pseudo-masks of DeepLesion lesions from their RECIST marks: GrabCut or an ellipse.

Plain NumPy/OpenCV. Coordinates are 0-based pixels; polygons are COCO-style flat ``[x0, y0, x1, y1, ...]``
lists.
"""
import math
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .dl_info import DLInfoError
from .slice_sampling import decode_hu_png


def window_to_uint8(hu: np.ndarray, window: Tuple[float, float]) -> np.ndarray:
    """Window HU to uint8 ``[0, 255]``: clip first, then scale and round (no wrap-around of negatives).

    Args:
        hu (np.ndarray): HU image.
        window (tuple[float]): ``(low, high)`` HU mapped to 0 and 255.
    """
    lo, hi = float(window[0]), float(window[1])
    if hi <= lo:
        raise ValueError(f'window must be (low, high) with low < high, got {window}')
    v = (np.asarray(hu, np.float32) - lo) * np.float32(255.0 / (hi - lo))
    return np.rint(np.clip(v, 0, 255)).astype(np.uint8)


def recist_quadrilateral(recist: Sequence[float]) -> np.ndarray:
    """The quadrilateral spanned by the RECIST axes: long end, short end, long end, short end, ``(4, 2)``."""
    r = np.asarray(recist, np.float64).reshape(4, 2)
    return r[[0, 2, 1, 3]]


def ellipse_polygon(recist: Sequence[float], bbox: Sequence[float] = None, num_points: int = 32) -> List[float]:
    """An ellipse fitted to the RECIST axes, as a flat polygon.

    Centre = midpoint of the long axis, semi-axes = half the long and short axis lengths, orientation of the
    long axis. Points are clipped to ``bbox`` when given, so the mask stays inside its box.

    Args:
        recist (Sequence[float]): 8 numbers, long-axis endpoints then short-axis endpoints (0-based).
        bbox (Sequence[float], optional): ``[x1, y1, x2, y2]`` to clip to.
        num_points (int): Vertices. Defaults to 32.

    Returns:
        list[float]: ``[x0, y0, x1, y1, ...]``.
    """
    r = np.asarray(recist, np.float64).reshape(4, 2)
    centre = (r[0] + r[1]) / 2
    long_vec = r[1] - r[0]
    a = np.linalg.norm(long_vec) / 2
    b = np.linalg.norm(r[3] - r[2]) / 2
    theta = math.atan2(long_vec[1], long_vec[0])
    a, b = max(a, 0.5), max(b, 0.5)
    t = np.linspace(0, 2 * np.pi, num_points, endpoint=False)
    c, s = math.cos(theta), math.sin(theta)
    xs = centre[0] + a * np.cos(t) * c - b * np.sin(t) * s
    ys = centre[1] + a * np.cos(t) * s + b * np.sin(t) * c
    if bbox is not None:
        xs = xs.clip(bbox[0], bbox[2])
        ys = ys.clip(bbox[1], bbox[3])
    return np.stack([xs, ys], 1).reshape(-1).tolist()


def polygon_area(poly: Sequence[float]) -> float:
    """Shoelace area of a flat polygon."""
    p = np.asarray(poly, np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def mask_to_polygons(mask: np.ndarray, offset: Tuple[int, int] = (0, 0)) -> List[List[float]]:
    """Outer contours (through pixel centres) of a binary mask as flat polygons, largest first.

    Contours with fewer than 3 points (single pixels, lines) are left out.
    """
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for cnt in sorted(contours, key=cv2.contourArea, reverse=True):
        pts = cnt.reshape(-1, 2).astype(np.float64)
        if len(pts) < 3:
            continue
        pts += np.asarray(offset, np.float64)
        polys.append(pts.reshape(-1).tolist())
    return polys


def _box_pixels(bbox: Sequence[float], x0: int, y0: int, shape: Tuple[int, int]) -> np.ndarray:
    """Pixels of a crop (origin x0, y0) whose centres lie inside ``bbox``."""
    h, w = shape
    xs = np.arange(w) + x0
    ys = np.arange(h) + y0
    inx = (xs >= bbox[0]) & (xs <= bbox[2])
    iny = (ys >= bbox[1]) & (ys <= bbox[3])
    return iny[:, None] & inx[None, :]


def grabcut_mask(image_u8: np.ndarray, bbox: Sequence[float], recist: Sequence[float], iterations: int = 5,
                 margin: int = 10) -> Tuple[np.ndarray, Tuple[int, int], bool]:
    """GrabCut segmentation of a lesion from its box and RECIST marks.

    GrabCut runs on a crop of the box plus ``margin`` pixels, initialised with the box as probable foreground,
    the rest as background and the RECIST quadrilateral as sure foreground. The result is kept inside the box
    and reduced to the connected components touching the quadrilateral.

    Args:
        image_u8 (np.ndarray): Windowed key slice, uint8 ``(H, W)`` (see :func:`window_to_uint8`).
        bbox (Sequence[float]): 0-based ``[x1, y1, x2, y2]``.
        recist (Sequence[float]): 0-based RECIST marks (8 numbers).
        iterations (int): GrabCut iterations. Defaults to 5.
        margin (int): Background margin around the box (pixels). Defaults to 10.

    Returns:
        tuple: ``(mask, (x0, y0), found)``: the bool mask of the crop, the crop origin, and whether GrabCut
        grew anything beyond the quadrilateral (False means it found nothing or failed; the mask is then
        empty and the caller should fall back to an ellipse).
    """
    if image_u8.dtype != np.uint8 or image_u8.ndim != 2:
        raise ValueError(f'expected a uint8 (H, W) image, got {image_u8.dtype} {image_u8.shape}')
    h, w = image_u8.shape
    x0 = max(int(math.floor(bbox[0])) - margin, 0)
    y0 = max(int(math.floor(bbox[1])) - margin, 0)
    x1 = min(int(math.ceil(bbox[2])) + margin + 1, w)
    y1 = min(int(math.ceil(bbox[3])) + margin + 1, h)
    crop = image_u8[y0:y1, x0:x1]
    shape = crop.shape
    inbox = _box_pixels(bbox, x0, y0, shape)
    quad = np.zeros(shape, np.uint8)
    pts = np.round((recist_quadrilateral(recist) - (x0, y0)) * 16).astype(np.int32)
    cv2.fillPoly(quad, [pts], 1, lineType=cv2.LINE_8, shift=4)
    cv2.polylines(quad, [pts], True, 1, lineType=cv2.LINE_8, shift=4)
    quad = quad.astype(bool) & inbox
    empty = np.zeros(shape, bool)
    if not quad.any() or inbox.all():
        return empty, (x0, y0), False
    init = np.full(shape, cv2.GC_BGD, np.uint8)
    init[inbox] = cv2.GC_PR_FGD
    init[quad] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means initialisation draws from OpenCV's RNG: same input, same mask
    try:
        cv2.grabCut(cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR), init, None, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return empty, (x0, y0), False
    fg = ((init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)) & inbox
    num, labels = cv2.connectedComponents(fg.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[quad & fg])
    fg = np.isin(labels, keep[keep > 0])
    if not (fg & ~quad).any():
        return empty, (x0, y0), False
    return fg, (x0, y0), True


def pseudo_mask(hu: np.ndarray, bbox: Sequence[float], recist: Sequence[float], window: Tuple[float, float],
                method: str = 'grabcut') -> Tuple[List[List[float]], float, str]:
    """A polygon mask for one lesion.

    Args:
        hu (np.ndarray): Key slice in HU ``(H, W)``.
        bbox (Sequence[float]): 0-based box.
        recist (Sequence[float]): 0-based RECIST marks.
        window (tuple[float]): HU window for GrabCut (e.g. the row's ``DICOM_windows``).
        method (str): ``'grabcut'`` or ``'ellipse'``. Defaults to ``'grabcut'``.

    Returns:
        tuple: ``(polygons, area, how)``; ``how`` is ``'grabcut'``, ``'ellipse'`` or ``'ellipse_fallback'``
        (GrabCut found nothing).
    """
    if method not in ('grabcut', 'ellipse'):
        raise ValueError(f"method must be 'grabcut' or 'ellipse', got {method!r}")
    if method == 'grabcut':
        mask, offset, found = grabcut_mask(window_to_uint8(hu, window), bbox, recist)
        if found:
            polys = mask_to_polygons(mask, offset)
            if polys:
                return polys, float(mask.sum()), 'grabcut'
    poly = ellipse_polygon(recist, bbox)
    return [poly], polygon_area(poly), 'ellipse' if method == 'ellipse' else 'ellipse_fallback'


def key_slice_masks(info: dict, data_root: str, method: str = 'grabcut', window: Optional[Tuple[float, float]] = None,
                    csv_path: str = 'DL_info.csv') -> List[tuple]:
    """Pseudo-masks of every lesion of one key slice.

    Args:
        info (dict): A key slice from :func:`~mmdet3dctx.datasets.dl_info.group_key_slices` with ``img_id``.
        data_root (str): Folder the relative ``img_path`` starts from.
        method (str): ``'grabcut'`` (reads the key slice PNG) or ``'ellipse'``. Defaults to ``'grabcut'``.
        window (tuple[float], optional): HU window for GrabCut; None uses the key slice's ``dicom_window``.
        csv_path (str): Annotation file named in errors.

    Returns:
        list[tuple]: ``(img_id, lesion_index, polygons, area, how)`` per lesion.

    Raises:
        DLInfoError: The key slice PNG does not exist (names the file and row).
    """
    hu = None
    if method == 'grabcut':
        path = osp.join(data_root, info['img_path'])
        try:
            with open(path, 'rb') as f:
                hu = decode_hu_png(f.read(), path)
        except FileNotFoundError:
            raise DLInfoError(f'{csv_path}, row {info["rows"][0]} ({info["file_name"]}): key slice PNG not found: '
                              f'{path}') from None
    out = []
    for j, ins in enumerate(info['instances']):
        if hu is None:
            polys, area, how = pseudo_mask(None, ins['bbox'], ins['recist'], (0, 1), 'ellipse')
        else:
            polys, area, how = pseudo_mask(hu, ins['bbox'], ins['recist'], window or info['dicom_window'], method)
        out.append((info['img_id'], j, polys, area, how))
    return out


def key_slice_masks_star(args: tuple) -> List[tuple]:
    """:func:`key_slice_masks` on a tuple of arguments (for process pools)."""
    return key_slice_masks(*args)
