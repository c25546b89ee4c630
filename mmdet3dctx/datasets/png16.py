"""Fast decoding of 16-bit greyscale PNGs, the format of DeepLesion slices.

OpenCV (libpng + zlib) takes about 3 ms for a 512x512 16-bit slice, most of it inflating. This decoder parses
the chunks itself, inflates with Intel ISA-L (the ``isal`` package, about twice as fast as zlib; the standard
library's ``zlib`` when it is missing) and undoes the PNG row filters with vectorised code: *None* and *Up*
rows directly, *Sub* rows as a row-wise prefix sum (``cv2.integral`` then a difference of rows, modulo 256).
It returns exactly what ``cv2.imdecode(..., cv2.IMREAD_UNCHANGED)`` returns, bit for bit.

Only the plain case is handled: bit depth 16, colour type 0 (grey), not interlaced, rows filtered with None,
Sub or Up, no ``tRNS`` and no unknown critical chunk. For anything else :func:`decode_gray16_be` returns
``None`` and the caller uses OpenCV. A structurally broken file (bad CRC of a critical chunk, truncated chunk,
bad zlib stream or checksum, wrong amount of image data) raises :class:`PNGError`; callers then let OpenCV try
too, so this decoder never accepts a file that OpenCV refuses, nor refuses one that OpenCV reads.
"""
import struct
import zlib
from typing import Optional

import cv2
import numpy as np

try:  # Intel ISA-L's inflate: same API and checks as zlib, about 2x faster
    from isal import isal_zlib as _inflate_lib
    INFLATE_BACKEND = 'isal'
except ImportError:  # pragma: no cover - depends on the environment
    _inflate_lib = zlib
    INFLATE_BACKEND = 'zlib'

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_CHUNK_HEAD = struct.Struct('>I4s')
_IHDR = struct.Struct('>IIBBBBB')
#: Bytes of image data up to which ``cv2.integral``'s int32 sums (at most 255 per byte) cannot overflow.
_MAX_INTEGRAL_BYTES = (2**31 - 1) // 255


class PNGError(ValueError):
    """A PNG whose structure is broken (the message says where)."""


def _crc_ok(chunk_type: bytes, body: memoryview, crc: int) -> bool:
    return _inflate_lib.crc32(body, _inflate_lib.crc32(chunk_type)) & 0xFFFFFFFF == crc


def _split_chunks(data: bytes):
    """``(width, height, idat)`` of a plain 16-bit grey PNG, or None for any other PNG.

    Raises:
        PNGError: Truncated chunk, bad CRC of IHDR/IDAT, missing IHDR/IDAT/IEND.
    """
    if data[:8] != PNG_SIGNATURE:
        return None
    mv = memoryview(data)
    pos, n = 8, len(data)
    header = None
    idat = []
    idat_done = False
    while True:
        if pos + 12 > n:
            raise PNGError(f'truncated at byte {pos} (no IEND chunk)')
        length, ctype = _CHUNK_HEAD.unpack_from(data, pos)
        end = pos + 8 + length
        if end + 4 > n:
            raise PNGError(f'chunk {ctype!r} at byte {pos} runs past the end of the file ({n} bytes)')
        body = mv[pos + 8:end]
        crc = int.from_bytes(mv[end:end + 4], 'big')
        if header is None:
            if ctype != b'IHDR' or length != 13:
                raise PNGError('the first chunk is not IHDR')
            if not _crc_ok(ctype, body, crc):
                raise PNGError('CRC error in IHDR')
            header = _IHDR.unpack(body)
        elif ctype == b'IDAT':
            if idat_done:
                return None  # IDAT chunks not consecutive: leave the odd file to libpng
            if not _crc_ok(ctype, body, crc):
                raise PNGError(f'CRC error in the IDAT chunk at byte {pos}')
            idat.append(body)
        elif ctype == b'IEND':
            break
        else:
            if idat:
                idat_done = True
            # A critical chunk other than IHDR/IDAT/IEND (PLTE, unknown ones), or transparency that OpenCV
            # may turn into an alpha channel: not the plain case.
            if ctype == b'tRNS' or not (ctype[0] & 0x20):
                return None
        pos = end + 4
    width, height, depth, colour, compression, filtering, interlace = header
    if (depth, colour, compression, filtering, interlace) != (16, 0, 0, 0, 0):
        return None
    if not idat:
        raise PNGError('no IDAT chunk')
    if width == 0 or height == 0:
        raise PNGError(f'empty image {width}x{height}')
    return width, height, b''.join(idat)


