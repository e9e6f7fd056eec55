"""Challenge payloads <-> protobuf `Record`, with the receiving side checking every field's type.

Challenge specs, commitments, opening requests and openings are frozen dataclasses made of ints, floats,
str, bytes and lists/tuples of those (see poai/challenges). They travel as a generic `Record` so that a new
challenge kind needs no protocol change; the price is that the schema is checked here, on decode, against
the dataclass's type hints. A node that sends a string where an int belongs, an unknown field or a missing
one gets a `WireFormatError` with the field path, never a TypeError deep inside a verifier.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar, Union

from edge_sdk.errors import EdgeProofError
from poai._proto import poai_pb2 as pb
from poai.identity import NodeClaim

T = TypeVar("T")


class WireFormatError(EdgeProofError, ValueError):
    """A message that does not match the protocol (wrong type, unknown or missing field, bad nesting)."""


_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
MAX_DEPTH = 8


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_python_scalar(v: Any) -> Any:
    """numpy scalars (np.int64, np.float32, ...) -> Python scalars; leaves everything else alone."""
    item = getattr(v, "item", None)
    if item is not None and type(v).__module__ == "numpy" and getattr(v, "shape", None) == ():
        return item()
    return v


def to_value(v: Any, _depth: int = 0) -> pb.Value:
    if _depth > MAX_DEPTH:
        raise WireFormatError("payload nested too deeply to encode")
    v = _as_python_scalar(v)
    if v is None:
        return pb.Value(none=True)
    if isinstance(v, bool):
        return pb.Value(flag=v)
    if _is_int(v):
        if _INT64_MIN <= v <= _INT64_MAX:
            return pb.Value(int=v)
        return pb.Value(bigint=str(v))
    if isinstance(v, float):
        return pb.Value(float=v)
    if isinstance(v, str):
        return pb.Value(str=v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return pb.Value(raw=bytes(v))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return pb.Value(record=to_record(v, _depth + 1))
    if isinstance(v, dict):
        rec = pb.Record(type="dict")
        for key, item in v.items():
            if not isinstance(key, str):
                raise WireFormatError(f"dict keys must be str to travel, got {type(key).__name__}")
            rec.fields[key].CopyFrom(to_value(item, _depth + 1))
        return pb.Value(record=rec)
    if isinstance(v, (list, tuple)) or type(v).__module__ == "numpy":
        items = [_as_python_scalar(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
        if items and all(_is_int(x) and _INT64_MIN <= x <= _INT64_MAX for x in items):
            return pb.Value(ints=pb.IntList(values=items))
        if items and all(isinstance(x, float) for x in items):
            return pb.Value(floats=pb.FloatList(values=items))
        if items and all(isinstance(x, (bytes, bytearray)) for x in items):
            return pb.Value(blobs=pb.BytesList(values=[bytes(x) for x in items]))
        if items and all(isinstance(x, str) for x in items):
            return pb.Value(strs=pb.StrList(values=items))
        return pb.Value(list=pb.ValueList(values=[to_value(x, _depth + 1) for x in items]))
    raise WireFormatError(f"cannot encode a {type(v).__name__} in a challenge payload")


def to_record(obj: Any, _depth: int = 0) -> pb.Record:
    """Encode a dataclass instance (fields only; computed properties are recomputed on the other side)."""
    if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        raise WireFormatError(f"expected a dataclass instance, got {type(obj).__name__}")
    rec = pb.Record(type=type(obj).__name__)
    for f in dataclasses.fields(obj):
        rec.fields[f.name].CopyFrom(to_value(getattr(obj, f.name), _depth))
    return rec


def from_value(value: pb.Value, _depth: int = 0) -> Any:
    """Decode without a schema (lists come back as lists)."""
    if _depth > MAX_DEPTH:
        raise WireFormatError("payload nested too deeply")
    kind = value.WhichOneof("kind")
    if kind is None:
        raise WireFormatError("empty value")
    if kind == "none":
        return None
    if kind in ("int", "float", "str", "raw", "flag"):
        return getattr(value, kind)
    if kind == "bigint":
        try:
            return int(value.bigint)
        except ValueError:
            raise WireFormatError("bigint value is not a decimal integer") from None
    if kind in ("ints", "floats", "blobs", "strs"):
        return list(getattr(value, kind).values)
    if kind == "list":
        return [from_value(x, _depth + 1) for x in value.list.values]
    if kind == "record":
        return {k: from_value(v, _depth + 1) for k, v in value.record.fields.items()}
    raise WireFormatError(f"unknown value kind {kind!r}")  # pragma: no cover - new proto field


@functools.lru_cache(maxsize=256)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_record(cls: type[T], rec: pb.Record, _depth: int = 0, _path: str = "") -> T:
    """Decode `rec` into `cls`, checking the type name, the field set and every field's type."""
    where = _path or cls.__name__
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if rec.type != cls.__name__:
        raise WireFormatError(f"{where}: expected a {cls.__name__} record, got {rec.type or 'an untyped'!r}")
    hints = _hints(cls)
    init_fields = [f for f in dataclasses.fields(cls) if f.init]
    names = {f.name for f in init_fields}
    got = set(rec.fields.keys())
    unknown = sorted(got - names)
    if unknown:
        raise WireFormatError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = sorted(
        f.name
        for f in init_fields
        if f.name not in got and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    )
    if missing:
        raise WireFormatError(f"{where}: missing field(s) {', '.join(missing)}")
    kwargs = {
        name: _coerce(
            from_value(rec.fields[name], _depth + 1),
            hints.get(name, Any),
            f"{where}.{name}",
            rec.fields[name],
            _depth + 1,
        )
        for name in got
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"{where}: rejected by {cls.__name__}: {exc}") from None


