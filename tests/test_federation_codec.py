"""The update codec: exact round trips, the int8 error bound, the documented byte layout (checked by an
independent decoder), compression on LoRA-like deltas and refusal of hostile payloads."""

from __future__ import annotations

import math
import struct
import time
import zlib

import numpy as np
import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation.codec import (
    ENCODINGS,
    CodecError,
    EncodedTensor,
    compression_ratio,
    decode_tensor,
    decode_tensors,
    encode_tensor,
    encode_tensors,
)

SHAPES = [(), (0,), (7,), (0, 5), (5, 0), (4, 1), (3, 5), (2, 3, 4)]


def _lora_like(seed: int = 0) -> dict[str, np.ndarray]:
    """LoRA deltas of a small model: Gaussian values with a per-row spread, like an adapter update."""
    rng = np.random.default_rng(seed)
    shapes = {"q_proj.lora_A": (16, 576), "q_proj.lora_B": (576, 16), "up_proj.lora_A": (16, 576),
              "up_proj.lora_B": (1536, 16), "down_proj.lora_A": (16, 1536), "down_proj.lora_B": (576, 16)}
    return {k: (rng.normal(0, 1e-3, s) * rng.uniform(0.5, 2.0, (s[0], 1))).astype(np.float32)
            for k, s in shapes.items()}


def _reference_decode(shape: tuple[int, ...], encoding: str, data: bytes) -> np.ndarray:
    """Decoder written from the module docstring only: struct + zlib, one float32 multiply per element."""
    n = math.prod(shape)
    if encoding == "float32":
        vals = struct.unpack(f"<{n}f", data)
        return np.array(vals, dtype=np.float32).reshape(shape)
    if encoding == "float32_zlib":
        return _reference_decode(shape, "float32", zlib.decompress(data))
    if len(shape) < 2:
        rows, cols = 1, n  # a scalar is 1x1, a vector one row
    else:
        rows, cols = shape[0], math.prod(shape[1:])
    plain = zlib.decompress(data)
    assert len(plain) == 4 * rows + rows * cols
    scales = struct.unpack(f"<{rows}f", plain[:4 * rows])
    qs = struct.unpack(f"<{rows * cols}b", plain[4 * rows:])
    out = [np.float32(qs[r * cols + c]) * np.float32(scales[r]) for r in range(rows) for c in range(cols)]
    return np.array(out, dtype=np.float32).reshape(shape)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_keeps_shape_and_dtype(shape, encoding):
    x = np.asarray(np.random.default_rng(1).normal(size=shape), dtype=np.float32)
    t = encode_tensor("w", x, encoding)
    assert t.shape == shape and t.raw_bytes == 4 * math.prod(shape)
    y = decode_tensor(t)
    assert y.shape == shape and y.dtype == np.float32
    if encoding != "int8_zlib":
        assert np.array_equal(x.view(np.uint32), y.view(np.uint32))  # bit-exact, -0.0 included


def test_float32_is_raw_little_endian_row_major():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    expected = struct.pack("<6f", *x.ravel().tolist())
    assert encode_tensor("w", x, "float32").data == expected
    assert zlib.decompress(encode_tensor("w", x, "float32_zlib").data) == expected
    assert encode_tensor("w", np.asfortranarray(x), "float32").data == expected


def test_int8_error_is_at_most_half_a_step_of_its_row():
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(64, 300)) * rng.uniform(1e-4, 10, (64, 1))).astype(np.float32)
    x[3] = 0.0  # an all-zero row: scale 0, decodes to exact zeros
    t = encode_tensor("w", x, "int8_zlib")
    y = decode_tensor(t)
    plain = zlib.decompress(t.data)
    scales = np.frombuffer(plain[:4 * 64], dtype="<f4")
    assert scales[3] == 0 and not y[3].any()
    np.testing.assert_array_equal(scales, (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32))
    err = np.abs(x.astype(np.float64) - y)
    assert (err <= scales[:, None].astype(np.float64) / 2 * (1 + 1e-6) + 1e-30).all()
    q = np.frombuffer(plain[4 * 64:], dtype=np.int8)
    assert q.min() >= -127 and q.max() <= 127
    assert (np.abs(q.reshape(64, 300)).max(axis=1)[[0, 1, 2]] == 127).all()  # each row's max hits 127


def test_int8_rounds_half_to_even():
    # row max 127 gives scale exactly 1, so x / s is x: halves land on the even neighbour
    x = np.array([[127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5]], dtype=np.float32)
    q = np.frombuffer(zlib.decompress(encode_tensor("w", x, "int8_zlib").data)[4:], dtype=np.int8)
    assert q.tolist() == [127, 0, 2, 2, 0, -2, -2]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_independent_decoder_from_the_documented_layout_is_bit_identical(encoding):
    rng = np.random.default_rng(3)
    tensors = {"a": rng.normal(size=(5, 7)), "b": rng.normal(size=(9,)) * 1e-3, "c": np.float32(2.5),
               "d": rng.normal(size=(3, 2, 4)), "z": np.zeros((2, 3))}
    for t in encode_tensors(tensors, encoding):
        ours = decode_tensor(t)
        ref = _reference_decode(t.shape, t.encoding, t.data)
        assert np.array_equal(ours.view(np.uint32), ref.view(np.uint32)), t.name


