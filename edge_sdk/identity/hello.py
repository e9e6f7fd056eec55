"""The signed hello: how a node proves, to one service and for one session, which key it holds.

The node signs the service's fresh nonce together with its own identity, the id of the service it talks to
(the audience) and a service-specific payload (for PoAI, the node's claim). Binding them all means: a
captured hello cannot be replayed (the nonce is single use and expires), cannot be relayed to another
service (the audience id is signed; a node refuses to sign for an audience it does not expect), and the
payload cannot be altered in flight. A per-service domain string keeps a hello for one protocol from
verifying in another.

What is signed is `hello_bytes(...)`, a byte layout any language reproduces (never protobuf or JSON):

    domain                                           ASCII bytes, no length prefix
    lp(nonce) lp(audience_id) lp(scheme) lp(public_key) lp(node_id)
    payload                                          the service's own canonical bytes

lp(x) = u32(len(x)) || x, u32 unsigned big-endian; strings are UTF-8. PoAI's instance (domain
"edgeproof-poai-hello/v2", audience = challenger id, payload = claim) is specified in proto/PROTOCOL.md
"Canonical hello bytes", with vectors in proto/test_vectors.json.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge_sdk.errors import EdgeProofError
from edge_sdk.identity.keys import SCHEMES, NodeKey, expected_node_id, verify_signature


class HelloRejected(EdgeProofError):
    """A service refused a hello. `code` is short and stable (metrics label); the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NonceConsumer(Protocol):
    """What the verifier needs from a nonce registry (`edge_sdk.identity.nonces.NonceRegistry`)."""

    def consume(self, nonce: bytes) -> None: ...


def lp(data: bytes) -> bytes:
    """u32 big-endian length, then the bytes."""
    if len(data) >= 2**32:
        raise ValueError("a length-prefixed field must be shorter than 2^32 bytes")
    return struct.pack(">I", len(data)) + data


def lp_str(text: str) -> bytes:
    """`lp` of the UTF-8 encoding of `text`."""
    return lp(text.encode("utf-8"))


def hello_bytes(
    *,
    domain: bytes,
    nonce: bytes,
    audience_id: str,
    scheme: str,
    public_key: bytes,
    node_id: str,
    payload: bytes,
) -> bytes:
    """The canonical bytes a hello signs (module docstring)."""
    return b"".join(
        (
            bytes(domain),
            lp(bytes(nonce)),
            lp_str(audience_id),
            lp_str(scheme),
            lp(bytes(public_key)),
            lp_str(node_id),
            bytes(payload),
        )
    )


def sign_hello(key: NodeKey, *, domain: bytes, nonce: bytes, audience_id: str, payload: bytes) -> bytes:
    """`key`'s signature over the hello bytes carrying its own identity."""
    return key.sign(
        hello_bytes(
            domain=domain,
            nonce=nonce,
            audience_id=audience_id,
            scheme=key.scheme,
            public_key=key.public_key,
            node_id=key.node_id,
            payload=payload,
        )
    )


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who sent a hello that passed every check of `verify_signed_hello`."""

    node_id: str
    scheme: str
    public_key: bytes


def verify_signed_hello(
    *,
    domain: bytes,
    scheme: str,
    public_key: bytes,
    node_id: str,
    nonce: bytes,
    audience_id: str,
    payload: bytes | Callable[[], bytes],
    signature: bytes,
    issued_nonce: bytes,
    expected_audience_id: str,
    nonces: NonceConsumer,
    allowed_node_ids: frozenset[str] | None = None,
    audience_name: str = "audience",
    payload_name: str = "payload",
) -> VerifiedIdentity:
    """Every generic check a hello must pass, in an order that gives the most useful reason first.

    `payload` is the payload's canonical bytes, or a function that builds them: it is then called only once
    the identity checks passed, and a ValueError or UnicodeError it raises (a value with no canonical form)
    is rejected as `malformed_<payload_name>`. `audience_name` names the verifying service in messages and
    in the `wrong_<audience_name>` code, so each service keeps its own stable codes. Checks of what the
    payload says are the caller's, after this returns.
    """
    if scheme not in SCHEMES:
        raise HelloRejected(
            "unknown_scheme", f"unknown key scheme {scheme!r}; use one of {', '.join(SCHEMES)}"
        )
    if len(public_key) != 32:
        raise HelloRejected("malformed_hello", f"public key must be 32 bytes, got {len(public_key)}")
    if audience_id != expected_audience_id:
        raise HelloRejected(
            f"wrong_{audience_name}",
            f"hello is addressed to {audience_name} {audience_id!r}, not {expected_audience_id!r}",
        )
    if nonce != issued_nonce:
        raise HelloRejected(
            "replayed_nonce", "hello signs a nonce that is not the one issued for this session"
        )
    nonces.consume(nonce)
    try:
        derived = expected_node_id(scheme, public_key)
    except ValueError as exc:
        raise HelloRejected("malformed_hello", f"public key is not a valid {scheme} key: {exc}") from None
    if node_id != derived:
        raise HelloRejected(
            "identity_mismatch", f"node id {node_id!r} does not belong to the public key sent"
        )
    try:
        signed = hello_bytes(
            domain=domain,
            nonce=nonce,
            audience_id=audience_id,
            scheme=scheme,
            public_key=public_key,
            node_id=node_id,
            payload=payload() if callable(payload) else payload,
        )
    except (ValueError, UnicodeError) as exc:
        raise HelloRejected(
            f"malformed_{payload_name}", f"{payload_name} has no canonical form: {exc}"
        ) from None
    if not verify_signature(scheme, public_key, signed, signature):
        raise HelloRejected("bad_signature", "hello signature does not verify against the claimed public key")
    if allowed_node_ids is not None and node_id not in allowed_node_ids:
        raise HelloRejected(
            "not_registered", f"node {node_id} is not in the {audience_name}'s list of allowed nodes"
        )
    return VerifiedIdentity(node_id=node_id, scheme=scheme, public_key=public_key)
