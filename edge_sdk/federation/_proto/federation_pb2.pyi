from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PowerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POWER_UNKNOWN: _ClassVar[PowerState]
    POWER_UNPLUGGED: _ClassVar[PowerState]
    POWER_PLUGGED: _ClassVar[PowerState]

class Encoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCODING_UNSPECIFIED: _ClassVar[Encoding]
    FLOAT32: _ClassVar[Encoding]
    FLOAT32_ZLIB: _ClassVar[Encoding]
    INT8_ZLIB: _ClassVar[Encoding]

class RoundOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_OUTCOME_UNSPECIFIED: _ClassVar[RoundOutcome]
    COMPLETED: _ClassVar[RoundOutcome]
    ABANDONED: _ClassVar[RoundOutcome]
POWER_UNKNOWN: PowerState
POWER_UNPLUGGED: PowerState
POWER_PLUGGED: PowerState
ENCODING_UNSPECIFIED: Encoding
FLOAT32: Encoding
FLOAT32_ZLIB: Encoding
INT8_ZLIB: Encoding
ROUND_OUTCOME_UNSPECIFIED: RoundOutcome
COMPLETED: RoundOutcome
ABANDONED: RoundOutcome

class ClientMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "adapter_request", "update_begin", "update_chunk", "decline")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_BEGIN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_CHUNK_FIELD_NUMBER: _ClassVar[int]
    DECLINE_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    adapter_request: AdapterRequest
    update_begin: UpdateBegin
    update_chunk: UpdateChunk
    decline: RoundDecline
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., adapter_request: _Optional[_Union[AdapterRequest, _Mapping]] = ..., update_begin: _Optional[_Union[UpdateBegin, _Mapping]] = ..., update_chunk: _Optional[_Union[UpdateChunk, _Mapping]] = ..., decline: _Optional[_Union[RoundDecline, _Mapping]] = ...) -> None: ...

class CoordinatorMessage(_message.Message):
    __slots__ = ("challenge", "welcome", "rejected", "assignment", "adapter_chunk", "upload_ready", "receipt", "round_closed", "finished")
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_READY_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    ROUND_CLOSED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    challenge: Challenge
    welcome: Welcome
    rejected: Rejected
    assignment: RoundAssignment
    adapter_chunk: AdapterChunk
    upload_ready: UploadReady
    receipt: UpdateReceipt
    round_closed: RoundClosed
    finished: TaskFinished
    def __init__(self, challenge: _Optional[_Union[Challenge, _Mapping]] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ..., rejected: _Optional[_Union[Rejected, _Mapping]] = ..., assignment: _Optional[_Union[RoundAssignment, _Mapping]] = ..., adapter_chunk: _Optional[_Union[AdapterChunk, _Mapping]] = ..., upload_ready: _Optional[_Union[UploadReady, _Mapping]] = ..., receipt: _Optional[_Union[UpdateReceipt, _Mapping]] = ..., round_closed: _Optional[_Union[RoundClosed, _Mapping]] = ..., finished: _Optional[_Union[TaskFinished, _Mapping]] = ...) -> None: ...

class Challenge(_message.Message):
    __slots__ = ("nonce", "coordinator_id", "protocol_version", "nonce_ttl_s")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NONCE_TTL_S_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    coordinator_id: str
    protocol_version: int
    nonce_ttl_s: float
    def __init__(self, nonce: _Optional[bytes] = ..., coordinator_id: _Optional[str] = ..., protocol_version: _Optional[int] = ..., nonce_ttl_s: _Optional[float] = ...) -> None: ...