def test_int8_zlib_shrinks_lora_deltas_at_least_3_5x():
    tensors = _lora_like()
    ratio = compression_ratio(encode_tensors(tensors, "int8_zlib"))
    assert ratio >= 3.5, ratio
    assert compression_ratio(encode_tensors(tensors, "float32")) == 1.0


def test_encode_tensors_is_sorted_and_decode_tensors_round_trips():
    tensors = _lora_like(4)
    enc = encode_tensors(tensors, "float32_zlib")
    assert [t.name for t in enc] == sorted(tensors)
    out = decode_tensors(enc)
    assert out.keys() == tensors.keys() and all(np.array_equal(out[k], tensors[k]) for k in tensors)


def test_encode_refuses_nan_and_unknown_encoding():
    with pytest.raises(CodecError, match="'w'.*NaN"):
        encode_tensor("w", np.array([1.0, np.nan]), "int8_zlib")
    with pytest.raises(CodecError, match="unknown encoding 'fp8'"):
        encode_tensor("w", np.ones(3), "fp8")


# ---------------------------------------------------------------- hostile input


def _int8_payload(scales: list[float], qs: list[int]) -> bytes:
    return zlib.compress(struct.pack(f"<{len(scales)}f", *scales) + struct.pack(f"<{len(qs)}b", *qs))


def test_codec_error_is_an_invalid_request():
    assert issubclass(CodecError, InvalidRequestError)


BAD_PAYLOADS = [
    ("float32", b"\0" * 20, "'w': 20 bytes of float32 data, its shape needs 24"),
    ("float32", b"\0" * 28, "'w': 28 bytes"),
    ("float32_zlib", zlib.compress(b"\0" * 20), "'w': data decompresses to 20 bytes, its shape needs 24"),
    ("float32_zlib", zlib.compress(b"\0" * 28), "'w': data decompresses to more than the 24 bytes"),
    ("float32_zlib", zlib.compress(b"\0" * 24) + b"junk", "'w': 4 trailing bytes after the zlib stream"),
    ("float32_zlib", zlib.compress(b"\0" * 24)[:-3], "'w': zlib stream is truncated"),
    ("float32_zlib", b"not zlib at all", "'w': data is not a valid zlib stream"),
    ("int8_zlib", _int8_payload([1.0, 1.0], [0] * 5), "'w': data decompresses to 13 bytes, its shape needs"),
    ("int8_zlib", _int8_payload([float("nan"), 1.0], [0] * 6), "'w': a row scale is NaN"),
    ("int8_zlib", _int8_payload([float("inf"), 1.0], [0] * 6), "'w': a row scale is NaN, infinite"),
    ("int8_zlib", _int8_payload([-1.0, 1.0], [0] * 6), "'w': a row scale is .*negative"),
    ("int8_zlib", _int8_payload([1.0, 1.0], [-128] + [0] * 5), "'w': quantised value -128"),
    ("int8_zlib", _int8_payload([3e38, 1.0], [127] * 6), "'w': decoded values include NaN or infinity"),
    ("float32", struct.pack("<6f", *[0.0] * 5, float("nan")), "'w': decoded values include NaN"),
    ("bfloat16", b"", "'w': unknown encoding 'bfloat16'"),
]


@pytest.mark.parametrize("encoding, data, match", BAD_PAYLOADS,
                         ids=[f"{e}:{m[5:40]}" for e, _, m in BAD_PAYLOADS])
def test_bad_payloads_are_rejected_with_the_tensor_named(encoding, data, match):
    with pytest.raises(CodecError, match=match):
        decode_tensor(EncodedTensor("w", (2, 3), encoding, data))


@pytest.mark.parametrize("shape, match", [((2, -3), "negative dimension"),
                                          ((2, "3"), "not a list of integers"),
                                          ((2.0, 3), "not a list of integers")])
def test_bad_shapes_are_rejected(shape, match):
    with pytest.raises(CodecError, match=match):
        decode_tensor(EncodedTensor("w", shape, "float32", b""))


def test_huge_shape_is_refused_before_allocating():
    t = EncodedTensor("w", (10**9, 10**9), "int8_zlib", zlib.compress(b"\0" * 16))
    with pytest.raises(CodecError, match=r"'w': shape \(1000000000, 1000000000\) has 1000000000000000000 "):
        decode_tensor(t, max_elements=10_000_000)
    small = encode_tensors({"a": np.ones((4, 4)), "b": np.ones((4, 4))}, "float32")
    assert decode_tensors(small, max_elements=32).keys() == {"a", "b"}
    with pytest.raises(CodecError, match="32 elements in all, more than the 31 allowed"):
        decode_tensors(small, max_elements=31)  # the cap is on the whole update


def test_zip_bomb_is_refused_quickly():
    comp = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    bomb = b"".join(comp.compress(chunk) for _ in range(100)) + comp.flush()  # 100 MiB of zeros
    assert len(bomb) < 200_000
    for encoding in ("float32_zlib", "int8_zlib"):
        start = time.perf_counter()
        with pytest.raises(CodecError, match="decompresses to more than"):
            decode_tensor(EncodedTensor("w", (16, 576), encoding, bomb), max_elements=1 << 20)
        assert time.perf_counter() - start < 0.5


def test_duplicate_names_are_rejected():
    t = encode_tensor("w", np.ones(2), "float32")
    with pytest.raises(CodecError, match="more than once: 'w'"):
        decode_tensors([t, t])
