from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
MAX_LEN_FIELD_NUMBER: _ClassVar[int]
max_len: _descriptor.FieldDescriptor
MAX_ITEMS_FIELD_NUMBER: _ClassVar[int]
max_items: _descriptor.FieldDescriptor

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
    __slots__ = ("device_kind", "device_model", "memory_bytes", "claimed_matmul_tops", "memory_bandwidth_gbs", "backends", "agent_version")
    DEVICE_KIND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_MATMUL_TOPS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BANDWIDTH_GBS_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    device_kind: str
    device_model: str
    memory_bytes: int
    claimed_matmul_tops: float
    memory_bandwidth_gbs: float
    backends: _containers.RepeatedScalarFieldContainer[str]
    agent_version: str
    def __init__(self, device_kind: _Optional[str] = ..., device_model: _Optional[str] = ..., memory_bytes: _Optional[int] = ..., claimed_matmul_tops: _Optional[float] = ..., memory_bandwidth_gbs: _Optional[float] = ..., backends: _Optional[_Iterable[str]] = ..., agent_version: _Optional[str] = ...) -> None: ...

class ComputeSpec(_message.Message):
    __slots__ = ("seed", "n", "steps", "p", "tile_rows", "tile_cols", "openings", "claimed_matmul_tops")
    SEED_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    P_FIELD_NUMBER: _ClassVar[int]
    TILE_ROWS_FIELD_NUMBER: _ClassVar[int]
    TILE_COLS_FIELD_NUMBER: _ClassVar[int]
    OPENINGS_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_MATMUL_TOPS_FIELD_NUMBER: _ClassVar[int]
    seed: bytes
    n: int
    steps: int
    p: int
    tile_rows: int
    tile_cols: int
    openings: int
    claimed_matmul_tops: float
    def __init__(self, seed: _Optional[bytes] = ..., n: _Optional[int] = ..., steps: _Optional[int] = ..., p: _Optional[int] = ..., tile_rows: _Optional[int] = ..., tile_cols: _Optional[int] = ..., openings: _Optional[int] = ..., claimed_matmul_tops: _Optional[float] = ...) -> None: ...

class ComputeCommitment(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: bytes
    def __init__(self, root: _Optional[bytes] = ...) -> None: ...

class ComputeRequest(_message.Message):
    __slots__ = ("leaves",)
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    leaves: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, leaves: _Optional[_Iterable[int]] = ...) -> None: ...

class ComputeOpening(_message.Message):
    __slots__ = ("tiles", "tile_proofs")
    TILES_FIELD_NUMBER: _ClassVar[int]
    TILE_PROOFS_FIELD_NUMBER: _ClassVar[int]
    tiles: _containers.RepeatedScalarFieldContainer[bytes]
    tile_proofs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, tiles: _Optional[_Iterable[bytes]] = ..., tile_proofs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class MemorySpec(_message.Message):
    __slots__ = ("seed", "block_bytes", "lanes", "depth", "openings", "rounds", "claimed_bytes", "claimed_bandwidth_gbs")
    SEED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_BYTES_FIELD_NUMBER: _ClassVar[int]
    LANES_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    OPENINGS_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_BYTES_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_BANDWIDTH_GBS_FIELD_NUMBER: _ClassVar[int]
    seed: bytes
    block_bytes: int
    lanes: int
    depth: int
    openings: int
    rounds: int
    claimed_bytes: int
    claimed_bandwidth_gbs: float
    def __init__(self, seed: _Optional[bytes] = ..., block_bytes: _Optional[int] = ..., lanes: _Optional[int] = ..., depth: _Optional[int] = ..., openings: _Optional[int] = ..., rounds: _Optional[int] = ..., claimed_bytes: _Optional[int] = ..., claimed_bandwidth_gbs: _Optional[float] = ...) -> None: ...

