from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IntList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class FloatList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class BytesList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class StrList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class ValueList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[Value]
    def __init__(self, values: _Optional[_Iterable[_Union[Value, _Mapping]]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("int", "float", "str", "raw", "flag", "ints", "floats", "blobs", "strs", "list", "record", "none", "bigint")
    INT_FIELD_NUMBER: _ClassVar[int]
    FLOAT_FIELD_NUMBER: _ClassVar[int]
    STR_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    INTS_FIELD_NUMBER: _ClassVar[int]
    FLOATS_FIELD_NUMBER: _ClassVar[int]
    BLOBS_FIELD_NUMBER: _ClassVar[int]
    STRS_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    NONE_FIELD_NUMBER: _ClassVar[int]
    BIGINT_FIELD_NUMBER: _ClassVar[int]
    int: int
    float: float
    str: str
    raw: bytes
    flag: bool
    ints: IntList
    floats: FloatList
    blobs: BytesList
    strs: StrList
    list: ValueList
    record: Record
    none: bool
    bigint: str
    def __init__(self, int: _Optional[int] = ..., float: _Optional[float] = ..., str: _Optional[str] = ..., raw: _Optional[bytes] = ..., flag: _Optional[bool] = ..., ints: _Optional[_Union[IntList, _Mapping]] = ..., floats: _Optional[_Union[FloatList, _Mapping]] = ..., blobs: _Optional[_Union[BytesList, _Mapping]] = ..., strs: _Optional[_Union[StrList, _Mapping]] = ..., list: _Optional[_Union[ValueList, _Mapping]] = ..., record: _Optional[_Union[Record, _Mapping]] = ..., none: _Optional[bool] = ..., bigint: _Optional[str] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("type", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    type: str
    fields: _containers.MessageMap[str, Value]
    def __init__(self, type: _Optional[str] = ..., fields: _Optional[_Mapping[str, Value]] = ...) -> None: ...

class NodeIdentity(_message.Message):
    __slots__ = ("scheme", "public_key", "node_id")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    public_key: bytes
    node_id: str
    def __init__(self, scheme: _Optional[str] = ..., public_key: _Optional[bytes] = ..., node_id: _Optional[str] = ...) -> None: ...

class Claim(_message.Message):
    __slots__ = ("device_kind", "device_model", "memory_bytes", "claimed_tflops", "backends", "agent_version")
    DEVICE_KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_TFLOPS_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    device_kind: str
    device_model: str
    memory_bytes: int
    claimed_tflops: float
    backends: _containers.RepeatedScalarFieldContainer[str]
    agent_version: str
    def __init__(self, device_kind: _Optional[str] = ..., device_model: _Optional[str] = ..., memory_bytes: _Optional[int] = ..., claimed_tflops: _Optional[float] = ..., backends: _Optional[_Iterable[str]] = ..., agent_version: _Optional[str] = ...) -> None: ...

class SessionStart(_message.Message):
    __slots__ = ("session_id", "nonce", "challenger_id", "protocol_version", "max_message_bytes", "hello_deadline_s")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    HELLO_DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    nonce: bytes
    challenger_id: str
    protocol_version: int
    max_message_bytes: int
    hello_deadline_s: float
    def __init__(self, session_id: _Optional[str] = ..., nonce: _Optional[bytes] = ..., challenger_id: _Optional[str] = ..., protocol_version: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., hello_deadline_s: _Optional[float] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("seq", "payload")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    seq: int
    payload: bytes
    def __init__(self, seq: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ChallengeSpec(_message.Message):
    __slots__ = ("challenge_id", "kind", "spec", "deadline_s")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    kind: str
    spec: Record
    deadline_s: float
    def __init__(self, challenge_id: _Optional[str] = ..., kind: _Optional[str] = ..., spec: _Optional[_Union[Record, _Mapping]] = ..., deadline_s: _Optional[float] = ...) -> None: ...

class OpeningRequest(_message.Message):
    __slots__ = ("challenge_id", "round", "request", "deadline_s")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    round: int
    request: Record
    deadline_s: float
    def __init__(self, challenge_id: _Optional[str] = ..., round: _Optional[int] = ..., request: _Optional[_Union[Record, _Mapping]] = ..., deadline_s: _Optional[float] = ...) -> None: ...

class CheckSummary(_message.Message):
    __slots__ = ("name", "passed", "reason", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    reason: str
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., reason: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class SessionResult(_message.Message):
    __slots__ = ("session_id", "ok", "score", "smoothed_score", "reasons", "checks", "strikes")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SMOOTHED_SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    STRIKES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    ok: bool
    score: float
    smoothed_score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    checks: _containers.RepeatedCompositeFieldContainer[CheckSummary]
    strikes: int
    def __init__(self, session_id: _Optional[str] = ..., ok: _Optional[bool] = ..., score: _Optional[float] = ..., smoothed_score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., checks: _Optional[_Iterable[_Union[CheckSummary, _Mapping]]] = ..., strikes: _Optional[int] = ...) -> None: ...

class ChallengerMessage(_message.Message):
    __slots__ = ("start", "ping", "challenge", "request", "result")
    START_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    start: SessionStart
    ping: Ping
    challenge: ChallengeSpec
    request: OpeningRequest
    result: SessionResult
    def __init__(self, start: _Optional[_Union[SessionStart, _Mapping]] = ..., ping: _Optional[_Union[Ping, _Mapping]] = ..., challenge: _Optional[_Union[ChallengeSpec, _Mapping]] = ..., request: _Optional[_Union[OpeningRequest, _Mapping]] = ..., result: _Optional[_Union[SessionResult, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("identity", "claim", "nonce", "challenger_id", "signature")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CHALLENGER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    identity: NodeIdentity
    claim: Claim
    nonce: bytes
    challenger_id: str
    signature: bytes
    def __init__(self, identity: _Optional[_Union[NodeIdentity, _Mapping]] = ..., claim: _Optional[_Union[Claim, _Mapping]] = ..., nonce: _Optional[bytes] = ..., challenger_id: _Optional[str] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Pong(_message.Message):
    __slots__ = ("seq", "payload")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    seq: int
    payload: bytes
    def __init__(self, seq: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Commitment(_message.Message):
    __slots__ = ("challenge_id", "commitment")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    commitment: Record
    def __init__(self, challenge_id: _Optional[str] = ..., commitment: _Optional[_Union[Record, _Mapping]] = ...) -> None: ...

class Opening(_message.Message):
    __slots__ = ("challenge_id", "round", "opening")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    round: int
    opening: Record
    def __init__(self, challenge_id: _Optional[str] = ..., round: _Optional[int] = ..., opening: _Optional[_Union[Record, _Mapping]] = ...) -> None: ...

class Partial(_message.Message):
    __slots__ = ("challenge_id", "seq", "item")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    seq: int
    item: Record
    def __init__(self, challenge_id: _Optional[str] = ..., seq: _Optional[int] = ..., item: _Optional[_Union[Record, _Mapping]] = ...) -> None: ...

class NodeError(_message.Message):
    __slots__ = ("challenge_id", "reason")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    reason: str
    def __init__(self, challenge_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class NodeMessage(_message.Message):
    __slots__ = ("hello", "pong", "commitment", "opening", "error", "partial")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    pong: Pong
    commitment: Commitment
    opening: Opening
    error: NodeError
    partial: Partial
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., pong: _Optional[_Union[Pong, _Mapping]] = ..., commitment: _Optional[_Union[Commitment, _Mapping]] = ..., opening: _Optional[_Union[Opening, _Mapping]] = ..., error: _Optional[_Union[NodeError, _Mapping]] = ..., partial: _Optional[_Union[Partial, _Mapping]] = ...) -> None: ...
