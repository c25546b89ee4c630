"""Where the input slices of a key slice come from, and how decoded slices are read and cached.

Plain NumPy/OpenCV, used by :class:`~mmdet3dctx.datasets.transforms.LoadDeepLesionSlices`.
"""
import hashlib
import math
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from . import png16

#: DeepLesion PNGs store HU + 32768 as uint16.
HU_OFFSET = 32768


def slice_offsets(num_slices: int) -> np.ndarray:
    """Offsets ``-(n-1)/2 .. (n-1)/2`` of ``num_slices`` slices around the key slice (n odd)."""
    if num_slices < 1 or num_slices % 2 != 1:
        raise ValueError(f'num_slices must be an odd number >= 1, got {num_slices}')
    half = num_slices // 2
    return np.arange(-half, half + 1)


def slice_positions(key: int, num_slices: int, input_slice_interval: Optional[float], series_interval: float,
                    slice_range: Tuple[int, int]) -> np.ndarray:
    """Fractional slice indices of the input slices, clamped to the available range.

    Slice ``k`` (``k = -(n-1)/2 .. (n-1)/2``) sits at ``key + k * input_slice_interval / series_interval``: the
    inputs are ``input_slice_interval`` mm apart whatever the series' interval. A position beyond ``slice_range``
    takes the nearest end. A NaN or non-positive ``series_interval`` repeats the key slice.

    Args:
        key (int): Key slice index.
        num_slices (int): Odd number of input slices.
        input_slice_interval (float | None): Wanted spacing of the inputs (mm); None takes the adjacent slices
            (``key + k``) without normalisation.
        series_interval (float): The series' slice interval (mm).
        slice_range (tuple[int]): First and last available slice index.

    Returns:
        np.ndarray: float64 ``(num_slices,)`` positions, the key slice in the middle.
    """
    offsets = slice_offsets(num_slices).astype(np.float64)
    if input_slice_interval is None:
        pos = key + offsets
    elif series_interval is None or not math.isfinite(series_interval) or series_interval <= 0:
        pos = np.full(num_slices, float(key))
    else:
        pos = key + offsets * (float(input_slice_interval) / float(series_interval))
    first, last = slice_range
    first, last = min(first, key), max(last, key)
    return np.clip(pos, first, last)


def nearest_existing_slice(index: int, key: int, exists: Callable[[int], bool]) -> int:
    """The slice that stands in for slice ``index`` when it is missing: ``index`` itself if it exists, else the
    nearest existing slice towards the key slice (the key slice at the latest).

    Training (``LoadDeepLesionSlices``, missing PNGs) and inference (DeepLesion volumes with gaps in their
    numbering) both follow it.
    """
    step = 1 if index < key else -1
    while index != key:
        if exists(index):
            return index
        index += step
    return key


def check_slice_input(num_slices: int, input_slice_interval: Optional[float], window: Tuple[float, float]) -> None:
    """Refuse settings no slice input can be built from: an even or non-positive slice count, a non-positive
    spacing, a window whose low end is not below its high end."""
    if num_slices < 1 or num_slices % 2 != 1:
        raise ValueError(f'num_slices must be an odd number >= 1, got {num_slices}')
    if input_slice_interval is not None and not input_slice_interval > 0:
        raise ValueError(f'input_slice_interval must be positive or None, got {input_slice_interval}')
    if window[1] <= window[0]:
        raise ValueError(f'window must be (low, high) with low < high, got {window}')


def effective_input_slice_interval(input_slice_interval: Optional[float], series_interval: Optional[float]) -> float:
    """The spacing (mm) of the stacked input slices: ``input_slice_interval`` when ``series_interval`` is a
    positive number, the series' own interval when ``input_slice_interval`` is None (adjacent slices), NaN
    otherwise (a NaN or non-positive ``series_interval`` repeats the key slice, see :func:`slice_positions`)."""
    series_interval = math.nan if series_interval is None else float(series_interval)
    if input_slice_interval is None:
        return series_interval
    if math.isfinite(series_interval) and series_interval > 0:
        return float(input_slice_interval)
    return math.nan


