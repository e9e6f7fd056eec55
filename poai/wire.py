"""Challenge payloads <-> the typed protobuf messages of protocol v2, with every received field checked.

Every payload dataclass of poai/challenges (ComputeSpec, MemoryOpening, InferenceAnswer, TokenTick, ...) has a
message of the same name in proto/poai.proto. The codec maps the two field by field, by name, through the
message descriptor, so it follows the dataclasses: a field added to a dataclass needs the same field in the
.proto, and a mismatch is a `WireFormatError` naming the field, never a silent drop.

    msg = to_pb(spec)                                   # dataclass -> pb.ComputeSpec
    env = spec_message("compute-1a2b", spec, deadline_s=30.0, max_reply_bytes=16384)   # -> pb.ChallengeSpec
    spec = from_pb(ComputeSpec, env)                    # envelope (or payload message) -> dataclass, checked

Checks on decode (each failure is a WireFormatError whose message starts with the field path, e.g.
"Commitment.inference.logprobs[0][3]: not finite"):
- the envelope carries the payload the receiver expects at this step (right oneof case, present);
- lengths: `(max_len)` of strings/bytes and `(max_items)` of repeated fields, read from the .proto options;
- doubles finite; integers within the proto type (uint32 / uint64 fields cannot carry anything else);
- a set field the dataclass does not know is refused (a newer peer's data is never dropped silently);
- the dataclass's own validation (`__post_init__`) runs last; its ValueError becomes a WireFormatError.
Encoding checks the same things on the way out (a node learns of a bad answer before sending it).

Message-size limits per protocol step (`reply_limit`, `HELLO_MAX_BYTES`, `CONTROL_MAX_BYTES`) are defined here
too: the challenger checks the size of the raw bytes before parsing anything (see poai/challenger/stream.py).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from edge_sdk.errors import EdgeProofError
from poai._proto import poai_pb2 as pb
from poai.claim import NodeClaim

T = TypeVar("T")

PROTOCOL_VERSION = 2
SESSION_METHOD = "/edgeproof.poai.v2.Challenger/Session"
V1_SERVICE = "edgeproof.poai.v1.Challenger"
V1_REFUSAL = (
    "protocol v1 is no longer accepted by this challenger; upgrade the node agent (edgeproof >= 0.2) to "
    "protocol v2 (edgeproof.poai.v2.Challenger/Session)"
)

# Largest whole NodeMessage accepted at each step, checked on the raw bytes before parsing (PROTOCOL.md).
HELLO_MAX_BYTES = 64 << 10  # before the node is authenticated: a real hello is ~1 KiB
CONTROL_MAX_BYTES = 16 << 10  # pongs, node errors, Merkle-root commitments
NODE_ERROR_MAX_CHARS = 1000  # the node truncates its reason to this (the field allows 1024 bytes)


class WireFormatError(EdgeProofError, ValueError):
    """A message that does not match the protocol; the message starts with the offending field's path."""


# ------------------------------------------------------------------------------------- descriptors

_INT_RANGES = {
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
}
_FLOAT_TYPES = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)

# Python attribute -> wire field where the wire name says more precisely what is measured (issue 6, item 8).
_WIRE_NAMES: dict[tuple[str, str], str] = {("ComputeSpec", "claimed_tflops"): "claimed_matmul_tops"}

# Envelope message -> the oneof that carries its payload.
_PAYLOAD_ONEOFS = {
    "ChallengeSpec": "spec",
    "OpeningRequest": "request",
    "Commitment": "commitment",
    "Opening": "opening",
    "Partial": "item",
}


def _kind(fd: FieldDescriptor) -> str:
    """"int" | "float" | "bool" | "str" | "bytes" | "message" for a field descriptor."""
    t = fd.type
    if t in _INT_RANGES:
        return "int"
    if t in _FLOAT_TYPES:
        return "float"
    if t == FieldDescriptor.TYPE_BOOL:
        return "bool"
    if t == FieldDescriptor.TYPE_STRING:
        return "str"
    if t == FieldDescriptor.TYPE_BYTES:
        return "bytes"
    if t == FieldDescriptor.TYPE_MESSAGE:
        return "message"
    raise WireFormatError(f"{fd.full_name}: unsupported field type {t}")  # pragma: no cover - enums


