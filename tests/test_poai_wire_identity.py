"""Node keys, key files and the challenger's hello checks (real ed25519 / sr25519 signatures)."""

from __future__ import annotations

import importlib.util
import dataclasses
import json
import math
import os
import stat
import struct

import pytest

from poai.identity import (
    HelloRejected,
    KeyFileError,
    NodeClaim,
    NodeKey,
    NonceRegistry,
    default_challenger_id,
    hello_bytes,
    verify_hello,
    verify_signature,
)

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
        signature=key.sign_hello(nonce, CLAIM, "ch-1"),
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
def test_dev_uri_key_is_alice() -> None:
    key = NodeKey.from_uri("//Alice")
    assert key.node_id == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


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
    sig = key.sign_hello(b"n" * 32, CLAIM, "ch")
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
    got = key.hello_bytes(b"\x01" * 32, claim, "challenger@example:50061")

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
    good_sig = key.sign_hello(nonce, CLAIM, "c")
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
            lambda k, a: a.update(signature=NodeKey.generate().sign_hello(a["nonce"], CLAIM, "ch-1")),
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


def test_nonce_registry_is_bounded() -> None:
    reg = NonceRegistry(ttl_s=60, max_outstanding=10)
    issued = [reg.issue() for _ in range(25)]
    assert len(reg) <= 10
    reg.consume(issued[-1])
    with pytest.raises(HelloRejected):
        reg.consume(issued[0])  # dropped as the oldest


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
            signature=key.sign_hello(nonce, bad, "c"),
            issued_nonce=nonce,
            expected_challenger_id="c",
            nonces=nonces,
        )
    assert err.value.code == "malformed_claim"
    assert "device_kind" in str(err.value) and "memory_bytes" in str(err.value)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_key_file_roundtrip_and_permissions(tmp_path, scheme: str) -> None:
    key = NodeKey.generate(scheme)
    path = key.save(tmp_path / "sub" / "node.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["scheme"] == scheme and doc["node_id"] == key.node_id
    loaded = NodeKey.load(path)
    assert loaded.node_id == key.node_id and loaded.public_key == key.public_key
    assert verify_signature(scheme, key.public_key, b"m", loaded.sign(b"m"))
    with pytest.raises(KeyFileError, match="already exists"):
        key.save(path)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".poai-key-")]  # no temp left


def test_key_file_errors_say_what_to_do(tmp_path) -> None:
    with pytest.raises(KeyFileError, match="keygen"):
        NodeKey.load(tmp_path / "missing.key")
    path = NodeKey.generate().save(tmp_path / "k")
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        NodeKey.load(path)
    os.chmod(path, 0o600)
    doc = json.loads(path.read_text())
    doc["public_key_hex"] = "00" * 32
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="corrupt"):
        NodeKey.load(path)
    path.write_text("{not json")
    with pytest.raises(KeyFileError, match="not a valid"):
        NodeKey.load(path)
