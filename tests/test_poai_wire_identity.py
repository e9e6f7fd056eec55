"""PoAI's signed hello (poai/hello.py): what it binds and the challenger's checks on it (real ed25519 /
sr25519 signatures). Keys, key files and nonces on their own: tests/test_identity.py."""

from __future__ import annotations

import importlib.util
import dataclasses
import math
import struct

import pytest

from edge_sdk.identity import HelloRejected, NodeKey, NonceRegistry, verify_signature
from poai.claim import NodeClaim
from poai.hello import default_challenger_id, hello_bytes, sign_hello, verify_hello

HAS_BT = importlib.util.find_spec("bittensor") is not None
SCHEMES = ["ed25519"] + (["sr25519"] if HAS_BT else [])
CLAIM = NodeClaim("cpu", "test cpu", 1 << 28, 0.05, ("torch",), "test")


def _hello(key: NodeKey, nonces: NonceRegistry, **over):
    nonce = nonces.issue()
    args = dict(
        scheme=key.scheme,
        public_key=key.public_key,
        node_id=key.node_id,
        claim=CLAIM,
        nonce=nonce,
        challenger_id="ch-1",
        signature=sign_hello(key, nonce, CLAIM, "ch-1"),
        issued_nonce=nonce,
        expected_challenger_id="ch-1",
        nonces=nonces,
    )
    args.update(over)
    return args


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sign_and_verify_roundtrip(scheme: str) -> None:
    key = NodeKey.generate(scheme)
    nonces = NonceRegistry()
    verified = verify_hello(**_hello(key, nonces))
    assert verified.node_id == key.node_id and verified.claim == CLAIM
    if scheme == "sr25519":
        assert key.node_id.startswith("5") and len(key.node_id) == 48  # ss58, generic substrate prefix


@pytest.mark.skipif(not HAS_BT, reason="bittensor not installed")
def test_bittensor_wallet_hotkey(tmp_path) -> None:
    import bittensor

    wallet = bittensor.Wallet("w", "h", path=str(tmp_path))
    wallet.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    key = NodeKey.from_wallet("w", "h", str(tmp_path))
    assert key.node_id == wallet.hotkey.ss58_address
    nonces = NonceRegistry()
    verify_hello(**_hello(key, nonces))


def _payload(key: NodeKey, **over):
    args = dict(
        nonce=b"n" * 32,
        challenger_id="ch",
        scheme=key.scheme,
        public_key=key.public_key,
        node_id=key.node_id,
        claim=CLAIM,
    )
    args.update(over)
    return hello_bytes(**args)


def test_every_bound_field_changes_the_signature() -> None:
    key = NodeKey.generate("ed25519")
    other = NodeKey.generate("ed25519")
    sig = sign_hello(key, b"n" * 32, CLAIM, "ch")
    assert verify_signature("ed25519", key.public_key, _payload(key), sig)
    for claim_change in (
        dict(claimed_tflops=0.06),
        dict(memory_bytes=(1 << 28) + 1),
        dict(memory_bandwidth_gbs=1.0),
        dict(backends=("torch", "onnx")),
        dict(backends=()),
        dict(device_model="test cpu "),
        dict(agent_version="test2"),
        dict(device_kind="edge"),
    ):
        changed = dataclasses.replace(CLAIM, **claim_change)
        assert not verify_signature("ed25519", key.public_key, _payload(key, claim=changed), sig), claim_change
    for payload in (
        _payload(key, nonce=b"m" * 32),
        _payload(key, challenger_id="ch2"),
        _payload(key, node_id=other.node_id),
        _payload(key, public_key=other.public_key),
        _payload(key, scheme="sr25519"),
    ):
        assert not verify_signature("ed25519", key.public_key, payload, sig)