@functools.lru_cache(maxsize=None)
def _limits(fd: FieldDescriptor) -> tuple[int, int]:
    """(max_len, max_items) from the field's options; 0 means no limit of that kind."""
    opts = fd.GetOptions()
    return int(opts.Extensions[pb.max_len]), int(opts.Extensions[pb.max_items])


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _list_wrapper(desc: Descriptor) -> FieldDescriptor | None:
    """The single repeated field of a message used as a list (TokenIds, Logprobs), else None."""
    if len(desc.fields) == 1 and desc.fields[0].is_repeated and not _is_map(desc.fields[0]):
        return desc.fields[0]
    return None


def message_class(name: str) -> type[Message]:
    """The generated message class called `name` ("ComputeSpec")."""
    if name not in pb.DESCRIPTOR.message_types_by_name:
        raise WireFormatError(f"{name}: protocol v2 has no message of that name")
    return getattr(pb, name)


# -------------------------------------------------------------------------------- scalar checks


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _py(v: Any) -> Any:
    """numpy scalars (np.int64, np.float32, ...) -> Python scalars; leaves everything else alone."""
    item = getattr(v, "item", None)
    if item is not None and type(v).__module__ == "numpy" and getattr(v, "shape", None) == ():
        return item()
    return v


def _check_len(fd: FieldDescriptor, v: str | bytes, path: str) -> None:
    max_len = _limits(fd)[0]
    if max_len:
        n = len(v.encode("utf-8", "surrogatepass")) if isinstance(v, str) else len(v)
        if n > max_len:
            raise WireFormatError(f"{path}: {n} bytes, more than the {max_len} allowed")


def _check_count(fd: FieldDescriptor, n: int, path: str) -> None:
    max_items = _limits(fd)[1]
    if max_items and n > max_items:
        raise WireFormatError(f"{path}: {n} items, more than the {max_items} allowed")


def _encode_scalar(fd: FieldDescriptor, v: Any, path: str) -> Any:
    """Check one Python value against a scalar field and return what to store."""
    v = _py(v)
    kind = _kind(fd)
    if kind == "bytes":
        if not isinstance(v, (bytes, bytearray, memoryview)):
            raise WireFormatError(f"{path}: expected bytes, got {type(v).__name__}")
        v = bytes(v)
    elif kind == "str":
        if not isinstance(v, str):
            raise WireFormatError(f"{path}: expected str, got {type(v).__name__}")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise WireFormatError(f"{path}: not encodable as UTF-8") from None
    elif kind == "bool":
        if not isinstance(v, bool):
            raise WireFormatError(f"{path}: expected bool, got {type(v).__name__}")
        return v
    elif kind == "int":
        if not _is_int(v):
            raise WireFormatError(f"{path}: expected int, got {type(v).__name__}")
        lo, hi = _INT_RANGES[fd.type]
        if not lo <= v <= hi:
            raise WireFormatError(f"{path}: {v} is outside [{lo}, {hi}]")
        return v
    elif kind == "float":
        if not (_is_int(v) or isinstance(v, float)):
            raise WireFormatError(f"{path}: expected float, got {type(v).__name__}")
        try:
            v = float(v)
        except OverflowError:
            raise WireFormatError(f"{path}: {v} does not fit a double") from None
        if not math.isfinite(v):
            raise WireFormatError(f"{path}: not finite ({v})")
        return v
    _check_len(fd, v, path)
    return v


def _check_received(fd: FieldDescriptor, v: Any, path: str) -> None:
    """Checks a received scalar needs beyond what protobuf's own types guarantee."""
    if fd.type in _FLOAT_TYPES:
        if not math.isfinite(v):
            raise WireFormatError(f"{path}: not finite ({v})")
    elif fd.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        _check_len(fd, v, path)


