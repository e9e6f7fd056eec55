"""Node identity shared by every service that admits nodes: keys, key files, nonces and signed hellos.

A node has one key (an ed25519 key file or its Bittensor hotkey) and proves it to a service (the PoAI
challenger, the federation coordinator) by signing that service's fresh nonce in a hello. What a hello
carries beyond the identity (its domain string and payload) belongs to the service that defines it.
"""

from edge_sdk.identity.hello import (
    HelloRejected,
    NonceConsumer,
    VerifiedIdentity,
    hello_bytes,
    lp,
    lp_str,
    sign_hello,
    verify_signed_hello,
)
from edge_sdk.identity.keys import (
    KEY_FILE_VERSION,
    SCHEMES,
    KeyFileError,
    NodeKey,
    Scheme,
    ed25519_node_id,
    expected_node_id,
    verify_signature,
)
from edge_sdk.identity.nonces import NONCE_BYTES, NonceRegistry

__all__ = [
    "KEY_FILE_VERSION",
    "NONCE_BYTES",
    "SCHEMES",
    "HelloRejected",
    "KeyFileError",
    "NodeKey",
    "NonceConsumer",
    "NonceRegistry",
    "Scheme",
    "VerifiedIdentity",
    "ed25519_node_id",
    "expected_node_id",
    "hello_bytes",
    "lp",
    "lp_str",
    "sign_hello",
    "verify_signature",
    "verify_signed_hello",
]