def test_canonical_bytes_layout() -> None:
    """The documented layout (PROTOCOL.md), rebuilt here by hand with struct."""
    key = NodeKey.from_seed(bytes(32))
    claim = NodeClaim("cuda", "H100", 80 << 30, 700.25, ("torch", "llama.cpp"), "agent/2", 3000.5)
    got = hello_bytes(
        nonce=b"\x01" * 32,
        challenger_id="challenger@example:50061",
        scheme=key.scheme,
        public_key=key.public_key,
        node_id=key.node_id,
        claim=claim,
    )

    def lp(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    want = (
        b"edgeproof-poai-hello/v2"
        + lp(b"\x01" * 32)
        + lp(b"challenger@example:50061")
        + lp(b"ed25519")
        + lp(key.public_key)
        + lp(key.node_id.encode())
        + lp(b"cuda")
        + lp(b"H100")
        + struct.pack(">Q", 80 << 30)
        + struct.pack(">d", 700.25)
        + struct.pack(">d", 3000.5)
        + struct.pack(">I", 2)
        + lp(b"torch")
        + lp(b"llama.cpp")
        + lp(b"agent/2")
    )
    assert got == want
    # no ambiguity between fields: moving bytes from one string to the next changes the encoding
    a = NodeClaim("cpu", "ab", 1, 1.0, ("c",), "")
    b = NodeClaim("cpu", "a", 1, 1.0, ("bc",), "")
    assert a.canonical_bytes() != b.canonical_bytes()
    assert NodeClaim("cpu", "é", 1, 1.0).canonical_bytes().count("é".encode()) == 1  # UTF-8


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_claims_have_no_canonical_form(bad: float) -> None:
    claim = NodeClaim("cpu", "x", 1 << 20, bad)
    with pytest.raises(ValueError, match="finite"):
        claim.canonical_bytes()
    key = NodeKey.generate()
    nonces = NonceRegistry()
    nonce = nonces.issue()
    good_sig = sign_hello(key, nonce, CLAIM, "c")
    with pytest.raises(HelloRejected) as err:
        verify_hello(**_hello(key, nonces, claim=claim, nonce=nonce, issued_nonce=nonce, signature=good_sig))
    assert err.value.code == "malformed_claim"


def test_default_challenger_id_is_the_dialed_address() -> None:
    assert default_challenger_id("validator.example:50061") == "challenger@validator.example:50061"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            lambda k, a: a.update(signature=bytes([a["signature"][0] ^ 1]) + a["signature"][1:]),
            "bad_signature",
        ),
        (
            lambda k, a: a.update(signature=sign_hello(NodeKey.generate(), a["nonce"], CLAIM, "ch-1")),
            "bad_signature",
        ),
        (lambda k, a: a.update(node_id=NodeKey.generate().node_id), "identity_mismatch"),
        (lambda k, a: a.update(challenger_id="other", expected_challenger_id="ch-1"), "wrong_challenger"),
        (lambda k, a: a.update(nonce=b"x" * 32), "replayed_nonce"),
        (lambda k, a: a.update(scheme="rsa"), "unknown_scheme"),
        (lambda k, a: a.update(public_key=b"short"), "malformed_hello"),
        (lambda k, a: a.update(allowed_node_ids=frozenset({"someone-else"})), "not_registered"),
    ],
)
def test_bad_hellos_are_refused_with_a_code(change, code: str) -> None:
    key = NodeKey.generate("ed25519")
    args = _hello(key, NonceRegistry())
    change(key, args)
    with pytest.raises(HelloRejected) as err:
        verify_hello(**args)
    assert err.value.code == code
    assert str(err.value)


def test_nonce_is_single_use_and_expires() -> None:
    key = NodeKey.generate("ed25519")
    nonces = NonceRegistry(ttl_s=30)
    args = _hello(key, nonces)
    verify_hello(**args)
    with pytest.raises(HelloRejected) as err:
        verify_hello(**args)  # the same hello again
    assert err.value.code == "replayed_nonce"
    expiring = NonceRegistry(ttl_s=0.0)
    args = _hello(key, expiring)
    with pytest.raises(HelloRejected) as err:
        verify_hello(**args)
    assert err.value.code == "expired_nonce"


def test_absurd_claims_are_refused() -> None:
    key = NodeKey.generate("ed25519")
    bad = NodeClaim("toaster", "x", 0, -1.0)
    nonces = NonceRegistry()
    nonce = nonces.issue()
    with pytest.raises(HelloRejected) as err:
        verify_hello(
            scheme="ed25519",
            public_key=key.public_key,
            node_id=key.node_id,
            claim=bad,
            nonce=nonce,
            challenger_id="c",
            signature=sign_hello(key, nonce, bad, "c"),
            issued_nonce=nonce,
            expected_challenger_id="c",
            nonces=nonces,
        )
    assert err.value.code == "malformed_claim"
    assert "device_kind" in str(err.value) and "memory_bytes" in str(err.value)