def _check_received_list(fd: FieldDescriptor, values: Sequence[Any], path: str) -> None:
    _check_count(fd, len(values), path)
    if fd.type in _FLOAT_TYPES:
        if not all(map(math.isfinite, values)):
            bad = next(i for i, x in enumerate(values) if not math.isfinite(x))
            raise WireFormatError(f"{path}[{bad}]: not finite ({values[bad]})")
    elif fd.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES) and _limits(fd)[0]:
        for i, x in enumerate(values):
            _check_len(fd, x, f"{path}[{i}]")


def check_message(msg: Message, path: str | None = None) -> None:
    """Check every set field of `msg` (recursively) against the protocol's limits: lengths, counts, finite
    doubles. Payload decoding (`from_pb`) checks the same; this covers the envelopes (Hello, Pong, ...)."""
    where = path or msg.DESCRIPTOR.name
    for fd, value in msg.ListFields():
        p = f"{where}.{fd.name}"
        if _is_map(fd):
            continue  # only CheckSummary.metrics (challenger -> node, informative)
        if fd.is_repeated:
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                _check_count(fd, len(value), p)
                inner = _list_wrapper(fd.message_type)
                for i, sub in enumerate(value):
                    if inner is not None:  # a nested list (TokenIds, Logprobs): path a[i][j] as in from_pb
                        _check_received_list(inner, getattr(sub, inner.name), f"{p}[{i}]")
                    else:
                        check_message(sub, f"{p}[{i}]")
            else:
                _check_received_list(fd, value, p)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            check_message(value, p)
        else:
            _check_received(fd, value, p)


# ----------------------------------------------------------------------------- dataclass plans


@dataclass(frozen=True)
class _Field:
    attr: str  # dataclass attribute
    fd: FieldDescriptor  # wire field
    shape: str  # "scalar" | "list" | "nested" | "message"
    container: type  # tuple or list (list shapes); the dataclass (message shape)
    inner: FieldDescriptor | None = None  # nested: the wrapper's repeated field
    inner_container: type = tuple


def _seq_arg(hint: Any) -> tuple[type, Any] | None:
    """(container, element hint) for tuple[X, ...] / list[X] / Sequence[X], else None."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple, args[0]
    if origin is list and len(args) == 1:
        return list, args[0]
    if origin in (Sequence, typing.Sequence) and len(args) == 1:
        return tuple, args[0]
    return None


def _hint_kind(hint: Any) -> str | None:
    return {int: "int", float: "float", bool: "bool", str: "str", bytes: "bytes"}.get(hint)


@functools.lru_cache(maxsize=256)
def _plan(cls: type) -> tuple[Descriptor, tuple[_Field, ...], frozenset[str]]:
    """How `cls` maps onto its message: checked once per class (a mismatch is a WireFormatError)."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise WireFormatError(f"{cls!r} is not a dataclass")
    name = cls.__name__
    desc = message_class(name).DESCRIPTOR
    hints = typing.get_type_hints(cls)
    plan: list[_Field] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        wire = _WIRE_NAMES.get((name, f.name), f.name)
        fd = desc.fields_by_name.get(wire)
        where = f"{name}.{f.name}"
        if fd is None:
            raise WireFormatError(
                f"{where}: message {desc.full_name} has no field {wire!r} (dataclass and .proto disagree)"
            )
        hint = hints.get(f.name, Any)
        seq = _seq_arg(hint)
        kind = _kind(fd)
        if not fd.is_repeated:
            if kind == "message":
                if not dataclasses.is_dataclass(hint) or hint.__name__ != fd.message_type.name:
                    raise WireFormatError(f"{where}: expected a {fd.message_type.name} dataclass, got {hint}")
                plan.append(_Field(f.name, fd, "message", hint))
            elif _hint_kind(hint) == kind:
                plan.append(_Field(f.name, fd, "scalar", object))
            else:
                raise WireFormatError(f"{where}: type {hint} does not match the wire type ({kind})")
            continue
        if seq is None:
            raise WireFormatError(f"{where}: a repeated wire field needs a tuple/list type, got {hint}")
        container, elem = seq
        if kind != "message":
            if _hint_kind(elem) != kind:
                raise WireFormatError(f"{where}: element type {elem} does not match the wire type ({kind})")
            plan.append(_Field(f.name, fd, "list", container))
            continue
        inner = _list_wrapper(fd.message_type)
        inner_seq = _seq_arg(elem)
        if inner is None or inner_seq is None or _hint_kind(inner_seq[1]) != _kind(inner):
            raise WireFormatError(f"{where}: type {hint} does not match the wire type {fd.message_type.name}")
        plan.append(_Field(f.name, fd, "nested", container, inner, inner_seq[0]))
    return desc, tuple(plan), frozenset(p.fd.name for p in plan)