def _coerce(v: Any, hint: Any, path: str, raw: pb.Value | None, depth: int) -> Any:
    """Check `v` against a type hint and convert containers (list -> tuple, dict -> nested dataclass)."""
    if hint is Any or hint is object:
        return v
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Union or (hasattr(types, "UnionType") and isinstance(hint, types.UnionType)):
        for option in args:
            try:
                return _coerce(v, option, path, raw, depth)
            except WireFormatError:
                continue
        raise WireFormatError(f"{path}: {type(v).__name__} matches none of {hint}")
    if hint is type(None):
        if v is None:
            return None
        raise WireFormatError(f"{path}: expected None, got {type(v).__name__}")
    if origin is typing.Literal:
        if v in args:
            return v
        raise WireFormatError(f"{path}: {v!r} is not one of {args}")
    if hint is bool:
        if isinstance(v, bool):
            return v
        raise WireFormatError(f"{path}: expected bool, got {type(v).__name__}")
    if hint is int:
        if _is_int(v):
            return v
        raise WireFormatError(f"{path}: expected int, got {type(v).__name__}")
    if hint is float:
        if _is_int(v) or isinstance(v, float):
            return float(v)
        raise WireFormatError(f"{path}: expected float, got {type(v).__name__}")
    if hint is str:
        if isinstance(v, str):
            return v
        raise WireFormatError(f"{path}: expected str, got {type(v).__name__}")
    if hint is bytes:
        if isinstance(v, bytes):
            return v
        raise WireFormatError(f"{path}: expected bytes, got {type(v).__name__}")
    if dataclasses.is_dataclass(hint):
        if raw is None or raw.WhichOneof("kind") != "record":
            raise WireFormatError(f"{path}: expected a {hint.__name__} record")
        return from_record(hint, raw.record, depth, path)
    if origin in (list, tuple, typing.Sequence, _abc_sequence()) or hint in (list, tuple):
        if not isinstance(v, list):
            raise WireFormatError(f"{path}: expected a list, got {type(v).__name__}")
        raw_items: list[pb.Value | None]
        if raw is not None and raw.WhichOneof("kind") == "list":
            raw_items = list(raw.list.values)
        else:
            raw_items = [None] * len(v)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(v):
                raise WireFormatError(f"{path}: expected {len(args)} items, got {len(v)}")
            item_hints = list(args)
        else:
            item_hints = [args[0] if args else Any] * len(v)
        items = [
            _coerce(x, h, f"{path}[{i}]", r, depth + 1)
            for i, (x, h, r) in enumerate(zip(v, item_hints, raw_items))
        ]
        return list(items) if origin is list or hint is list else tuple(items)
    if origin is dict or hint is dict:
        if not isinstance(v, dict):
            raise WireFormatError(f"{path}: expected a mapping, got {type(v).__name__}")
        vh = args[1] if len(args) == 2 else Any
        raw_fields = raw.record.fields if raw is not None and raw.WhichOneof("kind") == "record" else {}
        return {k: _coerce(x, vh, f"{path}.{k}", raw_fields.get(k), depth + 1) for k, x in v.items()}
    # Anything else (e.g. a NewType or a class we do not know): accept as decoded.
    return v


@functools.lru_cache(maxsize=1)
def _abc_sequence() -> Any:
    import collections.abc

    return collections.abc.Sequence


# ------------------------------------------------------------------------------------- claim


def claim_to_pb(claim: NodeClaim) -> pb.Claim:
    """identity.NodeClaim -> the Claim message (every field, so the signed bytes can be rebuilt)."""
    return pb.Claim(
        device_kind=claim.device_kind,
        device_model=claim.device_model,
        memory_bytes=int(claim.memory_bytes),
        claimed_tflops=float(claim.claimed_tflops),
        backends=list(claim.backends),
        agent_version=claim.agent_version,
    )


def claim_from_pb(msg: pb.Claim) -> NodeClaim:
    """The Claim message -> identity.NodeClaim (checked later by NodeClaim.problems())."""
    return NodeClaim(
        device_kind=msg.device_kind,
        device_model=msg.device_model,
        memory_bytes=int(msg.memory_bytes),
        claimed_tflops=float(msg.claimed_tflops),
        backends=tuple(msg.backends),
        agent_version=msg.agent_version,
    )
