"""Challenge payloads survive the protobuf Record encoding, and malformed records are refused by field."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from poai._proto import poai_pb2 as pb
from poai.challenges import compute
from poai.challenges.common import Budget
from poai.wire import WireFormatError, from_record, to_record


@dataclass(frozen=True)
class Inner:
    a: int
    b: bytes


@dataclass(frozen=True)
class Outer:
    i: int
    f: float
    s: str
    raw: bytes
    ints: tuple[int, ...]
    blobs: tuple[bytes, ...]
    floats: list[float]
    nested: tuple[Inner, ...]
    pair: tuple[int, str]
    maybe: int | None = None
    big: int = 0


def _sample() -> Outer:
    return Outer(
        -3,
        2.5,
        "x",
        b"\x00\xff",
        (1, -2, 2**62),
        (b"", b"ab"),
        [0.5, -1.25],
        (Inner(1, b"z"),),
        (7, "y"),
        None,
        2**130,
    )


def test_roundtrip_through_bytes() -> None:
    obj = _sample()
    wire = to_record(obj).SerializeToString()
    back = from_record(Outer, pb.Record.FromString(wire))
    assert back == obj
    assert isinstance(back.ints, tuple) and isinstance(back.floats, list)


def test_real_compute_messages_roundtrip() -> None:
    rng = np.random.default_rng(1)
    spec = compute.make_spec(Budget.lightweight(), rng)
    work = compute.NodeWork(spec, "cpu")
    commitment = work.run()
    request = compute.choose_openings(spec, commitment, rng)
    opening = work.open(request)
    for cls, obj in (
        (compute.ComputeSpec, spec),
        (compute.ComputeCommitment, commitment),
        (compute.ComputeRequest, request),
        (compute.ComputeOpening, opening),
    ):
        assert from_record(cls, pb.Record.FromString(to_record(obj).SerializeToString())) == obj
    check = compute.verify(spec, commitment, request, from_record(compute.ComputeOpening, to_record(opening)))
    assert check.passed, check.reason


def test_numpy_scalars_encode_as_python_values() -> None:
    rec = to_record(Inner(np.int64(5), b"q"))  # type: ignore[arg-type]
    assert from_record(Inner, rec) == Inner(5, b"q")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.fields["i"].CopyFrom(pb.Value(str="1")), "Outer.i: expected int, got str"),
        (lambda r: r.fields["raw"].CopyFrom(pb.Value(int=1)), "Outer.raw: expected bytes"),
        (lambda r: r.fields["ints"].CopyFrom(pb.Value(strs=pb.StrList(values=["a"]))), r"Outer.ints\[0\]"),
        (
            lambda r: r.fields["pair"].CopyFrom(pb.Value(ints=pb.IntList(values=[1, 2, 3]))),
            "expected 2 items",
        ),
        (lambda r: r.fields["flag"].CopyFrom(pb.Value(flag=True)), "unknown field"),
        (lambda r: r.fields.pop("s"), "missing field"),
        (lambda r: setattr(r, "type", "Other"), "expected a Outer record"),
        (
            lambda r: r.fields["nested"].list.values[0].record.fields["a"].CopyFrom(pb.Value(raw=b"")),
            r"Outer.nested\[0\].a",
        ),
        (lambda r: r.fields["f"].CopyFrom(pb.Value()), "empty value"),
        (lambda r: r.fields["big"].CopyFrom(pb.Value(bigint="12x")), "bigint"),
    ],
)
def test_malformed_records_name_the_field(mutate, message: str) -> None:
    rec = to_record(_sample())
    mutate(rec)
    with pytest.raises(WireFormatError, match=message):
        from_record(Outer, rec)


def test_dataclass_validation_errors_become_wire_errors() -> None:
    rng = np.random.default_rng(2)
    rec = to_record(compute.make_spec(Budget.lightweight(), rng))
    rec.fields["seed"].CopyFrom(pb.Value(raw=b"short"))
    with pytest.raises(WireFormatError, match="rejected by ComputeSpec"):
        from_record(compute.ComputeSpec, rec)


def test_bool_is_not_an_int_and_deep_nesting_is_refused() -> None:
    rec = to_record(Inner(1, b""))
    rec.fields["a"].CopyFrom(pb.Value(flag=True))
    with pytest.raises(WireFormatError, match="expected int, got bool"):
        from_record(Inner, rec)
    value = pb.Value(int=1)
    for _ in range(20):
        value = pb.Value(list=pb.ValueList(values=[value]))
    rec.fields["a"].CopyFrom(value)
    with pytest.raises(WireFormatError, match="nested too deeply"):
        from_record(Inner, rec)