# ------------------------------------------------------------------------------------------ encode


def _as_list(v: Any, path: str) -> list[Any]:
    if isinstance(v, (str, bytes, bytearray)):
        raise WireFormatError(f"{path}: expected a list, got {type(v).__name__}")
    if hasattr(v, "tolist"):
        return list(v.tolist())
    if not isinstance(v, (list, tuple)):
        raise WireFormatError(f"{path}: expected a list, got {type(v).__name__}")
    return list(v)


def to_pb(obj: Any) -> Message:
    """A payload dataclass -> its typed message (same name in proto/poai.proto), checked on the way out."""
    cls = type(obj)
    _, plan, _ = _plan(cls)
    msg = message_class(cls.__name__)()
    name = cls.__name__
    for p in plan:
        value = getattr(obj, p.attr)
        path = f"{name}.{p.attr}"
        if p.shape == "scalar":
            setattr(msg, p.fd.name, _encode_scalar(p.fd, value, path))
        elif p.shape == "message":
            getattr(msg, p.fd.name).CopyFrom(to_pb(value))
        elif p.shape == "list":
            items = _as_list(value, path)
            _check_count(p.fd, len(items), path)
            getattr(msg, p.fd.name).extend([_encode_scalar(p.fd, x, f"{path}[{i}]") for i, x in enumerate(items)])
        else:  # nested lists -> repeated wrapper messages
            outer = _as_list(value, path)
            _check_count(p.fd, len(outer), path)
            target = getattr(msg, p.fd.name)
            assert p.inner is not None
            for i, row in enumerate(outer):
                items = _as_list(row, f"{path}[{i}]")
                _check_count(p.inner, len(items), f"{path}[{i}]")
                getattr(target.add(), p.inner.name).extend(
                    [_encode_scalar(p.inner, x, f"{path}[{i}][{j}]") for j, x in enumerate(items)]
                )
    return msg


# ------------------------------------------------------------------------------------------ decode


def payload_of(envelope: Message) -> Message | None:
    """The payload message set in an envelope (ChallengeSpec, OpeningRequest, Commitment, Opening,
    Partial), or None when none is set."""
    oneof = _PAYLOAD_ONEOFS.get(envelope.DESCRIPTOR.name)
    if oneof is None:
        raise WireFormatError(f"{envelope.DESCRIPTOR.name} is not a payload envelope")
    case = envelope.WhichOneof(oneof)
    return None if case is None else getattr(envelope, case)


def payload_name(envelope: Message) -> str | None:
    """The type name of the payload an envelope carries ("NonceRequest"), or None."""
    payload = payload_of(envelope)
    return None if payload is None else payload.DESCRIPTOR.name


