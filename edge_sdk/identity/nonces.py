"""Single-use, expiring nonces that a service issues for nodes to sign in their hello.

A signed hello is only worth something if it cannot be replayed: the service issues a fresh nonce per
session, the node signs it, and the service accepts each nonce once and only for a short time.
"""

from __future__ import annotations

import secrets
import threading
import time

from edge_sdk.identity.hello import HelloRejected

NONCE_BYTES = 32


class NonceRegistry:
    """Issued nonces: single use, expiring, bounded memory. Thread-safe."""

    def __init__(self, ttl_s: float = 30.0, max_outstanding: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_outstanding = max_outstanding
        self._issued: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        now = time.monotonic()
        with self._lock:
            if len(self._issued) >= self.max_outstanding:
                self._purge(now)
            if len(self._issued) >= self.max_outstanding:  # still full: drop the oldest
                oldest = min(self._issued, key=self._issued.__getitem__)
                del self._issued[oldest]
            self._issued[nonce] = now + self.ttl_s
        return nonce

    def consume(self, nonce: bytes) -> None:
        """Accept `nonce` once; raise HelloRejected when unknown, already used or expired."""
        now = time.monotonic()
        with self._lock:
            expiry = self._issued.pop(nonce, None)
        if expiry is None:
            raise HelloRejected(
                "replayed_nonce", "hello nonce was not issued for this session or is already used"
            )
        if now > expiry:
            raise HelloRejected("expired_nonce", f"hello nonce expired (valid for {self.ttl_s:.0f} s)")

    def discard(self, nonce: bytes) -> None:
        with self._lock:
            self._issued.pop(nonce, None)

    def _purge(self, now: float) -> None:
        for n in [n for n, exp in self._issued.items() if exp < now]:
            del self._issued[n]

    def __len__(self) -> int:
        return len(self._issued)
