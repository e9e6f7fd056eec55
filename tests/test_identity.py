"""The generic identity layer (edge_sdk.identity): keys, key files, nonces, and signed hellos with any
domain and payload. PoAI's own hello (domain, claim, challenger checks): tests/test_poai_wire_identity.py."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import struct

import pytest

from edge_sdk.identity import (
    HelloRejected,
    KeyFileError,
    NodeKey,
    NonceRegistry,
    expected_node_id,
    hello_bytes,
    sign_hello,
    verify_signature,
    verify_signed_hello,
)

HAS_BT = importlib.util.find_spec("bittensor") is not None
SCHEMES = ["ed25519"] + (["sr25519"] if HAS_BT else [])
DOMAIN = b"edgeproof-test-hello/v1"
PAYLOAD = b"round 7 of task mnist-lora"


def _args(key: NodeKey, nonces: NonceRegistry, domain: bytes = DOMAIN, **over):
    nonce = nonces.issue()
    args = dict(
        domain=domain,
        scheme=key.scheme,
        public_key=key.public_key,
        node_id=key.node_id,
        nonce=nonce,
        audience_id="coordinator-1",
        payload=PAYLOAD,
        signature=sign_hello(key, domain=domain, nonce=nonce, audience_id="coordinator-1", payload=PAYLOAD),
        issued_nonce=nonce,
        expected_audience_id="coordinator-1",
        nonces=nonces,
        audience_name="coordinator",
    )
    args.update(over)
    return args


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hello_with_any_domain_and_payload_roundtrips(scheme: str) -> None:
    key = NodeKey.generate(scheme)
    verified = verify_signed_hello(**_args(key, NonceRegistry()))
    assert (verified.node_id, verified.scheme, verified.public_key) == (key.node_id, scheme, key.public_key)


def test_hello_bytes_layout() -> None:
    def lp(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    got = hello_bytes(
        domain=b"dom",
        nonce=b"\x02" * 4,
        audience_id="aud",
        scheme="ed25519",
        public_key=b"\x03" * 32,
        node_id="n",
        payload=b"tail",
    )
    assert (
        got == b"dom" + lp(b"\x02" * 4) + lp(b"aud") + lp(b"ed25519") + lp(b"\x03" * 32) + lp(b"n") + b"tail"
    )


def test_a_signature_for_one_domain_does_not_verify_under_another() -> None:
    key = NodeKey.generate()
    nonces = NonceRegistry()
    args = _args(key, nonces, domain=b"edgeproof-other-hello/v1")  # signed for another protocol
    args["domain"] = DOMAIN
    with pytest.raises(HelloRejected) as err:
        verify_signed_hello(**args)
    assert err.value.code == "bad_signature"
    args = _args(key, nonces, payload=PAYLOAD + b"!")  # payload changed after signing
    with pytest.raises(HelloRejected) as err:
        verify_signed_hello(**args)
    assert err.value.code == "bad_signature"


def test_codes_and_messages_name_the_audience_and_payload() -> None:
    key = NodeKey.generate()
    with pytest.raises(HelloRejected) as err:
        verify_signed_hello(**_args(key, NonceRegistry(), audience_id="elsewhere"))
    assert err.value.code == "wrong_coordinator" and "addressed to coordinator 'elsewhere'" in str(err.value)
    with pytest.raises(HelloRejected) as err:
        verify_signed_hello(**_args(key, NonceRegistry(), allowed_node_ids=frozenset()))
    assert err.value.code == "not_registered" and "coordinator's list" in str(err.value)

    def no_canonical_form() -> bytes:
        raise ValueError("NaN")

    with pytest.raises(HelloRejected) as err:
        verify_signed_hello(**_args(key, NonceRegistry(), payload=no_canonical_form, payload_name="update"))
    assert err.value.code == "malformed_update" and "update has no canonical form: NaN" in str(err.value)


def test_payload_is_built_only_after_the_identity_checks() -> None:
    key = NodeKey.generate()
    calls = []

    def payload() -> bytes:
        calls.append(1)
        return PAYLOAD

    with pytest.raises(HelloRejected) as err:
        verify_signed_hello(
            **_args(key, NonceRegistry(), payload=payload, node_id=NodeKey.generate().node_id)
        )
    assert err.value.code == "identity_mismatch" and calls == []
    verify_signed_hello(**_args(key, NonceRegistry(), payload=payload))
    assert calls == [1]


def test_expected_node_id() -> None:
    key = NodeKey.from_seed(bytes(32))
    assert expected_node_id("ed25519", key.public_key) == key.node_id == "ed25519:" + key.public_key.hex()
    with pytest.raises(ValueError, match="unknown key scheme"):
        expected_node_id("rsa", key.public_key)


@pytest.mark.skipif(not HAS_BT, reason="bittensor not installed")
def test_dev_uri_key_is_alice() -> None:
    key = NodeKey.from_uri("//Alice")
    assert key.node_id == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


def test_nonce_registry_is_bounded() -> None:
    reg = NonceRegistry(ttl_s=60, max_outstanding=10)
    issued = [reg.issue() for _ in range(25)]
    assert len(reg) <= 10
    reg.consume(issued[-1])
    with pytest.raises(HelloRejected):
        reg.consume(issued[0])  # dropped as the oldest


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
    assert [p.name for p in path.parent.iterdir()] == ["node.key"]  # no temp file left


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