def from_pb(cls: type[T], msg: Message, path: str | None = None) -> T:
    """Decode a payload message, or the payload of an envelope, into `cls`, checking every field.

    The envelope must carry exactly the payload type `cls` (the receiver's expectation at this step)."""
    name = cls.__name__
    if msg.DESCRIPTOR.name in _PAYLOAD_ONEOFS:
        env = msg.DESCRIPTOR.name
        payload = payload_of(msg)
        if payload is None:
            raise WireFormatError(f"{path or env}: no payload (expected a {name})")
        case = msg.WhichOneof(_PAYLOAD_ONEOFS[env])
        if env == "ChallengeSpec" and msg.kind != case:  # type: ignore[attr-defined]
            raise WireFormatError(f"{path or env}.kind: {msg.kind!r} does not match its {case} spec")  # type: ignore[attr-defined]
        path = f"{path or env}.{case}"
        msg = payload
    where = path or name
    if msg.DESCRIPTOR.name != name:
        raise WireFormatError(f"{where}: expected a {name}, got a {msg.DESCRIPTOR.name}")
    desc, plan, known = _plan(cls)
    unknown = sorted(fd.name for fd, _ in msg.ListFields() if fd.name not in known)
    if unknown:
        raise WireFormatError(f"{where}: field(s) {', '.join(unknown)} are not understood by this node/challenger")
    kwargs: dict[str, Any] = {}
    for p in plan:
        fpath = f"{where}.{p.attr}"
        value = getattr(msg, p.fd.name)
        if p.shape == "scalar":
            _check_received(p.fd, value, fpath)
            kwargs[p.attr] = value
        elif p.shape == "message":
            if not msg.HasField(p.fd.name):
                raise WireFormatError(f"{fpath}: missing")
            kwargs[p.attr] = from_pb(p.container, value, fpath)
        elif p.shape == "list":
            values = list(value)
            _check_received_list(p.fd, values, fpath)
            kwargs[p.attr] = p.container(values)
        else:
            _check_count(p.fd, len(value), fpath)
            assert p.inner is not None
            rows = []
            for i, sub in enumerate(value):
                values = list(getattr(sub, p.inner.name))
                _check_received_list(p.inner, values, f"{fpath}[{i}]")
                rows.append(p.inner_container(values))
            kwargs[p.attr] = p.container(rows)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"{where}: rejected by {name}: {exc}") from None


# ---------------------------------------------------------------------------------------- envelopes


def _set_payload(envelope: Message, payload: Any) -> str:
    """Put `payload` (a dataclass or its message) in the envelope's oneof; returns the case name."""
    msg = payload if isinstance(payload, Message) else to_pb(payload)
    env = envelope.DESCRIPTOR
    oneof = env.oneofs_by_name[_PAYLOAD_ONEOFS[env.name]]
    for fd in oneof.fields:
        if fd.message_type.name == msg.DESCRIPTOR.name:
            getattr(envelope, fd.name).CopyFrom(msg)
            return fd.name
    raise WireFormatError(f"{env.name}: cannot carry a {msg.DESCRIPTOR.name}")


def spec_message(challenge_id: str, spec: Any, *, deadline_s: float, max_reply_bytes: int = 0) -> pb.ChallengeSpec:
    msg = pb.ChallengeSpec(
        challenge_id=challenge_id, deadline_s=float(deadline_s), max_reply_bytes=_u32(max_reply_bytes)
    )
    msg.kind = _set_payload(msg, spec)
    return msg


def request_message(
    challenge_id: str, round_no: int, request: Any, *, deadline_s: float, max_reply_bytes: int = 0
) -> pb.OpeningRequest:
    msg = pb.OpeningRequest(
        challenge_id=challenge_id,
        round=round_no,
        deadline_s=float(deadline_s),
        max_reply_bytes=_u32(max_reply_bytes),
    )
    _set_payload(msg, request)
    return msg


def commitment_message(challenge_id: str, commitment: Any) -> pb.Commitment:
    msg = pb.Commitment(challenge_id=challenge_id)
    _set_payload(msg, commitment)
    return msg


def opening_message(challenge_id: str, round_no: int, opening: Any) -> pb.Opening:
    msg = pb.Opening(challenge_id=challenge_id, round=round_no)
    _set_payload(msg, opening)
    return msg


def partial_message(challenge_id: str, seq: int, item: Any) -> pb.Partial:
    msg = pb.Partial(challenge_id=challenge_id, seq=seq)
    _set_payload(msg, item)
    return msg


def node_error(challenge_id: str, reason: str) -> pb.NodeError:
    """A NodeError whose reason fits the protocol's limit (truncated, never refused)."""
    return pb.NodeError(challenge_id=challenge_id[:64], reason=str(reason)[:NODE_ERROR_MAX_CHARS])


def _u32(v: int) -> int:
    return max(0, min(int(v), 2**32 - 1))


# -------------------------------------------------------------------------------------- node messages


