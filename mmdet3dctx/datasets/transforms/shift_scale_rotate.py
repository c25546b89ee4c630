"""Shift/scale/rotate augmentation of a multi-slice ``(H, W, D)`` image, its boxes and masks."""
import random
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmdet.registry import TRANSFORMS
from mmdet.structures.mask import BitmapMasks, PolygonMasks

_INTERP = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC}


def warp_affine_nd(img: np.ndarray, matrix: np.ndarray, interpolation: int, border_value: float) -> np.ndarray:
    """``cv2.warpAffine`` for an ``(H, W)`` or ``(H, W, C)`` image with any number of channels.

    OpenCV's border value is a 4-vector repeated over the channels, so the value is passed on all four; cubic
    and Lanczos interpolation accept at most 4 channels, so those images are warped in groups of 4 channels.
    """
    h, w = img.shape[:2]
    border = (float(border_value), ) * 4
    if img.ndim == 2 or img.shape[2] <= 4 or interpolation in (cv2.INTER_NEAREST, cv2.INTER_LINEAR):
        out = cv2.warpAffine(img, matrix, (w, h), flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border)
        if img.ndim == 3 and out.ndim == 2:
            out = out[..., None]
        return out
    parts = [
        warp_affine_nd(np.ascontiguousarray(img[..., c:c + 4]), matrix, interpolation, border_value)
        for c in range(0, img.shape[2], 4)
    ]
    return np.concatenate(parts, axis=2)


