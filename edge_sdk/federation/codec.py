"""Wire codec for federated adapter updates: how one named float32 tensor becomes bytes and back.

Phones (Kotlin, Swift) implement this from the text below alone, so it is language neutral: little-endian,
row-major, zlib (RFC 1950), no pickle and no numpy-specific format. A tensor travels as four fields,
`name`, `shape` (list of non-negative ints, may be empty for a scalar), `encoding` and `data`; the
transport around them is not this module's business. `n` = product of `shape` (1 for an empty shape).

Encodings of `data`:

``float32``
    n little-endian IEEE-754 float32 values, row-major (C order). len(data) == 4*n exactly.

``float32_zlib``
    zlib.compress(the ``float32`` bytes). The stream decompresses to exactly 4*n bytes and nothing
    follows it.

``int8_zlib``  (per-row symmetric int8, about 4x smaller than float32 before zlib)
    View the tensor as a 2-D matrix rows x cols: rows = shape[0] and cols = product of shape[1:] when
    len(shape) >= 2; a 1-D tensor is 1 row of shape[0] columns; a 0-d tensor is 1x1.
    Encode, per row r:  s[r] = max_c |x[r,c]| / 127  as one float32 division (so s[r] = 0 for an
    all-zero row); q[r,c] = clip(round_half_to_even(x[r,c] / s[r]), -127, 127) as int8, and q = 0 wherever
    s[r] = 0 (this encoder divides in float64; an encoder's precision only changes q, never decoding).
    data = zlib.compress(P, level 6), where the plain payload P is
        s[0..rows-1]        rows    x float32 little-endian
        q[0..rows*cols-1]   rows*cols x int8 (two's complement), row-major
    so len(P) == 4*rows + rows*cols exactly and nothing follows the zlib stream.
    Decode: x[r,c] = float32(q[r,c]) * float32(s[r]), ONE float32 multiply (IEEE-754, round to
    nearest even), never in float64 nor fused with anything: every language then gets bit-identical
    floats. Each s must be finite and >= 0 and each q in [-127, 127]. Error bound: |x - decoded| <= s[r]/2
    for every element of row r (up to float32 rounding of the division in the encoder).

Any zlib level decodes; encoders here use level 6. Decoders MUST reject (this one raises CodecError): an
unknown encoding, a negative dimension, more elements than the receiver allows (checked before anything is
allocated), a payload of the wrong length (decompression stops at expected+1 bytes, so a zip bomb costs
nothing), bytes after the zlib stream, a truncated stream, a non-finite or negative scale, q = -128, and any
non-finite decoded value (a NaN or inf would poison the aggregate).
"""

from __future__ import annotations

import math
import operator
import zlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from edge_sdk.errors import InvalidRequestError

FLOAT32 = "float32"
FLOAT32_ZLIB = "float32_zlib"
INT8_ZLIB = "int8_zlib"
ENCODINGS = (FLOAT32, FLOAT32_ZLIB, INT8_ZLIB)
_NAMES = ", ".join(ENCODINGS)
ZLIB_LEVEL = 6

_F32 = np.dtype("<f4")


class CodecError(InvalidRequestError):
    """An update tensor that cannot be encoded, or bytes that do not decode as documented."""


@dataclass(frozen=True)
class EncodedTensor:
    name: str
    shape: tuple[int, ...]
    encoding: str
    data: bytes

    @property
    def raw_bytes(self) -> int:
        """Size of the tensor as float32: what compression is measured against."""
        return 4 * math.prod(self.shape)


def _grid(shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows, cols) of the int8 per-row view."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return 1, shape[0]
    return shape[0], math.prod(shape[1:])


def encode_tensor(name: str, array: np.ndarray, encoding: str) -> EncodedTensor:
    """Encode one tensor (any float array; values must be finite, a NaN would poison the aggregate)."""
    x = np.asarray(array, dtype=np.float32)
    if not np.isfinite(x).all():
        raise CodecError(f"Tensor {name!r} has NaN or infinite values; refusing to encode it.")
    shape = tuple(int(d) for d in x.shape)
    if encoding == FLOAT32:
        data = x.astype(_F32).tobytes()
    elif encoding == FLOAT32_ZLIB:
        data = zlib.compress(x.astype(_F32).tobytes(), ZLIB_LEVEL)
    elif encoding == INT8_ZLIB:
        rows, cols = _grid(shape)
        m = x.reshape(rows, cols)
        scales = (np.abs(m).max(axis=1, initial=0.0) / np.float32(127)).astype(np.float32)
        safe = np.where(scales > 0, scales, 1).astype(np.float64)[:, None]
        q = np.clip(np.rint(m.astype(np.float64) / safe), -127, 127).astype(np.int8)  # rint: half to even
        q[scales == 0] = 0
        data = zlib.compress(scales.astype(_F32).tobytes() + q.tobytes(), ZLIB_LEVEL)
    else:
        raise CodecError(f"Tensor {name!r}: unknown encoding {encoding!r}; use one of {_NAMES}.")
    return EncodedTensor(name, shape, encoding, data)


