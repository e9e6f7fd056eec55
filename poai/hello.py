"""PoAI's signed hello: the generic hello of `edge_sdk.identity` with PoAI's domain, audience and payload.

The audience is the challenger id and the payload the node's claim (poai/claim.py), so the signed bytes are
(proto/PROTOCOL.md "Canonical hello bytes"; vectors in proto/test_vectors.json):

    "edgeproof-poai-hello/v2"                       23 ASCII bytes, no length prefix
    lp(nonce) lp(challenger_id) lp(scheme) lp(public_key) lp(node_id)
    claim: lp(device_kind) lp(device_model) u64(memory_bytes) f64(claimed_matmul_tops)
           f64(memory_bandwidth_gbs) u32(len(backends)) lp(backend)... lp(agent_version)

After the generic checks (`edge_sdk.identity.verify_signed_hello`), the challenger also refuses a claim no
real device could have (`NodeClaim.problems`).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.identity import HelloRejected, NodeKey, NonceRegistry
from edge_sdk.identity import hello as generic
from poai.claim import NodeClaim

HELLO_DOMAIN = b"edgeproof-poai-hello/v2"


def hello_bytes(
    *, nonce: bytes, challenger_id: str, scheme: str, public_key: bytes, node_id: str, claim: NodeClaim
) -> bytes:
    """The canonical bytes a PoAI hello signs (module docstring)."""
    return generic.hello_bytes(
        domain=HELLO_DOMAIN,
        nonce=nonce,
        audience_id=challenger_id,
        scheme=scheme,
        public_key=public_key,
        node_id=node_id,
        payload=claim.canonical_bytes(),
    )


def sign_hello(key: NodeKey, nonce: bytes, claim: NodeClaim, challenger_id: str) -> bytes:
    """`key`'s signature over the hello for `challenger_id`, carrying `claim` and the session's `nonce`."""
    return generic.sign_hello(
        key, domain=HELLO_DOMAIN, nonce=nonce, audience_id=challenger_id, payload=claim.canonical_bytes()
    )


def default_challenger_id(address: str) -> str:
    """The challenger id for `address` ("HOST:PORT"): what a challenger without a configured id calls
    itself, and what a node expects by default from the address it dials (so a hello signed for one
    address is useless at another)."""
    return f"challenger@{address}"


@dataclass(frozen=True)
class VerifiedHello:
    node_id: str
    scheme: str
    public_key: bytes
    claim: NodeClaim


def verify_hello(
    *,
    scheme: str,
    public_key: bytes,
    node_id: str,
    claim: NodeClaim,
    nonce: bytes,
    challenger_id: str,
    signature: bytes,
    issued_nonce: bytes,
    expected_challenger_id: str,
    nonces: NonceRegistry,
    allowed_node_ids: frozenset[str] | None = None,
) -> VerifiedHello:
    """Every check a hello must pass (raises HelloRejected), in an order that gives the most useful reason
    first: the generic identity checks, then the claim's values."""
    who = generic.verify_signed_hello(
        domain=HELLO_DOMAIN,
        scheme=scheme,
        public_key=public_key,
        node_id=node_id,
        nonce=nonce,
        audience_id=challenger_id,
        payload=claim.canonical_bytes,
        signature=signature,
        issued_nonce=issued_nonce,
        expected_audience_id=expected_challenger_id,
        nonces=nonces,
        allowed_node_ids=allowed_node_ids,
        audience_name="challenger",
        payload_name="claim",
    )
    problems = claim.problems()
    if problems:
        raise HelloRejected("malformed_claim", "claim rejected: " + "; ".join(problems))
    return VerifiedHello(node_id=who.node_id, scheme=who.scheme, public_key=who.public_key, claim=claim)