@TRANSFORMS.register_module()
class RandomShiftScaleRotate(BaseTransform):
    """Random shift, scale and rotation about the image centre, the same for every slice, box and mask.

    The augmentation of the DeepLesion detectors (A3D, AlignShift: shift 0.04, scale 0.2, rotation 15 degrees,
    p = 0.8). MMDetection's ``RandomAffine`` rotates about the image corner, has no probability, raises on masks,
    and pads with a 3-vector that OpenCV extends to ``(v, v, v, 0)`` and repeats over the channels, so the 4th,
    8th, ... slices of a ``(H, W, D)`` image get 0 outside the source; this transform warps about the centre,
    handles masks and pads every slice with ``border_value``.

    The matrix is ``cv2.getRotationMatrix2D(centre, angle, scale)`` with ``centre = ((w - 1) / 2, (h - 1) / 2)``,
    then a shift of ``(dx * w, dy * h)``; ``angle ~ U(-rotate_limit, rotate_limit)`` degrees (counter-clockwise
    on screen), ``scale ~ U(1 - scale_limit, 1 + scale_limit)``, ``dx, dy ~ U(-shift_limit, shift_limit)``.

    Boxes: with ``bbox_mode='ellipse'`` a box is treated as its inscribed ellipse, whose warped bounding box is
    exact (lesions are roughly elliptical, and the box does not grow under rotation as its corners would);
    ``'corners'`` takes the bounding box of the warped corners. Boxes are clipped to the image; boxes narrower
    or lower than ``min_bbox_size`` afterwards are dropped with their labels, flags and masks.

    Required Keys:

    - img
    - gt_bboxes (BaseBoxes, optional)
    - gt_bboxes_labels, gt_ignore_flags, gt_masks (optional)

    Modified Keys:

    - img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks

    Added Keys:

    - shift_scale_rotate (dict of the parameters used, or None when not applied)
    - homography_matrix (composed with the warp)

    Args:
        shift_limit (float): Maximum shift as a fraction of width/height. Defaults to 0.04.
        scale_limit (float): Maximum relative scale change. Defaults to 0.2.
        rotate_limit (float): Maximum rotation in degrees. Defaults to 15.
        prob (float): Probability of applying. Defaults to 0.8.
        interpolation (str): ``'bilinear'``, ``'nearest'`` or ``'bicubic'`` for the image. Defaults to
            ``'bilinear'``.
        border_value (float): Image value outside the source (air after windowing). Defaults to -50.
        bbox_mode (str): ``'ellipse'`` or ``'corners'``. Defaults to ``'ellipse'``.
        min_bbox_size (float): Minimum width and height of a kept box in pixels. Defaults to 1.

    Example:
        >>> import numpy as np
        >>> from mmdet3dctx.datasets.transforms import RandomShiftScaleRotate
        >>> t = RandomShiftScaleRotate(prob=1.0)
        >>> t(dict(img=np.zeros((64, 64, 7), np.float32)))['img'].shape
        (64, 64, 7)
    """

    def __init__(self,
                 shift_limit: float = 0.04,
                 scale_limit: float = 0.2,
                 rotate_limit: float = 15.0,
                 prob: float = 0.8,
                 interpolation: str = 'bilinear',
                 border_value: float = -50.0,
                 bbox_mode: str = 'ellipse',
                 min_bbox_size: float = 1.0) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if interpolation not in _INTERP:
            raise ValueError(f'interpolation must be one of {sorted(_INTERP)}, got {interpolation!r}')
        if bbox_mode not in ('ellipse', 'corners'):
            raise ValueError(f"bbox_mode must be 'ellipse' or 'corners', got {bbox_mode!r}")
        if not 0 <= scale_limit < 1:
            raise ValueError(f'scale_limit must be in [0, 1), got {scale_limit}')
        self.shift_limit = float(shift_limit)
        self.scale_limit = float(scale_limit)
        self.rotate_limit = float(rotate_limit)
        self.prob = float(prob)
        self.interpolation = interpolation
        self.border_value = float(border_value)
        self.bbox_mode = bbox_mode
        self.min_bbox_size = float(min_bbox_size)

    @cache_randomness
    def _sample(self) -> Optional[dict]:
        if random.random() >= self.prob:
            return None
        return dict(
            angle=random.uniform(-self.rotate_limit, self.rotate_limit),
            scale=random.uniform(1 - self.scale_limit, 1 + self.scale_limit),
            dx=random.uniform(-self.shift_limit, self.shift_limit),
            dy=random.uniform(-self.shift_limit, self.shift_limit))

    @staticmethod
    def get_matrix(width: int, height: int, angle: float, scale: float, dx: float, dy: float) -> np.ndarray:
        """The 2x3 affine matrix (float64) for the given parameters."""
        m = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle, scale)
        m[0, 2] += dx * width
        m[1, 2] += dy * height
        return m

    def _warp_boxes(self, boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
        if len(boxes) == 0:
            return boxes.reshape(0, 4)
        if self.bbox_mode == 'ellipse':
            c = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2, np.ones(len(boxes))], 1)
            hw, hh = (boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2
            nc = c @ m.T
            ex = np.hypot(m[0, 0] * hw, m[0, 1] * hh)
            ey = np.hypot(m[1, 0] * hw, m[1, 1] * hh)
            return np.stack([nc[:, 0] - ex, nc[:, 1] - ey, nc[:, 0] + ex, nc[:, 1] + ey], 1)
        x1, y1, x2, y2 = boxes.T
        corners = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x1, y2], 1),
                            np.stack([x2, y2], 1)], 1)  # (N, 4, 2)
        warped = corners @ m[:, :2].T + m[:, 2]
        return np.concatenate([warped.min(1), warped.max(1)], 1)

    @staticmethod
    def _warp_masks(masks, m: np.ndarray, h: int, w: int):
        if isinstance(masks, BitmapMasks):
            out = [
                cv2.warpAffine(mk.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
                for mk in masks.masks
            ]
            arr = np.stack(out) if out else np.zeros((0, h, w), np.uint8)
            return BitmapMasks(arr, h, w)
        if isinstance(masks, PolygonMasks):
            polys = []
            for obj in masks.masks:
                new = []
                for p in obj:
                    pts = np.asarray(p, np.float64).reshape(-1, 2) @ m[:, :2].T + m[:, 2]
                    pts[:, 0] = pts[:, 0].clip(0, w)
                    pts[:, 1] = pts[:, 1].clip(0, h)
                    new.append(pts.reshape(-1))
                polys.append(new)
            return PolygonMasks(polys, h, w)
        raise TypeError(f'unsupported mask type {type(masks)}')

    def transform(self, results: dict) -> dict:
        """Warp the image, boxes and masks (all with one sampled matrix).

        Args:
            results (dict): Result dict with ``img`` ``(H, W[, D])``.

        Returns:
            dict: The updated result dict.
        """
        params = self._sample()
        results['shift_scale_rotate'] = params
        if params is None:
            return results
        img = results['img']
        h, w = img.shape[:2]
        m = self.get_matrix(w, h, **params)
        results['img'] = warp_affine_nd(img, m, _INTERP[self.interpolation], self.border_value)
        hom = np.vstack([m, [0.0, 0.0, 1.0]]).astype(np.float32)
        prev = results.get('homography_matrix')
        results['homography_matrix'] = hom if prev is None else hom @ prev

        if results.get('gt_bboxes') is not None:
            gt = results['gt_bboxes']
            arr = gt.numpy() if hasattr(gt, 'numpy') else np.asarray(gt)
            boxes = self._warp_boxes(np.asarray(arr, np.float64).reshape(-1, 4), m)
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
            keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_bbox_size) & (
                (boxes[:, 3] - boxes[:, 1]) >= self.min_bbox_size)
            if hasattr(gt, 'tensor'):
                results['gt_bboxes'] = type(gt)(boxes.astype(np.float32))[keep]
            else:
                results['gt_bboxes'] = boxes.astype(np.float32)[keep]
            for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
                if results.get(key) is not None:
                    results[key] = results[key][keep]
            if results.get('gt_masks') is not None:
                masks = self._warp_masks(results['gt_masks'], m, h, w)
                results['gt_masks'] = masks[np.flatnonzero(keep)]
        elif results.get('gt_masks') is not None:
            results['gt_masks'] = self._warp_masks(results['gt_masks'], m, h, w)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(shift_limit={self.shift_limit}, scale_limit={self.scale_limit}, '
                f'rotate_limit={self.rotate_limit}, prob={self.prob}, interpolation={self.interpolation!r}, '
                f'border_value={self.border_value}, bbox_mode={self.bbox_mode!r}, '
                f'min_bbox_size={self.min_bbox_size})')

