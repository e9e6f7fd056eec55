"""The typed codec of protocol v2: payload dataclasses <-> their messages, checked field by field.

The codec maps dataclasses to messages generically (by name, through the descriptor), so most tests use
dataclasses declared here with the field lists of the protocol's payloads; the last tests check that the
dataclasses in poai/challenges agree with proto/poai.proto.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pytest

from poai._proto import poai_pb2 as pb
from poai.claim import NodeClaim
from poai.wire import (
    CONTROL_MAX_BYTES,
    WireFormatError,
    check_message,
    claim_from_pb,
    claim_to_pb,
    commitment_message,
    from_pb,
    hello_claim,
    opening_message,
    parse_node_message,
    partial_message,
    payload_name,
    reply_limit,
    request_message,
    spec_message,
    to_pb,
)

# ------------------------------------------------------------------- the protocol's payload field lists


@dataclass(frozen=True)
class ComputeSpec:
    seed: bytes
    n: int
    steps: int
    p: int
    tile_rows: int
    tile_cols: int
    openings: int
    claimed_tflops: float


@dataclass(frozen=True)
class ComputeCommitment:
    root: bytes


@dataclass(frozen=True)
class ComputeRequest:
    leaves: tuple[int, ...]


@dataclass(frozen=True)
class ComputeOpening:
    tiles: tuple[bytes, ...]
    tile_proofs: tuple[bytes, ...]


@dataclass(frozen=True)
class MemorySpec:
    seed: bytes
    block_bytes: int
    lanes: int
    depth: int
    openings: int
    rounds: int
    claimed_bytes: int
    claimed_bandwidth_gbs: float


@dataclass(frozen=True)
class MemoryCommitment:
    root: bytes


@dataclass(frozen=True)
class NonceRequest:
    nonce: bytes


@dataclass(frozen=True)
class NonceCommitment:
    root: bytes


@dataclass(frozen=True)
class MemoryRequest:
    leaves: tuple[int, ...]


@dataclass(frozen=True)
class MemoryOpening:
    blocks: tuple[bytes, ...]
    block_proofs: tuple[bytes, ...]
    prev_blocks: tuple[bytes, ...]
    prev_proofs: tuple[bytes, ...]
    nonce_proofs: tuple[bytes, ...]


@dataclass(frozen=True)
class InferenceSpec:
    seed: bytes
    model: str
    prompts: tuple[str, ...]
    max_tokens: int
    top_k: int
    system: str = ""


@dataclass(frozen=True)
class InferenceAnswer:
    prompt_token_ids: tuple[tuple[int, ...], ...]
    token_ids: tuple[tuple[int, ...], ...]
    logprobs: tuple[tuple[float, ...], ...]
    top_ids: tuple[tuple[int, ...], ...]
    top_logprobs: tuple[tuple[float, ...], ...]
    finish_reasons: tuple[str, ...]
    backend: str = ""


@dataclass(frozen=True)
class TokenTick:
    prompt: int
    index: int
    token_id: int


H = bytes(range(32))
SPEC = ComputeSpec(H, 32, 4, 131, 16, 16, 8, 0.5)
MEM_SPEC = MemorySpec(H, 65536, 4, 8, 16, 3, 1 << 21, 12.5)
INF_SPEC = InferenceSpec(H, "smol", ("hi", "tell me"), 8, 2, "be brief")
ANSWER = InferenceAnswer(
    ((1, 2, 3), (4, 5)),
    ((7, 8), (9,)),
    ((-0.5, -1.25), (-0.0,)),
    ((7, 1, 8, 2), (9, 3)),
    ((-0.5, -2.0, -1.25, -3.0), (-0.0, -4.0)),
    ("length", "stop"),
    "torch",
)


def _wire(msg):
    """Through bytes, as on the network."""
    return type(msg).FromString(msg.SerializeToString())


@pytest.mark.parametrize(
    ("envelope", "obj"),
    [
        (lambda o: spec_message("c1", o, deadline_s=3.0, max_reply_bytes=100), SPEC),
        (lambda o: commitment_message("c1", o), ComputeCommitment(H)),
        (lambda o: request_message("c1", 0, o, deadline_s=1.0), ComputeRequest((0, 5, 2**32 - 1))),
        (lambda o: opening_message("c1", 0, o), ComputeOpening((b"\x01" * 256, b""), (H * 3, H))),
        (lambda o: spec_message("c1", o, deadline_s=3.0), MEM_SPEC),
        (lambda o: commitment_message("c1", o), MemoryCommitment(H)),
        (lambda o: request_message("c1", 0, o, deadline_s=1.0), NonceRequest(H)),
        (lambda o: opening_message("c1", 0, o), NonceCommitment(H)),
        (lambda o: request_message("c1", 1, o, deadline_s=1.0), MemoryRequest((3, 1))),
        (
            lambda o: opening_message("c1", 1, o),
            MemoryOpening((b"a" * 64, b"b"), (H, H * 2), (b"", b"c"), (b"", H), (H, H)),
        ),
        (lambda o: spec_message("c1", o, deadline_s=3.0), INF_SPEC),
        (lambda o: commitment_message("c1", o), ANSWER),
        (lambda o: partial_message("c1", 4, o), TokenTick(0, 3, 151)),
    ],
)
def test_every_payload_roundtrips_through_its_envelope(envelope, obj) -> None:
    env = _wire(envelope(obj))
    assert payload_name(env) == type(obj).__name__
    back = from_pb(type(obj), env)
    assert back == obj
    assert all(isinstance(getattr(back, f.name), tuple) for f in dataclasses.fields(back)
               if isinstance(getattr(obj, f.name), tuple))
    assert from_pb(type(obj), to_pb(obj)) == obj  # the bare payload message decodes too


def test_spec_envelope_names_its_kind_and_limits() -> None:
    env = spec_message("c1", MEM_SPEC, deadline_s=2.5, max_reply_bytes=12345)
    assert env.kind == "memory" and env.WhichOneof("spec") == "memory" and env.max_reply_bytes == 12345
    assert env.memory.claimed_bandwidth_gbs == 12.5
    assert spec_message("c1", SPEC, deadline_s=1).compute.claimed_matmul_tops == 0.5  # wire name
    env.kind = "compute"
    with pytest.raises(WireFormatError, match=r"ChallengeSpec.kind: 'compute' does not match its memory spec"):
        from_pb(MemorySpec, env)
    assert request_message("c", 0, NonceRequest(H), deadline_s=1).WhichOneof("request") == "memory_nonce"
    assert opening_message("c", 0, NonceCommitment(H)).WhichOneof("opening") == "memory_nonce"


def test_numpy_values_encode_as_python_values() -> None:
    obj = ComputeRequest(np.array([1, 2, 3], dtype=np.int64))  # type: ignore[arg-type]
    assert from_pb(ComputeRequest, to_pb(obj)) == ComputeRequest((1, 2, 3))
    spec = dataclasses.replace(SPEC, n=np.int32(64), claimed_tflops=np.float32(0.25))  # type: ignore[arg-type]
    assert from_pb(ComputeSpec, to_pb(spec)) == dataclasses.replace(SPEC, n=64, claimed_tflops=0.25)


def _nan_logprob(env: pb.Commitment) -> None:
    env.inference.logprobs[0].values[1] = math.nan


def _inf_top(env: pb.Commitment) -> None:
    env.inference.top_logprobs[1].values[0] = -math.inf


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_nan_logprob, r"Commitment.inference.logprobs\[0\]\[1\]: not finite"),
        (_inf_top, r"Commitment.inference.top_logprobs\[1\]\[0\]: not finite"),
        (lambda e: e.inference.ClearField("token_ids"), None),  # structure is the verifier's job
        (lambda e: e.inference.finish_reasons.append("x" * 33), r"finish_reasons\[2\]: 33 bytes, more than"),
        (lambda e: e.inference.token_ids.add().values.extend([1] * 262145), r"token_ids\[2\]: 262145 items"),
        (lambda e: e.ClearField("inference"), r"Commitment: no payload \(expected a InferenceAnswer\)"),
        (lambda e: e.memory.CopyFrom(pb.MemoryCommitment(root=H)), "expected a InferenceAnswer, got a Memory"),
    ],
)
def test_malformed_answers_name_the_field(mutate, message) -> None:
    env = _wire(commitment_message("c1", ANSWER))
    mutate(env)
    env = _wire(env)
    if message is None:
        from_pb(InferenceAnswer, env)
        return
    with pytest.raises(WireFormatError, match=message):
        from_pb(InferenceAnswer, env)
    if "not finite" in message or "more than" in message or "items" in message:
        with pytest.raises(WireFormatError, match=message):  # the envelope check sees it before decoding
            check_message(env)


def test_lengths_and_counts_are_limited_both_ways() -> None:
    with pytest.raises(WireFormatError, match=r"ComputeSpec.seed: 33 bytes, more than the 32 allowed"):
        to_pb(dataclasses.replace(SPEC, seed=b"x" * 33))
    with pytest.raises(WireFormatError, match=r"ComputeRequest.leaves: 4097 items"):
        to_pb(ComputeRequest(tuple(range(4097))))
    msg = pb.ComputeRequest(leaves=range(4097))
    with pytest.raises(WireFormatError, match=r"ComputeRequest.leaves: 4097 items"):
        from_pb(ComputeRequest, msg)
    proof = pb.ComputeOpening(tiles=[b""], tile_proofs=[b"\x00" * 2080])
    with pytest.raises(WireFormatError, match=r"ComputeOpening.tile_proofs\[0\]: 2080 bytes"):
        from_pb(ComputeOpening, proof)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (dataclasses.replace(SPEC, n=2**32), r"ComputeSpec.n: 4294967296 is outside \[0, 4294967295\]"),
        (dataclasses.replace(SPEC, n=-1), r"ComputeSpec.n: -1 is outside"),
        (dataclasses.replace(SPEC, n=True), "ComputeSpec.n: expected int, got bool"),
        (dataclasses.replace(SPEC, n=16.0), "ComputeSpec.n: expected int, got float"),
        (dataclasses.replace(SPEC, claimed_tflops=math.nan), "ComputeSpec.claimed_tflops: not finite"),
        (dataclasses.replace(SPEC, claimed_tflops=10**400), "does not fit a double"),
        (dataclasses.replace(SPEC, seed="abc"), "ComputeSpec.seed: expected bytes, got str"),
        (ComputeRequest((1, "2")), r"ComputeRequest.leaves\[1\]: expected int, got str"),
        (ComputeRequest(b"\x01\x02"), "ComputeRequest.leaves: expected a list, got bytes"),
        (TokenTick(0, 0, 2**32), r"TokenTick.token_id: 4294967296 is outside"),
    ],
)
def test_encoding_refuses_what_the_wire_cannot_carry(obj, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        to_pb(obj)


def test_dataclass_and_proto_must_agree() -> None:
    @dataclass(frozen=True)
    class ComputeCommitment:  # noqa: F811 - a dataclass with a field the protocol does not have
        root: bytes
        extra: int = 0

    with pytest.raises(WireFormatError, match="ComputeCommitment.extra: message edgeproof.poai.v2.Compute"):
        to_pb(ComputeCommitment(H))

    @dataclass(frozen=True)
    class NonceRequest:  # noqa: F811 - right name, wrong type
        nonce: str

    with pytest.raises(WireFormatError, match=r"NonceRequest.nonce: type <class 'str'> does not match"):
        from_pb(NonceRequest, pb.NonceRequest(nonce=H))

    @dataclass(frozen=True)
    class Unknown:
        a: int

    with pytest.raises(WireFormatError, match="protocol v2 has no message"):
        to_pb(Unknown(1))


def test_a_set_field_the_dataclass_lacks_is_refused() -> None:
    @dataclass(frozen=True)
    class MemorySpec:  # noqa: F811 - an older receiver without the bandwidth claim
        seed: bytes
        block_bytes: int
        lanes: int
        depth: int
        openings: int
        rounds: int
        claimed_bytes: int

    msg = to_pb(MEM_SPEC)
    with pytest.raises(WireFormatError, match="MemorySpec: field.s. claimed_bandwidth_gbs are not understood"):
        from_pb(MemorySpec, msg)
    msg.claimed_bandwidth_gbs = 0.0  # unset: nothing is lost
    assert from_pb(MemorySpec, msg).lanes == 4


def test_dataclass_validation_errors_become_wire_errors() -> None:
    @dataclass(frozen=True)
    class NonceRequest:  # noqa: F811
        nonce: bytes

        def __post_init__(self) -> None:
            if len(self.nonce) != 32:
                raise ValueError("nonce must be 32 bytes")

    with pytest.raises(WireFormatError, match="OpeningRequest.memory_nonce: rejected by NonceRequest: nonce must"):
        from_pb(NonceRequest, request_message("c", 0, pb.NonceRequest(nonce=b"short"), deadline_s=1))


def test_envelopes_refuse_payloads_of_another_step() -> None:
    with pytest.raises(WireFormatError, match="Commitment: cannot carry a ComputeRequest"):
        commitment_message("c", ComputeRequest((1,)))
    env = opening_message("c", 0, NonceCommitment(H))
    with pytest.raises(WireFormatError, match=r"Opening.memory_nonce: expected a MemoryOpening, got a Nonce"):
        from_pb(MemoryOpening, env)


def test_node_messages_are_parsed_and_checked_from_bytes() -> None:
    good = pb.NodeMessage(pong=pb.Pong(seq=3, payload=b"x" * 16)).SerializeToString()
    assert parse_node_message(good).pong.seq == 3
    with pytest.raises(WireFormatError, match="NodeMessage: undecodable"):
        parse_node_message(b"\xff\xff\xff")
    big = pb.NodeMessage(pong=pb.Pong(seq=3, payload=b"x" * 65)).SerializeToString()
    with pytest.raises(WireFormatError, match="NodeMessage.pong.payload: 65 bytes"):
        parse_node_message(big)
    claim = claim_to_pb(NodeClaim("cpu", "m" * 300, 1, 1.0))
    hello = pb.NodeMessage(hello=pb.Hello(identity=pb.NodeIdentity(), claim=claim)).SerializeToString()
    with pytest.raises(WireFormatError, match="NodeMessage.hello.claim.device_model: 300 bytes"):
        parse_node_message(hello)


def test_claim_roundtrip_and_hello_presence() -> None:
    claim = NodeClaim("cuda", "H100", 80 << 30, 700.5, ("torch", "llama.cpp"), "agent/2", 3000.0)
    msg = _wire(claim_to_pb(claim))
    assert msg.claimed_matmul_tops == 700.5 and msg.memory_bandwidth_gbs == 3000.0
    assert claim_from_pb(msg) == claim
    msg.memory_bandwidth_gbs = math.inf
    with pytest.raises(WireFormatError, match="Claim.memory_bandwidth_gbs: not finite"):
        claim_from_pb(msg)
    hello = pb.Hello(claim=claim_to_pb(claim))
    with pytest.raises(WireFormatError, match="Hello.identity: missing"):
        hello_claim(hello)
    hello.identity.scheme = "ed25519"
    assert hello_claim(hello) == claim


def test_reply_limits_fit_real_answers_with_a_small_margin() -> None:
    spec = ComputeSpec(H, 1024, 64, 131, 32, 32, 64, 1.0)
    leaves = 64 * 32 * 32
    depth = (leaves - 1).bit_length()
    opening = ComputeOpening(tuple(b"\x07" * 1024 for _ in range(64)), tuple(H * depth for _ in range(64)))
    size = pb.NodeMessage(opening=opening_message("compute-0123abcd", 0, opening)).ByteSize()
    limit = reply_limit(spec, ComputeOpening)
    assert size <= limit <= 1.2 * size + CONTROL_MAX_BYTES
    mem = MemorySpec(H, 1 << 20, 256, 32, 128, 3, 8 << 30, 0.0)
    depth = (256 * 32 - 1).bit_length()
    blocks = tuple(b"\x01" * (1 << 20) for _ in range(128))
    proofs = tuple(H * depth for _ in range(128))
    mopen = MemoryOpening(blocks, proofs, blocks, proofs, proofs)
    size = pb.NodeMessage(opening=opening_message("memory-0123abcd", 1, mopen)).ByteSize()
    assert size <= reply_limit(mem, "MemoryOpening") <= 1.2 * size + CONTROL_MAX_BYTES
    inf = InferenceSpec(H, "m", ("p" * 200,) * 4, 64, 5)
    tokens = tuple(tuple(range(1000, 1300)) for _ in range(4))  # more prompt tokens than prompt bytes
    gen = tuple(tuple(range(100_000, 100_064)) for _ in range(4))
    lps = tuple(tuple(-1.5 for _ in range(64)) for _ in range(4))
    tops = tuple(tuple(range(100_000, 100_320)) for _ in range(4))
    tlps = tuple(tuple(-2.5 for _ in range(320)) for _ in range(4))
    answer = InferenceAnswer(tokens, gen, lps, tops, tlps, ("length",) * 4, "llama.cpp")
    size = pb.NodeMessage(commitment=commitment_message("inference-0123abcd", answer)).ByteSize()
    assert size <= reply_limit(inf, InferenceAnswer) <= 4 * size + CONTROL_MAX_BYTES
    assert reply_limit(spec, ComputeCommitment) == CONTROL_MAX_BYTES


# ------------------------------------------------------------------ the dataclasses in poai/challenges


def _real_payload_types():
    from poai import kinds

    out = []
    for name in ("compute", "memory"):
        kind = kinds.get(name)
        out += [kind.spec_type, kind.commitment_type, *kind.payload_types]
        module = kind.module
        for cls_name in ("ComputeOpening", "MemoryOpening", "NonceCommitment", "NonceRequest", "MemoryRequest"):
            if hasattr(module, cls_name):
                out.append(getattr(module, cls_name))
    from poai.challenges import inference
    from poai.kinds import TokenTick as RealTick

    out += [inference.InferenceSpec, inference.InferenceAnswer, RealTick]
    return sorted(set(out), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _real_payload_types(), ids=lambda c: c.__name__)
def test_challenge_dataclasses_match_the_proto(cls) -> None:
    """Each payload dataclass in the tree maps onto its message field by field (same names, same kinds)."""
    from poai.wire import _plan

    _plan(cls)


def test_real_compute_messages_roundtrip() -> None:
    from poai.challenges import compute
    from poai.challenges.common import Budget

    rng = np.random.default_rng(1)
    spec = compute.make_spec(Budget.lightweight(), rng)
    work = compute.NodeWork(spec, "cpu")
    commitment = work.run()
    request = compute.choose_openings(spec, commitment, rng)
    opening = work.open(request)
    env = _wire(spec_message("c", spec, deadline_s=1.0))
    assert from_pb(compute.ComputeSpec, env) == spec
    assert from_pb(compute.ComputeCommitment, _wire(commitment_message("c", commitment))) == commitment
    assert from_pb(compute.ComputeRequest, _wire(request_message("c", 0, request, deadline_s=1))) == request
    wire_opening = opening_message("c", 0, opening)
    assert pb.NodeMessage(opening=wire_opening).ByteSize() <= reply_limit(spec, compute.ComputeOpening)
    back = from_pb(compute.ComputeOpening, _wire(wire_opening))
    check = compute.verify(spec, commitment, request, back)
    assert check.passed, check.reason
