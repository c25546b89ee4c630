"""The fast 16-bit PNG decoder against OpenCV (libpng), on PNGs written byte by byte with each row filter."""
import struct
import zlib

import cv2
import numpy as np
import pytest

from mmdet3dctx.datasets import png16
from mmdet3dctx.datasets.slice_sampling import decode_hu_png


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + ctype + body + struct.pack('>I', zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_row(kind: int, row: bytes, prev: bytes, bpp: int = 2) -> bytes:
    """One row filtered as the PNG specification says (bytes ``bpp`` apart are the same byte of a pixel)."""
    out = bytearray(len(row))
    for x, v in enumerate(row):
        a = row[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        out[x] = (v - pred) % 256
    return bytes(out)


def encode_png16(values, filters, extra_chunks=(), level=6, depth=16, colour=0, interlace=0, idat_size=None):
    """A 16-bit grey PNG of ``values`` (uint16 ``(H, W)``) with row ``y`` filtered with ``filters[y % len]``."""
    values = np.asarray(values, np.uint16)
    h, w = values.shape
    rows = values.astype('>u2').tobytes()
    stride = 2 * w
    raw = bytearray()
    prev = bytes(stride)
    for y in range(h):
        row = rows[y * stride:(y + 1) * stride]
        kind = filters[y % len(filters)]
        raw += bytes([kind]) + _filter_row(kind, row, prev)
        prev = row
    data = zlib.compress(bytes(raw), level)
    idat_size = idat_size or len(data)
    idats = b''.join(_chunk(b'IDAT', data[i:i + idat_size]) for i in range(0, len(data), idat_size))
    ihdr = struct.pack('>IIBBBBB', w, h, depth, colour, 0, 0, interlace)
    return (png16.PNG_SIGNATURE + _chunk(b'IHDR', ihdr) + b''.join(extra_chunks) + idats + _chunk(b'IEND', b''))


def _opencv(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope='module')
def values():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 65536, (9, 13)).astype(np.uint16)
    v[0, :4] = [0, 65535, 32768, 32767]  # extremes and the HU zero
    return v


@pytest.mark.parametrize('filters', [[0], [1], [2], [0, 1, 2], [2, 2, 1, 0, 1]])
def test_none_sub_up_rows_decode_like_opencv(values, filters):
    data = encode_png16(values, filters, idat_size=50)  # several IDAT chunks
    ref = _opencv(data)
    np.testing.assert_array_equal(ref, values)  # the encoder itself is right
    out = png16.decode_png16(data)
    assert out.dtype == np.uint16 and out.shape == values.shape
    np.testing.assert_array_equal(out, ref)
    hu = decode_hu_png(data, 'x.png')
    assert hu.dtype == np.int16 and hu.flags.c_contiguous and hu.flags.writeable
    np.testing.assert_array_equal(hu, values.astype(np.int32) - 32768)


@pytest.mark.parametrize('filters', [[3], [4], [1, 4, 2, 3]])
def test_average_and_paeth_rows_go_to_opencv(values, filters):
    data = encode_png16(values, filters)
    assert png16.decode_gray16_be(data) is None
    np.testing.assert_array_equal(decode_hu_png(data), values.astype(np.int32) - 32768)


@pytest.mark.parametrize('shape', [(1, 1), (1, 7), (6, 1), (3, 2)])
def test_small_shapes(shape):
    v = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape) * 4099
    data = encode_png16(v, [1, 2, 0])
    np.testing.assert_array_equal(png16.decode_png16(data), v)


def test_ancillary_chunks_are_skipped_but_transparency_goes_to_opencv(values):
    extra = [_chunk(b'tEXt', b'Comment\x00synthetic'), _chunk(b'pHYs', struct.pack('>IIB', 1000, 1000, 1)),
             _chunk(b'gAMA', struct.pack('>I', 45455)), _chunk(b'sBIT', b'\x0c')]
    data = encode_png16(values, [1], extra)
    np.testing.assert_array_equal(png16.decode_png16(data), _opencv(data))
    with_trns = encode_png16(values, [1], [_chunk(b'tRNS', struct.pack('>H', 5))])
    assert png16.decode_gray16_be(with_trns) is None