def interpolation_plan(positions: Sequence[float], eps: float = 1e-6) -> List[Tuple[int, int, float]]:
    """Linear interpolation of each fractional position between its two neighbouring slices.

    Each position ``p`` gets its own weights: ``(i0, i1, w)`` with ``i0 = floor(p)``, ``i1 = i0 + 1``,
    ``w = p - i0``, so the slice is ``(1 - w) * S[i0] + w * S[i1]``. An integer position gives
    ``(i, i, 0.0)``.

    Args:
        positions (Sequence[float]): Fractional slice indices.
        eps (float): Positions closer than this to an integer are that integer.

    Returns:
        list[tuple[int, int, float]]
    """
    plan = []
    for p in positions:
        r = round(p)
        if abs(p - r) < eps:
            plan.append((int(r), int(r), 0.0))
        else:
            i0 = int(math.floor(p))
            plan.append((i0, i0 + 1, float(p - i0)))
    return plan


#: PNG decoders of :func:`decode_hu_png`.
PNG_DECODERS = ('auto', 'opencv')


def decode_hu_png(data: bytes, path: str = '<bytes>', decoder: str = 'auto') -> np.ndarray:
    """Decode a DeepLesion uint16 PNG to HU (``value - 32768``) as int16 ``(H, W)``.

    Args:
        data (bytes): PNG file content.
        path (str): Name used in error messages.
        decoder (str): ``'auto'`` decodes plain 16-bit grey PNGs with :mod:`~mmdet3dctx.datasets.png16` (about
            2x faster than OpenCV with ``isal`` installed, the same values bit for bit) and anything else with
            OpenCV; ``'opencv'`` always uses ``cv2.imdecode``. Defaults to ``'auto'``.

    Raises:
        ValueError: The content is not a single-channel 16-bit PNG, or is corrupt (the message names ``path``).
    """
    if decoder not in PNG_DECODERS:
        raise ValueError(f'decoder must be one of {PNG_DECODERS}, got {decoder!r}')
    fast_error = None
    if decoder == 'auto':
        try:
            be = png16.decode_gray16_be(data)
        except png16.PNGError as exc:  # let libpng have its say too; report both if it fails as well
            be, fast_error = None, exc
        if be is not None:
            hu = np.empty(be.shape[:1] + (be.shape[1] // 2, ), np.int16)
            # The same top-bit flip as below, byte-swapped from PNG's big-endian order on the way.
            np.bitwise_xor(be.view('>u2'), np.uint16(0x8000), out=hu.view(np.uint16))
            return hu
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # e.g. an empty file
        img = None
    if img is None:
        detail = f' ({fast_error})' if fast_error is not None else ''
        raise ValueError(f'{path}: cannot decode as PNG{detail}')
    if img.dtype != np.uint16 or img.ndim != 2:
        raise ValueError(f'{path}: expected a single-channel 16-bit PNG (HU + 32768), got {img.dtype} '
                         f'with shape {img.shape}')
    # value - 32768 in int16 is the value with its top bit flipped, reinterpreted: exact and copy-once.
    return (img ^ np.uint16(0x8000)).view(np.int16)


def window_hu(hu: np.ndarray, window: Tuple[float, float], out_range: Tuple[float, float],
              out: Optional[np.ndarray] = None) -> np.ndarray:
    """Map HU linearly from ``window`` to ``out_range`` with clipping, as float32.

    ``v = out_lo + (hu - win_lo) * (out_hi - out_lo) / (win_hi - win_lo)``, clipped to ``out_range``.
    """
    lo, hi = float(window[0]), float(window[1])
    olo, ohi = float(out_range[0]), float(out_range[1])
    if hi <= lo:
        raise ValueError(f'window must be (low, high) with low < high, got {window}')
    scale = np.float32((ohi - olo) / (hi - lo))
    res = np.multiply(hu, scale, out=out, dtype=np.float32)
    res += np.float32(olo - lo * float(scale))
    np.clip(res, min(olo, ohi), max(olo, ohi), out=res)
    return res


def stack_windowed_slices(plan: Sequence[Tuple[int, int, float]], slice_hu: Callable[[int], np.ndarray],
                          window: Tuple[float, float], out_range: Tuple[float, float],
                          workspace: Optional[dict] = None) -> np.ndarray:
    """The model input: each planned slice interpolated in HU, windowed, stacked on the last axis.

    Training (``LoadDeepLesionSlices``) and inference (``mmdet3dctx.inference``) both turn slices into an input
    here, so both give the same array bit for bit.

    Each input slice is computed into its own plane of one ``(D, H, W)`` buffer and windowed while it is in
    cache; a slice is converted to float32 at most once however many interpolations use it, and a plan entry
    repeated at a series end is copied rather than recomputed. The values are those of interpolating with
    ``cv2.addWeighted`` in float32 and then :func:`window_hu`, plane by plane.

    Args:
        plan: ``(i0, i1, w)`` per input slice (:func:`interpolation_plan`): ``(1 - w) * S[i0] + w * S[i1]``.
        slice_hu (Callable[[int], np.ndarray]): HU ``(H, W)`` of slice ``i`` (any real dtype).
        window, out_range: see :func:`window_hu`.
        workspace (dict, optional): Scratch buffers kept by the caller between calls (a loader keeps one per
            thread), so that the ``(D, H, W)`` planes and float32 copies are not allocated, and page-faulted
            in, for every sample. The returned array never shares memory with it. Defaults to None.

    Returns:
        np.ndarray: float32 ``(H, W, len(plan))``, C-contiguous.
    """
    workspace = {} if workspace is None else workspace
    hu_of = {}
    as_float = {}

    def hu(i: int) -> np.ndarray:
        if i not in hu_of:
            hu_of[i] = slice_hu(i)
        return hu_of[i]

    def scratch(name: str, shape: Tuple[int, ...]) -> np.ndarray:
        buf = workspace.get(name)
        if buf is None or buf.shape != shape:
            buf = workspace[name] = np.empty(shape, np.float32)
        return buf

    def f32(i: int) -> np.ndarray:
        if i not in as_float:
            buf = scratch(f'f32_{len(as_float)}', hu(i).shape)
            np.copyto(buf, hu(i), casting='unsafe')
            as_float[i] = buf
        return as_float[i]

    first = hu(plan[0][0])
    stack = scratch('stack', (len(plan), ) + first.shape)
    done = {}
    for k, step in enumerate(plan):
        i0, i1, w = step
        if step in done:
            stack[k] = stack[done[step]]
            continue
        done[step] = k
        if w == 0.0:
            window_hu(hu(i0), window, out_range, out=stack[k])
        else:
            mixed = cv2.addWeighted(f32(i0), 1.0 - w, f32(i1), w, 0.0, dst=stack[k])
            if not np.shares_memory(mixed, stack[k]):  # OpenCV wrote elsewhere
                stack[k] = mixed
            window_hu(stack[k], window, out_range, out=stack[k])
    return stack[0][..., None].copy() if len(plan) == 1 else cv2.merge(list(stack))


class SliceCache:
    """Least-recently-used cache of decoded slices, with hit and miss counters.

    Args:
        maxsize (int): Number of slices kept; 0 disables caching.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = int(maxsize)
        self._data: 'OrderedDict[str, np.ndarray]' = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, path: str, load: Callable[[str], np.ndarray]) -> np.ndarray:
        """The slice at ``path``, decoded by ``load(path)`` on a miss."""
        arr = self._data.get(path)
        if arr is not None:
            self.hits += 1
            self._data.move_to_end(path)
            return arr
        self.misses += 1
        arr = load(path)
        if self.maxsize > 0:
            self._data[path] = arr
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return arr

    def __contains__(self, path: str) -> bool:
        return path in self._data

    def __len__(self) -> int:
        return len(self._data)

    @property
    def hit_rate(self) -> float:
        """Hits over requests (NaN before any request)."""
        total = self.hits + self.misses
        return self.hits / total if total else math.nan

    def clear(self) -> None:
        """Drop every slice and reset the counters."""
        self._data.clear()
        self.hits = self.misses = 0


class DiskSliceCache:
    """Opt-in on-disk cache of decoded slices as ``.npy`` files under a folder of the user's choosing.

    Reading a decoded 512x512 slice back costs a fraction of decoding its PNG, so from the second epoch on the
    loader reads raw arrays; the cache is shared by all workers and runs. An entry is named by a hash of the
    PNG's absolute path, size and modification time, so a changed PNG is decoded again (its old entry is simply
    no longer used; delete the folder to reclaim the space). Entries are written to a temporary file and
    renamed, so concurrent workers never read half-written files; an unreadable entry is decoded and written
    again. Nothing is ever written next to the PNGs: the cache folder must lie outside the data tree (the
    folder above ``Images_png``), which :meth:`check_outside` enforces.

    Args:
        cache_dir (str): Folder of the cache (created if missing).
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = osp.realpath(osp.expanduser(str(cache_dir)))
        self.hits = 0
        self.misses = 0
        self._checked_roots = set()

    def check_outside(self, data_root: str) -> None:
        """Raise ``ValueError`` if the cache folder is ``data_root`` or lies inside it."""
        if data_root in self._checked_roots:
            return
        root = osp.realpath(data_root)
        if osp.commonpath([root, self.cache_dir]) == root:
            raise ValueError(f'the decode cache folder {self.cache_dir} lies inside the data tree {root}; '
                             'choose a folder outside it (the cache never writes into the data tree)')
        self._checked_roots.add(data_root)

    def entry(self, path: str) -> Optional[str]:
        """The cache file of the PNG at ``path``, or None if ``path`` is not a local file."""
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        key = f'{osp.realpath(path)}\0{st.st_size}\0{st.st_mtime_ns}'.encode('utf-8', 'surrogateescape')
        digest = hashlib.sha1(key).hexdigest()
        return osp.join(self.cache_dir, digest[:2], digest + '.npy')

    def get(self, path: str, load: Callable[[str], np.ndarray]) -> np.ndarray:
        """The slice at ``path`` from the cache, or decoded by ``load(path)`` and stored."""
        entry = self.entry(path)
        if entry is not None and osp.exists(entry):
            try:
                arr = np.load(entry, allow_pickle=False)
                self.hits += 1
                return arr
            except (OSError, ValueError, EOFError):
                pass  # unreadable: decode again and replace it
        self.misses += 1
        arr = load(path)
        if entry is not None:
            os.makedirs(osp.dirname(entry), exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix='.tmp', dir=osp.dirname(entry))
            try:
                with os.fdopen(fd, 'wb') as f:
                    np.save(f, arr, allow_pickle=False)
                os.replace(tmp, entry)
            except BaseException:
                if osp.exists(tmp):
                    os.remove(tmp)
                raise
        return arr

    @property
    def hit_rate(self) -> float:
        """Hits over requests (NaN before any request)."""
        total = self.hits + self.misses
        return self.hits / total if total else math.nan

    def reset_counters(self) -> None:
        """Zero the hit and miss counters (the files stay)."""
        self.hits = self.misses = 0


def neighbour_path(key_path: str, index: int) -> str:
    """Path of slice ``index`` in the series folder of ``key_path`` (``<folder>/<index:03d>.png``)."""
    return osp.join(osp.dirname(key_path), f'{index:03d}.png')