class MemoryCommitment(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: bytes
    def __init__(self, root: _Optional[bytes] = ...) -> None: ...

class NonceRequest(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    def __init__(self, nonce: _Optional[bytes] = ...) -> None: ...

class NonceCommitment(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: bytes
    def __init__(self, root: _Optional[bytes] = ...) -> None: ...

class MemoryRequest(_message.Message):
    __slots__ = ("leaves",)
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    leaves: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, leaves: _Optional[_Iterable[int]] = ...) -> None: ...

class MemoryOpening(_message.Message):
    __slots__ = ("blocks", "block_proofs", "prev_blocks", "prev_proofs", "nonce_proofs")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_PROOFS_FIELD_NUMBER: _ClassVar[int]
    PREV_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    PREV_PROOFS_FIELD_NUMBER: _ClassVar[int]
    NONCE_PROOFS_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedScalarFieldContainer[bytes]
    block_proofs: _containers.RepeatedScalarFieldContainer[bytes]
    prev_blocks: _containers.RepeatedScalarFieldContainer[bytes]
    prev_proofs: _containers.RepeatedScalarFieldContainer[bytes]
    nonce_proofs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, blocks: _Optional[_Iterable[bytes]] = ..., block_proofs: _Optional[_Iterable[bytes]] = ..., prev_blocks: _Optional[_Iterable[bytes]] = ..., prev_proofs: _Optional[_Iterable[bytes]] = ..., nonce_proofs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class InferenceSpec(_message.Message):
    __slots__ = ("seed", "model", "prompts", "max_tokens", "top_k", "system")
    SEED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    seed: bytes
    model: str
    prompts: _containers.RepeatedScalarFieldContainer[str]
    max_tokens: int
    top_k: int
    system: str
    def __init__(self, seed: _Optional[bytes] = ..., model: _Optional[str] = ..., prompts: _Optional[_Iterable[str]] = ..., max_tokens: _Optional[int] = ..., top_k: _Optional[int] = ..., system: _Optional[str] = ...) -> None: ...

class TokenIds(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class Logprobs(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class InferenceAnswer(_message.Message):
    __slots__ = ("prompt_token_ids", "token_ids", "logprobs", "top_ids", "top_logprobs", "finish_reasons", "backend")
    PROMPT_TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    TOP_IDS_FIELD_NUMBER: _ClassVar[int]
    TOP_LOGPROBS_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASONS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    prompt_token_ids: _containers.RepeatedCompositeFieldContainer[TokenIds]
    token_ids: _containers.RepeatedCompositeFieldContainer[TokenIds]
    logprobs: _containers.RepeatedCompositeFieldContainer[Logprobs]
    top_ids: _containers.RepeatedCompositeFieldContainer[TokenIds]
    top_logprobs: _containers.RepeatedCompositeFieldContainer[Logprobs]
    finish_reasons: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    def __init__(self, prompt_token_ids: _Optional[_Iterable[_Union[TokenIds, _Mapping]]] = ..., token_ids: _Optional[_Iterable[_Union[TokenIds, _Mapping]]] = ..., logprobs: _Optional[_Iterable[_Union[Logprobs, _Mapping]]] = ..., top_ids: _Optional[_Iterable[_Union[TokenIds, _Mapping]]] = ..., top_logprobs: _Optional[_Iterable[_Union[Logprobs, _Mapping]]] = ..., finish_reasons: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ...) -> None: ...

class TokenTick(_message.Message):
    __slots__ = ("prompt", "index", "token_id")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    prompt: int
    index: int
    token_id: int
    def __init__(self, prompt: _Optional[int] = ..., index: _Optional[int] = ..., token_id: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("challenge_id", "kind", "deadline_s", "max_reply_bytes", "compute", "memory", "inference")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLY_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    kind: str
    deadline_s: float
    max_reply_bytes: int
    compute: ComputeSpec
    memory: MemorySpec
    inference: InferenceSpec
    def __init__(self, challenge_id: _Optional[str] = ..., kind: _Optional[str] = ..., deadline_s: _Optional[float] = ..., max_reply_bytes: _Optional[int] = ..., compute: _Optional[_Union[ComputeSpec, _Mapping]] = ..., memory: _Optional[_Union[MemorySpec, _Mapping]] = ..., inference: _Optional[_Union[InferenceSpec, _Mapping]] = ...) -> None: ...

class OpeningRequest(_message.Message):
    __slots__ = ("challenge_id", "round", "deadline_s", "max_reply_bytes", "compute", "memory_nonce", "memory")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_S_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLY_BYTES_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_NONCE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    round: int
    deadline_s: float
    max_reply_bytes: int
    compute: ComputeRequest
    memory_nonce: NonceRequest
    memory: MemoryRequest
    def __init__(self, challenge_id: _Optional[str] = ..., round: _Optional[int] = ..., deadline_s: _Optional[float] = ..., max_reply_bytes: _Optional[int] = ..., compute: _Optional[_Union[ComputeRequest, _Mapping]] = ..., memory_nonce: _Optional[_Union[NonceRequest, _Mapping]] = ..., memory: _Optional[_Union[MemoryRequest, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("session_id", "ok", "score", "smoothed_score", "reasons", "checks", "strikes", "status", "matmul_tops", "verified_memory_bytes", "memory_bandwidth_gbs", "rtt_ms", "ttft_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SMOOTHED_SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    STRIKES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MATMUL_TOPS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BANDWIDTH_GBS_FIELD_NUMBER: _ClassVar[int]
    RTT_MS_FIELD_NUMBER: _ClassVar[int]
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    ok: bool
    score: float
    smoothed_score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    checks: _containers.RepeatedCompositeFieldContainer[CheckSummary]
    strikes: int
    status: str
    matmul_tops: float
    verified_memory_bytes: int
    memory_bandwidth_gbs: float
    rtt_ms: float
    ttft_ms: float
    def __init__(self, session_id: _Optional[str] = ..., ok: _Optional[bool] = ..., score: _Optional[float] = ..., smoothed_score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., checks: _Optional[_Iterable[_Union[CheckSummary, _Mapping]]] = ..., strikes: _Optional[int] = ..., status: _Optional[str] = ..., matmul_tops: _Optional[float] = ..., verified_memory_bytes: _Optional[int] = ..., memory_bandwidth_gbs: _Optional[float] = ..., rtt_ms: _Optional[float] = ..., ttft_ms: _Optional[float] = ...) -> None: ...

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
    __slots__ = ("challenge_id", "compute", "memory", "inference")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    compute: ComputeCommitment
    memory: MemoryCommitment
    inference: InferenceAnswer
    def __init__(self, challenge_id: _Optional[str] = ..., compute: _Optional[_Union[ComputeCommitment, _Mapping]] = ..., memory: _Optional[_Union[MemoryCommitment, _Mapping]] = ..., inference: _Optional[_Union[InferenceAnswer, _Mapping]] = ...) -> None: ...

class Opening(_message.Message):
    __slots__ = ("challenge_id", "round", "compute", "memory_nonce", "memory")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_NONCE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    round: int
    compute: ComputeOpening
    memory_nonce: NonceCommitment
    memory: MemoryOpening
    def __init__(self, challenge_id: _Optional[str] = ..., round: _Optional[int] = ..., compute: _Optional[_Union[ComputeOpening, _Mapping]] = ..., memory_nonce: _Optional[_Union[NonceCommitment, _Mapping]] = ..., memory: _Optional[_Union[MemoryOpening, _Mapping]] = ...) -> None: ...

class Partial(_message.Message):
    __slots__ = ("challenge_id", "seq", "token")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    seq: int
    token: TokenTick
    def __init__(self, challenge_id: _Optional[str] = ..., seq: _Optional[int] = ..., token: _Optional[_Union[TokenTick, _Mapping]] = ...) -> None: ...

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