def test_other_formats_are_left_to_opencv():
    ok, eight_bit = cv2.imencode('.png', np.zeros((4, 4), np.uint8))
    assert png16.decode_gray16_be(eight_bit.tobytes()) is None
    ok, rgb16 = cv2.imencode('.png', np.zeros((4, 4, 3), np.uint16))
    assert png16.decode_gray16_be(rgb16.tobytes()) is None
    assert png16.decode_gray16_be(b'not a png at all') is None
    with pytest.raises(ValueError, match='x.png: expected a single-channel 16-bit PNG'):
        decode_hu_png(eight_bit.tobytes(), 'x.png')


def test_opencv_written_slices_take_the_fast_path():
    # What cv2.imwrite (the synthetic generator) writes: Sub rows, zlib level 1.
    rng = np.random.default_rng(1)
    v = (rng.integers(-1100, 1500, (64, 48)) + 32768).astype(np.uint16)
    ok, buf = cv2.imencode('.png', v)
    data = buf.tobytes()
    assert png16.decode_gray16_be(data) is not None
    np.testing.assert_array_equal(png16.decode_png16(data), v)
    np.testing.assert_array_equal(decode_hu_png(data, decoder='auto'), decode_hu_png(data, decoder='opencv'))


def test_zlib_fallback_gives_the_same_values(values, monkeypatch):
    data = encode_png16(values, [1, 2, 0])
    fast = png16.decode_png16(data)
    monkeypatch.setattr(png16, '_inflate_lib', zlib)
    np.testing.assert_array_equal(png16.decode_png16(data), fast)


@pytest.mark.parametrize('decoder', ['auto', 'opencv'])
def test_corrupt_files_raise_naming_the_file(values, decoder):
    data = encode_png16(values, [1])
    truncated = data[:len(data) // 2]
    with pytest.raises(ValueError, match=r'slice/007\.png: cannot decode as PNG'):
        decode_hu_png(truncated, 'slice/007.png', decoder)
    body_at = data.index(b'IDAT') + 4
    flipped = bytearray(data)
    flipped[body_at + 10] ^= 0xFF
    with pytest.raises(ValueError, match=r'slice/008\.png: cannot decode as PNG'):
        decode_hu_png(bytes(flipped), 'slice/008.png', decoder)
    with pytest.raises(ValueError, match=r'slice/009\.png: cannot decode as PNG'):
        decode_hu_png(b'', 'slice/009.png', decoder)


def test_fast_decoder_reasons(values):
    data = encode_png16(values, [1])
    with pytest.raises(png16.PNGError, match='no IEND'):
        png16.decode_gray16_be(data[:-12])
    body_at = data.index(b'IDAT') + 4
    bad = bytearray(data)
    bad[body_at + 3] ^= 1
    with pytest.raises(png16.PNGError, match='CRC error in the IDAT'):
        png16.decode_gray16_be(bytes(bad))
    # A valid zlib stream holding one byte too few for the image.
    short = encode_png16(values, [1])
    raw = zlib.decompress(short[short.index(b'IDAT') + 4:short.index(b'IEND') - 8])
    h, w = values.shape
    ihdr = struct.pack('>IIBBBBB', w, h, 16, 0, 0, 0, 0)
    wrong = (png16.PNG_SIGNATURE + _chunk(b'IHDR', ihdr) + _chunk(b'IDAT', zlib.compress(raw[:-1]))
             + _chunk(b'IEND', b''))
    with pytest.raises(png16.PNGError, match='expected'):
        png16.decode_gray16_be(wrong)
    with pytest.raises(ValueError, match='w.png: cannot decode as PNG'):
        decode_hu_png(wrong, 'w.png')


def test_unknown_decoder_is_refused():
    with pytest.raises(ValueError, match='decoder must be one of'):
        decode_hu_png(b'', 'x.png', 'pillow')


def test_prefix_sum_without_integral_gives_the_same_values(values, monkeypatch):
    data = encode_png16(values, [1, 0, 1, 2])
    fast = png16.decode_png16(data)
    monkeypatch.setattr(png16, '_MAX_INTEGRAL_BYTES', 0)  # the path of images over 8 megapixels
    np.testing.assert_array_equal(png16.decode_png16(data), fast)