def _element_count(t: EncodedTensor, max_elements: int | None) -> int:
    """Validate the claimed shape before anything the size of it is allocated."""
    try:
        dims = tuple(operator.index(d) for d in t.shape)
    except TypeError:
        raise CodecError(f"Tensor {t.name!r}: shape {t.shape!r} is not a list of integers.") from None
    if any(d < 0 for d in dims):
        raise CodecError(f"Tensor {t.name!r}: shape {dims} has a negative dimension.")
    n = math.prod(dims)
    if max_elements is not None and n > max_elements:
        raise CodecError(f"Tensor {t.name!r}: shape {dims} has {n} elements, "
                         f"more than the {max_elements} allowed.")
    return n


def _inflate(t: EncodedTensor, expected: int) -> bytes:
    """Decompress exactly `expected` bytes; never produce more than expected+1 whatever the input."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(t.data, expected + 1)
    except zlib.error as e:
        raise CodecError(f"Tensor {t.name!r}: data is not a valid zlib stream ({e}).") from None
    if len(out) > expected or d.unconsumed_tail:
        raise CodecError(f"Tensor {t.name!r}: data decompresses to more than the {expected} bytes "
                         "its shape needs.")
    if not d.eof:
        raise CodecError(f"Tensor {t.name!r}: zlib stream is truncated ({len(out)} of {expected} bytes).")
    if d.unused_data:
        raise CodecError(f"Tensor {t.name!r}: {len(d.unused_data)} trailing bytes after the zlib stream.")
    if len(out) != expected:
        raise CodecError(f"Tensor {t.name!r}: data decompresses to {len(out)} bytes, "
                         f"its shape needs {expected}.")
    return out


def decode_tensor(t: EncodedTensor, max_elements: int | None = None) -> np.ndarray:
    """Decode untrusted bytes into a float32 array of `t.shape`; raise CodecError on anything off-spec."""
    if t.encoding not in ENCODINGS:
        raise CodecError(f"Tensor {t.name!r}: unknown encoding {t.encoding!r}; expected one of {_NAMES}.")
    n = _element_count(t, max_elements)
    shape = tuple(operator.index(d) for d in t.shape)
    if t.encoding == FLOAT32:
        if len(t.data) != 4 * n:
            raise CodecError(f"Tensor {t.name!r}: {len(t.data)} bytes of float32 data, "
                             f"its shape needs {4 * n}.")
        x = np.frombuffer(t.data, dtype=_F32)
    elif t.encoding == FLOAT32_ZLIB:
        x = np.frombuffer(_inflate(t, 4 * n), dtype=_F32)
    else:
        rows, cols = _grid(shape)
        payload = _inflate(t, 4 * rows + rows * cols)
        scales = np.frombuffer(payload, dtype=_F32, count=rows)
        if not (np.isfinite(scales).all() and (scales >= 0).all()):
            raise CodecError(f"Tensor {t.name!r}: a row scale is NaN, infinite or negative.")
        q = np.frombuffer(payload, dtype=np.int8, offset=4 * rows).reshape(rows, cols)
        if (q == -128).any():
            raise CodecError(f"Tensor {t.name!r}: quantised value -128 is outside [-127, 127].")
        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            x = q.astype(np.float32) * scales.astype(np.float32)[:, None]
    x = x.astype(np.float32).reshape(shape)
    if not np.isfinite(x).all():
        raise CodecError(f"Tensor {t.name!r}: decoded values include NaN or infinity.")
    return x


def encode_tensors(tensors: Mapping[str, np.ndarray], encoding: str) -> list[EncodedTensor]:
    """Encode a whole update, sorted by name so the same update always gives the same bytes."""
    return [encode_tensor(name, tensors[name], encoding) for name in sorted(tensors)]


def decode_tensors(encoded: list[EncodedTensor], max_elements: int | None = None) -> dict[str, np.ndarray]:
    """Decode a whole update; `max_elements` caps the TOTAL over all tensors, checked before decoding any."""
    names = [t.name for t in encoded]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CodecError(f"Update names tensors more than once: {', '.join(map(repr, dup))}.")
    total = sum(_element_count(t, max_elements) for t in encoded)
    if max_elements is not None and total > max_elements:
        raise CodecError(f"Update has {total} elements in all, more than the {max_elements} allowed.")
    return {t.name: decode_tensor(t) for t in encoded}


def compression_ratio(encoded: list[EncodedTensor]) -> float:
    """float32 size / encoded size of an update (inf when it encodes to no bytes at all)."""
    raw = sum(t.raw_bytes for t in encoded)
    packed = sum(len(t.data) for t in encoded)
    return raw / packed if packed else (math.inf if raw else 1.0)