def _unfilter(rows: np.ndarray) -> Optional[np.ndarray]:
    """Undo the per-row filters of 2-byte pixels; None if a row uses Average or Paeth.

    Args:
        rows (np.ndarray): uint8 ``(H, 1 + 2W)``: each row's filter type then its filtered bytes.

    Returns:
        np.ndarray | None: uint8 ``(H, 2W)``, big-endian pixel bytes.
    """
    h, stride = rows.shape
    w2 = stride - 1
    kinds = rows[:, 0]
    counts = np.bincount(kinds, minlength=5)
    if len(counts) > 5:
        raise PNGError(f'invalid row filter type {int(kinds.max())}')
    if counts[3] or counts[4]:
        return None
    body = rows[:, 1:]
    out = np.empty((h, w2), np.uint8)
    if counts[1]:
        # Sub: byte x += byte x-2 (the same byte of the previous pixel), modulo 256, i.e. a prefix sum along the
        # row in each of the two byte lanes. cv2.integral gives 2D prefix sums per channel; the difference of
        # consecutive rows leaves the row-wise ones, and the cast to uint8 takes them modulo 256.
        sub = np.flatnonzero(kinds == 1)
        src = body if counts[1] == h else body[sub]
        n = src.shape[0]
        if n * w2 <= _MAX_INTEGRAL_BYTES:
            integral = cv2.integral(src.reshape(n, w2 // 2, 2))
            dst = out if counts[1] == h else np.empty((n, w2), np.uint8)
            np.subtract(integral[1:, 1:], integral[:-1, 1:], out=dst.reshape(n, w2 // 2, 2), casting='unsafe')
        else:  # images of more than 4 megapixels
            dst = np.cumsum(src.reshape(n, w2 // 2, 2), axis=1, dtype=np.uint8).reshape(n, w2)
        if counts[1] != h:
            out[sub] = dst
    if counts[0]:
        none = kinds == 0
        out[none] = body[none]
    if counts[2]:
        # Up: byte += the same byte of the row above (already final: rows are done in order).
        for r in np.flatnonzero(kinds == 2):
            if r == 0:
                out[0] = body[0]
            else:
                np.add(body[r], out[r - 1], out=out[r])
    return out


def decode_gray16_be(data: bytes) -> Optional[np.ndarray]:
    """Decode a plain 16-bit greyscale PNG to its big-endian pixel bytes.

    Args:
        data (bytes): The file's content.

    Returns:
        np.ndarray | None: uint8 ``(H, 2W)`` (view it as ``'>u2'`` for the ``(H, W)`` values), or None when the
        file is not the plain case this decoder handles (see the module docstring).

    Raises:
        PNGError: The file is broken.
    """
    parts = _split_chunks(data)
    if parts is None:
        return None
    width, height, idat = parts
    expected = height * (2 * width + 1)
    try:
        raw = _inflate_lib.decompress(idat, 15, expected)
    except Exception as exc:  # zlib.error / isal_zlib.error: bad stream, bad Adler-32, truncated
        raise PNGError(f'cannot inflate the image data: {exc}') from None
    if len(raw) != expected:
        raise PNGError(f'image data of {len(raw)} bytes, expected {expected} for {width}x{height} 16-bit grey')
    return _unfilter(np.frombuffer(raw, np.uint8).reshape(height, 2 * width + 1))


def decode_png16(data: bytes) -> Optional[np.ndarray]:
    """Decode a plain 16-bit greyscale PNG as ``cv2.imdecode(..., IMREAD_UNCHANGED)`` does.

    Returns:
        np.ndarray | None: uint16 ``(H, W)`` in native byte order, or None when not the plain case.
    """
    be = decode_gray16_be(data)
    if be is None:
        return None
    return be.view('>u2').astype(np.uint16)