def _parse_checked(cls: Any, data: bytes) -> Any:
    try:
        msg = cls.FromString(data)
    except DecodeError as exc:
        raise WireFormatError(f"{cls.__name__}: undecodable ({exc})") from None
    check_message(msg)
    return msg


def parse_node_message(data: bytes) -> pb.NodeMessage:
    """Raw bytes from the stream -> a NodeMessage whose fields all passed `check_message`."""
    return _parse_checked(pb.NodeMessage, data)


def parse_challenger_message(data: bytes) -> pb.ChallengerMessage:
    """Node side: raw bytes -> a checked ChallengerMessage (the node's response deserializer)."""
    return _parse_checked(pb.ChallengerMessage, data)


# --------------------------------------------------------------------------------------- size limits


def _proof_bytes(n_leaves: int) -> int:
    """Largest packed Merkle proof of one leaf of a tree of n_leaves (one 32-byte hash per level)."""
    return 32 * max(1, (max(1, n_leaves) - 1).bit_length())


def reply_limit(spec: Any, reply: type | str) -> int:
    """The largest NodeMessage (bytes) the challenger accepts when `reply` (a payload type or its name) is
    due for a challenge with this spec: what an honest answer can need, plus 12.5% and 16 KiB of margin.
    The gRPC message limit stays the outer cap. Formulas in PROTOCOL.md ("Message size limits")."""
    name = reply if isinstance(reply, str) else reply.__name__
    need = 0
    if name == "ComputeOpening":
        n, tr, tc = int(spec.n), int(spec.tile_rows), int(spec.tile_cols)
        leaves = int(spec.steps) * (n // max(tr, 1)) * (n // max(tc, 1))
        need = int(spec.openings) * (tr * tc + _proof_bytes(leaves) + 24)
    elif name == "MemoryOpening":
        blocks = int(spec.lanes) * int(spec.depth)
        need = int(spec.openings) * (2 * int(spec.block_bytes) + 3 * _proof_bytes(blocks) + 40)
    elif name == "InferenceAnswer":
        prompt_tokens = sum(len(p.encode()) for p in spec.prompts) + len(spec.prompts) * (
            len(str(getattr(spec, "system", "")).encode()) + 1024
        )
        per_token = 5 + 9 + int(spec.top_k) * (5 + 9)
        need = 5 * prompt_tokens + len(spec.prompts) * (int(spec.max_tokens) * per_token + 128)
    return CONTROL_MAX_BYTES + need + need // 8


# --------------------------------------------------------------------------------------------- claim


def claim_to_pb(claim: NodeClaim) -> pb.Claim:
    """claim.NodeClaim -> the Claim message (every field, so the signed bytes can be rebuilt)."""
    return pb.Claim(
        device_kind=claim.device_kind,
        device_model=claim.device_model,
        memory_bytes=int(claim.memory_bytes),
        claimed_matmul_tops=float(claim.claimed_tflops),
        memory_bandwidth_gbs=float(claim.memory_bandwidth_gbs),
        backends=list(claim.backends),
        agent_version=claim.agent_version,
    )


def claim_from_pb(msg: pb.Claim, path: str = "Claim") -> NodeClaim:
    """The Claim message -> claim.NodeClaim, with the wire checks (its values are checked later by
    NodeClaim.problems())."""
    check_message(msg, path)
    return NodeClaim(
        device_kind=msg.device_kind,
        device_model=msg.device_model,
        memory_bytes=int(msg.memory_bytes),
        claimed_tflops=float(msg.claimed_matmul_tops),
        memory_bandwidth_gbs=float(msg.memory_bandwidth_gbs),
        backends=tuple(msg.backends),
        agent_version=msg.agent_version,
    )


def hello_claim(hello: pb.Hello) -> NodeClaim:
    """Challenger side: check that a Hello has its required parts and return its claim."""
    for name in ("identity", "claim"):
        if not hello.HasField(name):
            raise WireFormatError(f"Hello.{name}: missing")
    check_message(hello, "Hello")
    return claim_from_pb(hello.claim, "Hello.claim")