class DeviceReport(_message.Message):
    __slots__ = ("device_kind", "logical_cores", "ram_total_bytes", "ram_available_bytes", "has_battery", "battery_percent", "power_plugged", "eligible", "ineligible_reasons", "client_version")
    DEVICE_KIND_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_CORES_FIELD_NUMBER: _ClassVar[int]
    RAM_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    RAM_AVAILABLE_BYTES_FIELD_NUMBER: _ClassVar[int]
    HAS_BATTERY_FIELD_NUMBER: _ClassVar[int]
    BATTERY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    POWER_PLUGGED_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_REASONS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    device_kind: str
    logical_cores: int
    ram_total_bytes: int
    ram_available_bytes: int
    has_battery: bool
    battery_percent: float
    power_plugged: PowerState
    eligible: bool
    ineligible_reasons: _containers.RepeatedScalarFieldContainer[str]
    client_version: str
    def __init__(self, device_kind: _Optional[str] = ..., logical_cores: _Optional[int] = ..., ram_total_bytes: _Optional[int] = ..., ram_available_bytes: _Optional[int] = ..., has_battery: _Optional[bool] = ..., battery_percent: _Optional[float] = ..., power_plugged: _Optional[_Union[PowerState, str]] = ..., eligible: _Optional[bool] = ..., ineligible_reasons: _Optional[_Iterable[str]] = ..., client_version: _Optional[str] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("protocol_version", "scheme", "public_key", "client_id", "nonce", "coordinator_id", "device", "signature")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    scheme: str
    public_key: bytes
    client_id: str
    nonce: bytes
    coordinator_id: str
    device: DeviceReport
    signature: bytes
    def __init__(self, protocol_version: _Optional[int] = ..., scheme: _Optional[str] = ..., public_key: _Optional[bytes] = ..., client_id: _Optional[str] = ..., nonce: _Optional[bytes] = ..., coordinator_id: _Optional[str] = ..., device: _Optional[_Union[DeviceReport, _Mapping]] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("eligible", "ineligible_reasons", "ram_available_bytes")
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_REASONS_FIELD_NUMBER: _ClassVar[int]
    RAM_AVAILABLE_BYTES_FIELD_NUMBER: _ClassVar[int]
    eligible: bool
    ineligible_reasons: _containers.RepeatedScalarFieldContainer[str]
    ram_available_bytes: int
    def __init__(self, eligible: _Optional[bool] = ..., ineligible_reasons: _Optional[_Iterable[str]] = ..., ram_available_bytes: _Optional[int] = ...) -> None: ...

class LoraRecipe(_message.Message):
    __slots__ = ("r", "alpha", "dropout", "target_modules", "learning_rate", "max_seq_len", "batch_size", "grad_accum_steps", "weight_decay", "warmup_steps", "lr_schedule", "max_grad_norm", "proximal_mu", "freeze_lora_a")
    R_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODULES_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LEN_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    GRAD_ACCUM_STEPS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    MAX_GRAD_NORM_FIELD_NUMBER: _ClassVar[int]
    PROXIMAL_MU_FIELD_NUMBER: _ClassVar[int]
    FREEZE_LORA_A_FIELD_NUMBER: _ClassVar[int]
    r: int
    alpha: float
    dropout: float
    target_modules: _containers.RepeatedScalarFieldContainer[str]
    learning_rate: float
    max_seq_len: int
    batch_size: int
    grad_accum_steps: int
    weight_decay: float
    warmup_steps: int
    lr_schedule: str
    max_grad_norm: float
    proximal_mu: float
    freeze_lora_a: bool
    def __init__(self, r: _Optional[int] = ..., alpha: _Optional[float] = ..., dropout: _Optional[float] = ..., target_modules: _Optional[_Iterable[str]] = ..., learning_rate: _Optional[float] = ..., max_seq_len: _Optional[int] = ..., batch_size: _Optional[int] = ..., grad_accum_steps: _Optional[int] = ..., weight_decay: _Optional[float] = ..., warmup_steps: _Optional[int] = ..., lr_schedule: _Optional[str] = ..., max_grad_norm: _Optional[float] = ..., proximal_mu: _Optional[float] = ..., freeze_lora_a: _Optional[bool] = ...) -> None: ...

class PrivacySpec(_message.Message):
    __slots__ = ("clip_norm", "noise_multiplier", "delta")
    CLIP_NORM_FIELD_NUMBER: _ClassVar[int]
    NOISE_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    clip_norm: float
    noise_multiplier: float
    delta: float
    def __init__(self, clip_norm: _Optional[float] = ..., noise_multiplier: _Optional[float] = ..., delta: _Optional[float] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("task_id", "base_model", "recipe", "rounds", "local_steps", "aggregation", "privacy", "update_encoding", "max_update_bytes", "chunk_bytes")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ENCODING_FIELD_NUMBER: _ClassVar[int]
    MAX_UPDATE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    base_model: str
    recipe: LoraRecipe
    rounds: int
    local_steps: int
    aggregation: str
    privacy: PrivacySpec
    update_encoding: Encoding
    max_update_bytes: int
    chunk_bytes: int
    def __init__(self, task_id: _Optional[str] = ..., base_model: _Optional[str] = ..., recipe: _Optional[_Union[LoraRecipe, _Mapping]] = ..., rounds: _Optional[int] = ..., local_steps: _Optional[int] = ..., aggregation: _Optional[str] = ..., privacy: _Optional[_Union[PrivacySpec, _Mapping]] = ..., update_encoding: _Optional[_Union[Encoding, str]] = ..., max_update_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("client_id", "task", "global_adapter", "heartbeat_s", "current_round")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_S_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ROUND_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    task: Task
    global_adapter: GlobalVersion
    heartbeat_s: float
    current_round: int
    def __init__(self, client_id: _Optional[str] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., global_adapter: _Optional[_Union[GlobalVersion, _Mapping]] = ..., heartbeat_s: _Optional[float] = ..., current_round: _Optional[int] = ...) -> None: ...

class GlobalVersion(_message.Message):
    __slots__ = ("version", "adapter_bytes", "adapter_sha256", "eval_loss")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_BYTES_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_SHA256_FIELD_NUMBER: _ClassVar[int]
    EVAL_LOSS_FIELD_NUMBER: _ClassVar[int]
    version: int
    adapter_bytes: int
    adapter_sha256: bytes
    eval_loss: float
    def __init__(self, version: _Optional[int] = ..., adapter_bytes: _Optional[int] = ..., adapter_sha256: _Optional[bytes] = ..., eval_loss: _Optional[float] = ...) -> None: ...

class Rejected(_message.Message):
    __slots__ = ("code", "reason", "fatal", "round")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FATAL_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    fatal: bool
    round: int
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ..., fatal: _Optional[bool] = ..., round: _Optional[int] = ...) -> None: ...

class RoundAssignment(_message.Message):
    __slots__ = ("round", "attempt", "base", "deadline_unix_ms", "local_steps", "seed")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    round: int
    attempt: int
    base: GlobalVersion
    deadline_unix_ms: int
    local_steps: int
    seed: int
    def __init__(self, round: _Optional[int] = ..., attempt: _Optional[int] = ..., base: _Optional[_Union[GlobalVersion, _Mapping]] = ..., deadline_unix_ms: _Optional[int] = ..., local_steps: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class AdapterRequest(_message.Message):
    __slots__ = ("global_version", "offset")
    GLOBAL_VERSION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    global_version: int
    offset: int
    def __init__(self, global_version: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class AdapterChunk(_message.Message):
    __slots__ = ("global_version", "offset", "total_bytes", "data")
    GLOBAL_VERSION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    global_version: int
    offset: int
    total_bytes: int
    data: bytes
    def __init__(self, global_version: _Optional[int] = ..., offset: _Optional[int] = ..., total_bytes: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class AdapterWeights(_message.Message):
    __slots__ = ("tensors",)
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    tensors: _containers.RepeatedCompositeFieldContainer[Tensor]
    def __init__(self, tensors: _Optional[_Iterable[_Union[Tensor, _Mapping]]] = ...) -> None: ...

class Tensor(_message.Message):
    __slots__ = ("name", "shape", "encoding", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    encoding: Encoding
    data: bytes
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., encoding: _Optional[_Union[Encoding, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class UpdateBegin(_message.Message):
    __slots__ = ("round", "attempt", "base_version", "total_bytes", "sha256", "num_examples", "steps", "train_loss", "update_norm", "epsilon")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    NUM_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_NORM_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    round: int
    attempt: int
    base_version: int
    total_bytes: int
    sha256: bytes
    num_examples: int
    steps: int
    train_loss: float
    update_norm: float
    epsilon: float
    def __init__(self, round: _Optional[int] = ..., attempt: _Optional[int] = ..., base_version: _Optional[int] = ..., total_bytes: _Optional[int] = ..., sha256: _Optional[bytes] = ..., num_examples: _Optional[int] = ..., steps: _Optional[int] = ..., train_loss: _Optional[float] = ..., update_norm: _Optional[float] = ..., epsilon: _Optional[float] = ...) -> None: ...

class UploadReady(_message.Message):
    __slots__ = ("round", "offset")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    round: int
    offset: int
    def __init__(self, round: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class UpdateChunk(_message.Message):
    __slots__ = ("round", "offset", "data")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    round: int
    offset: int
    data: bytes
    def __init__(self, round: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class UpdateReceipt(_message.Message):
    __slots__ = ("round", "accepted", "code", "reason")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    round: int
    accepted: bool
    code: str
    reason: str
    def __init__(self, round: _Optional[int] = ..., accepted: _Optional[bool] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RoundDecline(_message.Message):
    __slots__ = ("round", "reason")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    round: int
    reason: str
    def __init__(self, round: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class RoundClosed(_message.Message):
    __slots__ = ("round", "attempt", "outcome", "global_adapter", "updates", "reason")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    round: int
    attempt: int
    outcome: RoundOutcome
    global_adapter: GlobalVersion
    updates: int
    reason: str
    def __init__(self, round: _Optional[int] = ..., attempt: _Optional[int] = ..., outcome: _Optional[_Union[RoundOutcome, str]] = ..., global_adapter: _Optional[_Union[GlobalVersion, _Mapping]] = ..., updates: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class TaskFinished(_message.Message):
    __slots__ = ("task_id", "global_adapter", "failed", "reason")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_ADAPTER_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    global_adapter: GlobalVersion
    failed: bool
    reason: str
    def __init__(self, task_id: _Optional[str] = ..., global_adapter: _Optional[_Union[GlobalVersion, _Mapping]] = ..., failed: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
