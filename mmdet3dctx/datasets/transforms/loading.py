"""Loading of the CT slices around a DeepLesion key slice."""
import math
import os.path as osp
import threading
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from mmdet.registry import TRANSFORMS
from mmdet3dctx.utils import check_config_resolved
from ..slice_sampling import (PNG_DECODERS, DiskSliceCache, SliceCache, check_slice_input, decode_hu_png,
                              effective_input_slice_interval, interpolation_plan, nearest_existing_slice,
                              neighbour_path, slice_positions, stack_windowed_slices)


@TRANSFORMS.register_module()
class LoadDeepLesionSlices(BaseTransform):
    """Load ``num_slices`` CT slices centred on the key slice, ``input_slice_interval`` mm apart, windowed.

    Slice ``k`` (``k = -(n-1)/2 .. (n-1)/2``) sits at slice position ``key + k * input_slice_interval /
    slice_interval``, ``slice_interval`` being the series' own interval from ``DL_info.csv``. A fractional
    position is linearly interpolated between its two neighbouring slices with the weights of that very offset; a
    position beyond ``slice_range`` takes the nearest end; a NaN or non-positive interval repeats the key slice. A
    slice missing inside the range is replaced by the nearest existing slice towards the key slice. HU are then
    mapped linearly from ``window`` to ``out_range`` with clipping.

    The slices ride in the channel axis, so MMDetection's ``Resize``, ``RandomFlip`` and ``Pad`` work unchanged,
    and ``PackCTInputs`` (``PackDetInputs`` with the CT meta keys) turns ``(H, W, D)`` into ``(D, H, W)``.

    Each slice file a sample needs is read and decoded once, however many input slices use it. Plain 16-bit
    grey PNGs (DeepLesion's) are decoded by :mod:`~mmdet3dctx.datasets.png16`, about twice as fast as OpenCV
    with the ``isal`` package installed and identical bit for bit; other PNGs go through OpenCV. Decoded slices
    are kept in a per-process LRU cache (``cache_size`` slices), so neighbouring key slices of one series do not
    decode the same PNG twice in a worker; ``cache.hits``/``cache.misses`` count unique slices requested per
    sample. With ``decode_cache_dir`` set, slices missing from that cache are read from (or decoded and written
    to) an on-disk cache of raw arrays shared by the workers, outside the data tree
    (:class:`~mmdet3dctx.datasets.slice_sampling.DiskSliceCache`; its counters in ``disk_cache``).

    Required Keys:

    - img_path (key slice PNG)
    - key_slice
    - slice_range (optional, defaults to the key slice alone)
    - slice_interval (optional, the series' mm between slices; NaN repeats the key slice)

    Added Keys:

    - img (np.float32, ``(H, W, num_slices)``, the key slice in the middle)
    - img_shape, ori_shape
    - slice_positions (fractional slice indices actually used)
    - input_slice_interval (mm between the stacked slices; NaN when the key slice is repeated)

    ``slice_interval`` is left as read from the annotations (the series' interval).

    Args:
        num_slices (int): Odd number of slices, the same loader feeds 3-, 7-, 9- and 11-slice models.
            Defaults to 7.
        input_slice_interval (float | None): Spacing of the stacked slices in mm; None stacks the adjacent
            slices without normalisation (interval-aware models such as AlignShift). Defaults to 2.0.
        window (tuple[float]): HU window ``(low, high)``. Defaults to (-1024, 2050).
        out_range (tuple[float]): Values the window maps to. Defaults to (-50, 205).
        cache_size (int): Decoded slices kept per process; 0 disables the cache. Defaults to 64.
        png_decoder (str): ``'auto'`` (the fast decoder for plain 16-bit grey PNGs, OpenCV for the rest) or
            ``'opencv'`` (always ``cv2.imdecode``, the reference). Both give the same arrays. Defaults to
            ``'auto'``.
        decode_cache_dir (str, optional): Folder of an on-disk cache of decoded slices (opt-in; about 500 KB
            per 512x512 slice used; must lie outside the data tree). None disables it. Defaults to None.
        backend_args (dict, optional): MMEngine file backend arguments. Defaults to None.

    Example:
        >>> from mmdet3dctx.datasets.transforms import LoadDeepLesionSlices
        >>> load = LoadDeepLesionSlices(num_slices=3, input_slice_interval=2.0)
        >>> # results = load(dict(img_path='.../Images_png/000001_01_01/103.png', key_slice=103,
        >>> #                     slice_range=(90, 120), slice_interval=5.0))
        >>> # results['img'].shape -> (512, 512, 3)
    """

    def __init__(self,
                 num_slices: int = 7,
                 input_slice_interval: Optional[float] = 2.0,
                 window: Tuple[float, float] = (-1024, 2050),
                 out_range: Tuple[float, float] = (-50, 205),
                 cache_size: int = 64,
                 png_decoder: str = 'auto',
                 decode_cache_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        check_config_resolved(dict(num_slices=num_slices, input_slice_interval=input_slice_interval, window=window,
                                   out_range=out_range), 'LoadDeepLesionSlices')
        check_slice_input(num_slices, input_slice_interval, window)
        if png_decoder not in PNG_DECODERS:
            raise ValueError(f'png_decoder must be one of {PNG_DECODERS}, got {png_decoder!r}')
        self.num_slices = int(num_slices)
        self.input_slice_interval = None if input_slice_interval is None else float(input_slice_interval)
        self.window = (float(window[0]), float(window[1]))
        self.out_range = (float(out_range[0]), float(out_range[1]))
        self.png_decoder = png_decoder
        self.backend_args = backend_args
        self.cache = SliceCache(cache_size)
        # Scratch buffers of stack_windowed_slices reused between samples, one set per thread.
        self._workspaces = {}
        self.disk_cache = None if decode_cache_dir is None else DiskSliceCache(decode_cache_dir)

    def _decode_png(self, path: str) -> np.ndarray:
        return decode_hu_png(fileio.get(path, backend_args=self.backend_args), path, self.png_decoder)

    def _decode(self, path: str) -> np.ndarray:
        if self.disk_cache is None:
            return self._decode_png(path)
        return self.disk_cache.get(path, self._decode_png)

    def _exists(self, path: str) -> bool:
        return path in self.cache or fileio.exists(path, backend_args=self.backend_args)

    def _resolve(self, key_path: str, key: int, index: int) -> str:
        """Path of slice ``index``, or of the nearest existing slice towards the key slice."""
        index = nearest_existing_slice(index, key, lambda i: self._exists(neighbour_path(key_path, i)))
        return key_path if index == key else neighbour_path(key_path, index)

    def transform(self, results: dict) -> dict:
        """Load the slices.

        Args:
            results (dict): With ``img_path``, ``key_slice`` and optionally ``slice_range`` and
                ``slice_interval``.

        Returns:
            dict: ``results`` with ``img`` and the keys listed in the class docstring.
        """
        key_path = results['img_path']
        key = int(results['key_slice'])
        srange = tuple(results.get('slice_range') or (key, key))
        interval = results.get('slice_interval', math.nan)
        interval = math.nan if interval is None else float(interval)
        if not self._exists(key_path):
            raise FileNotFoundError(f'key slice not found: {key_path}')
        if self.disk_cache is not None:  # the folder holding Images_png/<series>/<slice>.png
            self.disk_cache.check_outside(osp.dirname(osp.dirname(osp.dirname(osp.abspath(key_path)))))
        positions = slice_positions(key, self.num_slices, self.input_slice_interval, interval, srange)
        plan = interpolation_plan(positions)
        paths = {}
        for i0, i1, _ in plan:
            for i in (i0, i1):
                if i not in paths:
                    paths[i] = key_path if i == key else self._resolve(key_path, key, i)
        decoded = {p: self.cache.get(p, self._decode) for p in dict.fromkeys(paths.values())}
        shape = decoded[key_path].shape
        for p, a in decoded.items():
            if a.shape != shape:
                raise ValueError(f'{p}: shape {a.shape} differs from the key slice {key_path} {shape}')
        workspace = self._workspaces.setdefault(threading.get_ident(), {})
        img = stack_windowed_slices(plan, lambda i: decoded[paths[i]], self.window, self.out_range, workspace)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        results['slice_positions'] = [float(p) for p in positions]
        results['input_slice_interval'] = effective_input_slice_interval(self.input_slice_interval, interval)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_slices={self.num_slices}, '
                f'input_slice_interval={self.input_slice_interval}, '
                f'window={self.window}, out_range={self.out_range}, cache_size={self.cache.maxsize}, '
                f'png_decoder={self.png_decoder!r}, '
                f'decode_cache_dir={None if self.disk_cache is None else self.disk_cache.cache_dir!r}, '
                f'backend_args={self.backend_args})')

