"""Loading of the CT slices around a slice of a prepared volume (the memory-mapped cache of ``prepare_volumes``)."""
import threading
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet.registry import TRANSFORMS
from mmdet.structures.mask import BitmapMasks
from mmdet3dctx.inference.volume_slices import physical_plan
from mmdet3dctx.io.volume_geometry import GAP_FACTOR, slice_runs
from mmdet3dctx.utils import check_config_resolved
from ..slice_sampling import SliceCache, check_slice_input, effective_input_slice_interval, stack_windowed_slices


def open_volume_array(path: str, what: str) -> np.ndarray:
    """The ``(Z, H, W)`` array of a prepared case's ``.npy`` cache, memory-mapped; ``what`` names it in errors."""
    try:
        arr = np.load(path, mmap_mode='r')
    except (OSError, ValueError) as e:
        raise FileNotFoundError(f'{what}: cannot read {path} ({e}); run tools/prepare_volumes.py again to '
                                'rebuild the cache') from None
    if arr.ndim != 3:
        raise ValueError(f'{what}: {path} holds shape {arr.shape}, not a (Z, H, W) volume')
    return arr


def run_of(positions: np.ndarray, key: int, gap_factor: float = GAP_FACTOR) -> Tuple[int, int]:
    """The contiguous run of slices (:func:`~mmdet3dctx.io.volume_geometry.slice_runs`) holding slice ``key``."""
    return next(r for r in slice_runs(positions, gap_factor) if r[0] <= key <= r[1])


@TRANSFORMS.register_module()
class LoadVolumeSlices(BaseTransform):
    """Load ``num_slices`` CT slices centred on a slice of a prepared volume, ``input_slice_interval`` mm apart,
    windowed: the input :func:`~mmdet3dctx.inference.volume_slices.volume_slice_input` gives at inference.

    Input slice ``k`` (``k = -(n-1)/2 .. (n-1)/2``) is wanted at ``positions[key] + k · input_slice_interval`` mm
    and interpolated linearly between the two real slices around it, never across a gap between runs of slices
    (:func:`~mmdet3dctx.inference.volume_slices.physical_plan`); a position beyond the run takes its end slice;
    ``input_slice_interval=None`` stacks the adjacent slices. HU are mapped linearly from ``window`` to
    ``out_range`` with clipping (:func:`~mmdet3dctx.datasets.slice_sampling.stack_windowed_slices`, the code both
    training and inference use, so their inputs are equal bit for bit).

    The volume (``int16`` ``(Z, H, W)``) is read memory-mapped; only the planned slices are read and converted to
    float. The memory maps stay open per process (``cache_size`` volumes).

    With ``with_mask=True`` the lesion map's key slice gives each lesion of ``instances`` its mask
    (``lesion_map == lesion_id``) as ``gt_masks`` (:class:`~mmdet.structures.mask.BitmapMasks`, instance order),
    which ``Resize``, ``RandomFlip``, ``RandomShiftScaleRotate`` and Mask R-CNN take as they take the DeepLesion
    route's polygon masks.

    Required Keys:

    - img_path (the case's ``cache/<case_id>.npy``), key_slice, positions (``(Z,)`` mm)
    - slice_interval (the case's median step in mm), case_id (named in errors)
    - lesion_map_path and instances (``lesion_id``) with ``with_mask=True``

    Added Keys:

    - img (np.float32, ``(H, W, num_slices)``, the key slice in the middle)
    - img_shape, ori_shape
    - slice_positions (fractional slice indices actually used)
    - input_slice_interval (mm between the stacked slices)
    - gt_masks (with ``with_mask=True``)

    Args:
        num_slices (int): Odd number of slices. Defaults to 7.
        input_slice_interval (float | None): Spacing of the stacked slices in mm; None stacks the adjacent
            slices. Defaults to 2.0.
        window (tuple[float]): HU window ``(low, high)``. Defaults to (-1024, 2050).
        out_range (tuple[float]): Values the window maps to. Defaults to (-50, 205).
        with_mask (bool): Load the lesions' masks of the key slice. Defaults to False.
        gap_factor (float): A step between slice positions larger than this many median steps is a gap.
            Defaults to :data:`~mmdet3dctx.io.GAP_FACTOR` (inference's).
        cache_size (int): Memory-mapped volumes kept open per process. Defaults to 64.

    Example:
        >>> from mmdet3dctx.datasets.transforms import LoadVolumeSlices
        >>> load = LoadVolumeSlices(num_slices=3, input_slice_interval=2.0)
        >>> # results = load(VolumeLesionDataset(...)[i] before the pipeline); results['img'].shape -> (H, W, 3)
    """

    def __init__(self,
                 num_slices: int = 7,
                 input_slice_interval: Optional[float] = 2.0,
                 window: Tuple[float, float] = (-1024, 2050),
                 out_range: Tuple[float, float] = (-50, 205),
                 with_mask: bool = False,
                 gap_factor: float = GAP_FACTOR,
                 cache_size: int = 64) -> None:
        check_config_resolved(dict(num_slices=num_slices, input_slice_interval=input_slice_interval, window=window,
                                   out_range=out_range, with_mask=with_mask), 'LoadVolumeSlices')
        check_slice_input(num_slices, input_slice_interval, window)
        self.num_slices = int(num_slices)
        self.input_slice_interval = None if input_slice_interval is None else float(input_slice_interval)
        self.window = (float(window[0]), float(window[1]))
        self.out_range = (float(out_range[0]), float(out_range[1]))
        self.with_mask = bool(with_mask)
        self.gap_factor = float(gap_factor)
        # the memory maps kept open, least recently used closed first (one cache per dataloader worker)
        self.volumes = SliceCache(max(int(cache_size), 1))
        # Scratch buffers of stack_windowed_slices reused between samples, one set per thread.
        self._workspaces = {}

    def transform(self, results: dict) -> dict:
        """Load the slices (and masks).

        Args:
            results (dict): A :class:`~mmdet3dctx.datasets.VolumeLesionDataset` data info.

        Returns:
            dict: ``results`` with ``img`` and the keys listed in the class docstring.
        """
        cid = results.get('case_id', '?')
        volume = self.volumes.get(results['img_path'], lambda p: open_volume_array(p, f'case {cid}'))
        key = int(results['key_slice'])
        positions = np.asarray(results['positions'], np.float64)
        if positions.shape != (volume.shape[0], ) or not 0 <= key < volume.shape[0]:
            raise ValueError(f'case {cid}: {results["img_path"]} has {volume.shape[0]} slices, the index '
                             f'{positions.shape[0]} positions (key slice {key}); prepare the dataset again')
        plan = physical_plan(positions, key, self.num_slices, self.input_slice_interval,
                             run_of(positions, key, self.gap_factor))
        workspace = self._workspaces.setdefault(threading.get_ident(), {})
        img = stack_windowed_slices(plan, lambda i: volume[i], self.window, self.out_range, workspace)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        results['slice_positions'] = [float(i0 + w * (i1 - i0)) for i0, i1, w in plan]
        results['input_slice_interval'] = effective_input_slice_interval(self.input_slice_interval,
                                                                          results.get('slice_interval'))
        if self.with_mask:
            labels = self.volumes.get(results['lesion_map_path'],
                                      lambda p: open_volume_array(p, f'case {cid} (lesion map)'))
            if labels.shape != volume.shape:
                raise ValueError(f'case {cid}: lesion map {results["lesion_map_path"]} has shape {labels.shape}, '
                                 f'the volume {volume.shape}')
            key_labels = np.asarray(labels[key])
            h, w = key_labels.shape
            masks = [key_labels == ins['lesion_id'] for ins in results.get('instances', [])]
            results['gt_masks'] = BitmapMasks(np.stack(masks).astype(np.uint8) if masks else
                                              np.zeros((0, h, w), np.uint8), h, w)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_slices={self.num_slices}, '
                f'input_slice_interval={self.input_slice_interval}, window={self.window}, '
                f'out_range={self.out_range}, with_mask={self.with_mask}, gap_factor={self.gap_factor}, '
                f'cache_size={self.volumes.maxsize})')
