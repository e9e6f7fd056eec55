"""Node keys, the signed hello, and the challenger's checks on it.

A node proves who it is by signing, with its key, the challenger's fresh nonce together with its claim,
its own identity and the challenger's id. Binding them all means: a captured hello cannot be replayed (the
nonce is single use and expires), cannot be relayed to another challenger (its id is signed; the node also
refuses to sign for a challenger id it does not expect), and the claim cannot be altered in flight.

What is signed is `hello_bytes(...)`: a byte layout any language reproduces (proto/PROTOCOL.md, "Canonical
hello bytes"; vectors in proto/test_vectors.json), never protobuf serialisation or JSON:

    "edgeproof-poai-hello/v2"                       23 ASCII bytes, no length prefix
    lp(nonce) lp(challenger_id) lp(scheme) lp(public_key) lp(node_id)
    claim: lp(device_kind) lp(device_model) u64(memory_bytes) f64(claimed_matmul_tops)
           f64(memory_bandwidth_gbs) u32(len(backends)) lp(backend)... lp(agent_version)

lp(x) = u32(len(x)) || x; strings are UTF-8; u32/u64 are unsigned big-endian; f64 is the IEEE-754 binary64
bit pattern, big-endian.

Two key kinds:
- sr25519, the Bittensor hotkey (bittensor's wallet / `bittensor.sp_core.Keypair`); node id = ss58 address.
  Needs the `chain` extra (bittensor 11) on both sides.
- ed25519 in a generated key file (the `cryptography` package), for nodes outside Bittensor;
  node id = "ed25519:<hex public key>".
Key files are JSON, written atomically with mode 0600, and refused on load when others can read them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import stat
import struct
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from edge_sdk.errors import EdgeProofError

Scheme = Literal["sr25519", "ed25519"]
SCHEMES: tuple[str, ...] = ("sr25519", "ed25519")
HELLO_DOMAIN = b"edgeproof-poai-hello/v2"
KEY_FILE_VERSION = 1
NONCE_BYTES = 32


class KeyFileError(EdgeProofError):
    """A node key file that is missing, unreadable, malformed or readable by others."""


class HelloRejected(EdgeProofError):
    """The challenger refused a hello. `code` is short and stable (metrics label); the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------- claim


@dataclass(frozen=True)
class NodeClaim:
    """What a node says it has. Signed in the hello; every number is then measured, never trusted.

    A superset of the challenges' `poai.challenges.common.Claim` (which sizes the plan): it also lists the
    inference backends the node can run. `to_core()` gives the challenges' view.
    """

    device_kind: str  # one of poai.challenges.common.DEVICE_KINDS: "cpu", "cuda", "mps", "edge"
    device_model: str  # GPU model or CPU brand
    memory_bytes: int  # memory offered for the memory challenge
    claimed_tflops: float  # exact small-integer matmul throughput claimed, 10^12 ops/s (see compute.py)
    backends: tuple[str, ...] = ()  # inference backends it can run ("llama.cpp", "torch", ...)
    agent_version: str = ""
    # Bandwidth of the memory challenge's nonce pass, GB/s (self-measured; 0: none claimed). Last in Python so
    # positional NodeClaim(kind, model, memory, tops, backends, version) calls keep working; on the wire and
    # in the signed bytes it comes right after claimed_tflops (proto/PROTOCOL.md).
    memory_bandwidth_gbs: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.backends, str):
            raise TypeError("NodeClaim.backends is a tuple of names, not a string")
        object.__setattr__(self, "backends", tuple(self.backends))

    def canonical_bytes(self) -> bytes:
        """The claim's part of the canonical hello bytes (module docstring, PROTOCOL.md).

        Raises ValueError for values that have no canonical form (an integer outside u64, a NaN or infinite
        float, a backend list longer than 2^32): such a claim cannot be signed or verified.
        """
        memory = int(self.memory_bytes)
        if not 0 <= memory < 2**64:
            raise ValueError(f"memory_bytes {memory} does not fit an unsigned 64-bit integer")
        floats = (float(self.claimed_tflops), float(self.memory_bandwidth_gbs))
        if not all(math.isfinite(x) for x in floats):
            raise ValueError("claimed_tflops and memory_bandwidth_gbs must be finite")
        return b"".join(
            (
                _lp_str(self.device_kind),
                _lp_str(self.device_model),
                struct.pack(">Q", memory),
                struct.pack(">d", floats[0]),
                struct.pack(">d", floats[1]),
                struct.pack(">I", len(self.backends)),
                *(_lp_str(b) for b in self.backends),
                _lp_str(self.agent_version),
            )
        )

    def to_json(self) -> dict[str, Any]:
        """A plain dict of the claim, for logs and reports (not what is signed)."""
        d = asdict(self)
        d["backends"] = list(self.backends)
        return d

    def problems(self) -> list[str]:
        """Values no real device has (checked before any work is planned)."""
        from poai.challenges.common import DEVICE_KINDS

        out = []
        if self.device_kind not in DEVICE_KINDS:
            out.append(f"device_kind must be one of {', '.join(DEVICE_KINDS)}, got {self.device_kind[:32]!r}")
        if len(self.device_model) > 256:
            out.append("device_model is longer than 256 characters")
        if not (0 < self.memory_bytes <= 2**50):
            out.append(f"memory_bytes must be in (0, 1 PiB], got {self.memory_bytes}")
        if not (0.0 < self.claimed_tflops <= 1.0e4) or self.claimed_tflops != self.claimed_tflops:
            out.append(f"claimed_tflops must be in (0, 10000], got {self.claimed_tflops}")
        bandwidth = self.memory_bandwidth_gbs
        if not (0.0 <= bandwidth <= 1.0e5) or bandwidth != bandwidth:
            out.append(f"memory_bandwidth_gbs must be in [0, 100000], got {bandwidth}")
        if len(self.backends) > 16 or any((not b) or len(b.encode()) > 32 for b in self.backends):
            out.append("backends must be at most 16 short non-empty names")
        if len(self.agent_version.encode()) > 128:
            out.append("agent_version is longer than 128 bytes")
        return out

    def to_core(self) -> Any:
        """The claim as the challenges and the scorer see it (`poai.challenges.common.Claim`)."""
        from poai.challenges.common import Claim

        return Claim(
            device_kind=self.device_kind,
            gpu_model=self.device_model,
            memory_bytes=int(self.memory_bytes),
            tflops=float(self.claimed_tflops),
            memory_bandwidth_gbs=float(self.memory_bandwidth_gbs),
        )


def _lp(data: bytes) -> bytes:
    """u32 big-endian length, then the bytes."""
    if len(data) >= 2**32:
        raise ValueError("a length-prefixed field must be shorter than 2^32 bytes")
    return struct.pack(">I", len(data)) + data


def _lp_str(text: str) -> bytes:
    return _lp(text.encode("utf-8"))


def hello_bytes(
    *, nonce: bytes, challenger_id: str, scheme: str, public_key: bytes, node_id: str, claim: NodeClaim
) -> bytes:
    """The canonical bytes a hello signs (module docstring; proto/PROTOCOL.md "Canonical hello bytes")."""
    return b"".join(
        (
            HELLO_DOMAIN,
            _lp(bytes(nonce)),
            _lp_str(challenger_id),
            _lp_str(scheme),
            _lp(bytes(public_key)),
            _lp_str(node_id),
            claim.canonical_bytes(),
        )
    )


def default_challenger_id(address: str) -> str:
    """The challenger id for `address` ("HOST:PORT"): what a challenger without a configured id calls
    itself, and what a node expects by default from the address it dials (so a hello signed for one
    address is useless at another)."""
    return f"challenger@{address}"


# ---------------------------------------------------------------------------------------------- keys


def _sp_core() -> Any:
    try:
        from bittensor import sp_core
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise KeyFileError(
            "sr25519 keys need bittensor 11 (pip install 'edgeproof[chain]'); "
            "or use an ed25519 key file: edgeproof poai keygen --scheme ed25519"
        ) from exc
    return sp_core


def ed25519_node_id(public_key: bytes) -> str:
    return "ed25519:" + public_key.hex()


@dataclass
class NodeKey:
    """A signing key and the public identity derived from it."""

    scheme: str
    public_key: bytes
    node_id: str
    _signer: Any = field(repr=False, default=None)
    _secret: bytes = field(repr=False, default=b"")

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def generate(cls, scheme: str = "ed25519") -> NodeKey:
        return cls.from_seed(secrets.token_bytes(32), scheme)

    @classmethod
    def from_seed(cls, seed: bytes, scheme: str = "ed25519") -> NodeKey:
        if len(seed) != 32:
            raise KeyFileError(f"a key seed is 32 bytes, got {len(seed)}")
        if scheme == "ed25519":
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            sk = Ed25519PrivateKey.from_private_bytes(seed)
            pub = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            return cls("ed25519", pub, ed25519_node_id(pub), sk, seed)
        if scheme == "sr25519":
            sp = _sp_core()
            kp = sp.Keypair.create_from_seed(seed, sp.CRYPTO_SR25519)
            return cls("sr25519", bytes(kp.public_key), kp.ss58_address, kp, seed)
        raise KeyFileError(f"unknown key scheme {scheme!r}: use one of {', '.join(SCHEMES)}")

    @classmethod
    def from_uri(cls, uri: str) -> NodeKey:
        """A development sr25519 key such as //Alice (never for real value)."""
        sp = _sp_core()
        kp = sp.Keypair.create_from_uri(uri)
        return cls("sr25519", bytes(kp.public_key), kp.ss58_address, kp)

    @classmethod
    def from_keypair(cls, keypair: Any) -> NodeKey:
        """Wrap a bittensor Keypair (e.g. `bittensor.Wallet(name, hotkey).hotkey`)."""
        sp = _sp_core()
        scheme = "sr25519" if keypair.crypto_type == sp.CRYPTO_SR25519 else "ed25519"
        if scheme == "ed25519":
            return cls(
                "ed25519", bytes(keypair.public_key), ed25519_node_id(bytes(keypair.public_key)), keypair
            )
        return cls("sr25519", bytes(keypair.public_key), keypair.ss58_address, keypair)

    @classmethod
    def from_wallet(cls, name: str, hotkey: str = "default", path: str | None = None) -> NodeKey:
        """The hotkey of a bittensor wallet on disk (`~/.bittensor/wallets/<name>/hotkeys/<hotkey>`)."""
        try:
            import bittensor
        except ImportError as exc:  # pragma: no cover
            raise KeyFileError("wallet keys need bittensor 11: pip install 'edgeproof[chain]'") from exc
        kwargs = {"path": path} if path else {}
        wallet = bittensor.Wallet(name, hotkey, **kwargs)
        try:
            return cls.from_keypair(wallet.hotkey)
        except Exception as exc:  # noqa: BLE001 - keyfile errors from the rust binding have no common base
            raise KeyFileError(f"cannot read the hotkey of {wallet!r}: {exc}") from exc

    # -- files ----------------------------------------------------------------------------------------
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write a 0600 JSON key file atomically (temp file in the same folder, fsync, rename)."""
        if not self._secret:
            raise KeyFileError("this key has no exportable seed (URI or wallet keys stay where they are)")
        path = Path(path).expanduser()
        if path.exists() and not overwrite:
            raise KeyFileError(f"{path} already exists; pass overwrite=True (CLI: --force) to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "version": KEY_FILE_VERSION,
            "scheme": self.scheme,
            "seed_hex": self._secret.hex(),
            "public_key_hex": self.public_key.hex(),
            "node_id": self.node_id,
        }
        fd, tmp = tempfile.mkstemp(prefix=".poai-key-", dir=str(path.parent))
        try:
            os.fchmod(fd, 0o600) if hasattr(os, "fchmod") else None
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> NodeKey:
        path = Path(path).expanduser()
        if not path.is_file():
            raise KeyFileError(f"no key file at {path}: create one with `edgeproof poai keygen --out {path}`")
        if os.name == "posix":
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise KeyFileError(
                    f"key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`"
                )
        try:
            doc = json.loads(path.read_text())
            scheme = doc["scheme"]
            seed = bytes.fromhex(doc["seed_hex"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"key file {path} is not a valid edgeproof key file: {exc}") from exc
        key = cls.from_seed(seed, scheme)
        if doc.get("public_key_hex") not in (None, key.public_key.hex()):
            raise KeyFileError(f"key file {path} is corrupt: its public key does not match its seed")
        return key

    # -- signing --------------------------------------------------------------------------------------
    def sign(self, message: bytes) -> bytes:
        if self._signer is None:
            raise KeyFileError("this is a public key only; it cannot sign")
        return bytes(self._signer.sign(message))

    def hello_bytes(self, nonce: bytes, claim: NodeClaim, challenger_id: str) -> bytes:
        """The canonical hello bytes with this key's identity."""
        return hello_bytes(
            nonce=nonce,
            challenger_id=challenger_id,
            scheme=self.scheme,
            public_key=self.public_key,
            node_id=self.node_id,
            claim=claim,
        )

    def sign_hello(self, nonce: bytes, claim: NodeClaim, challenger_id: str) -> bytes:
        return self.sign(self.hello_bytes(nonce, claim, challenger_id))

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.public_key).hexdigest()[:16]


def expected_node_id(scheme: str, public_key: bytes) -> str:
    """The node id a public key must carry (so a hello cannot pair one key with another's id)."""
    if scheme == "ed25519":
        return ed25519_node_id(public_key)
    if scheme == "sr25519":
        return str(_sp_core().ss58_encode(public_key))
    raise HelloRejected("unknown_scheme", f"unknown key scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def verify_signature(scheme: str, public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if scheme == "ed25519":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False
    if scheme == "sr25519":
        sp = _sp_core()
        try:
            return bool(sp.verify(message, signature, sp.ss58_encode(public_key), sp.CRYPTO_SR25519))
        except ValueError:
            return False
    return False


# ---------------------------------------------------------------------------------------------- nonces


class NonceRegistry:
    """Challenger-issued nonces: single use, expiring, bounded memory. Thread-safe."""

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
    """Every check a hello must pass, in an order that gives the most useful reason first."""
    if scheme not in SCHEMES:
        raise HelloRejected(
            "unknown_scheme", f"unknown key scheme {scheme!r}; use one of {', '.join(SCHEMES)}"
        )
    if len(public_key) != 32:
        raise HelloRejected("malformed_hello", f"public key must be 32 bytes, got {len(public_key)}")
    if challenger_id != expected_challenger_id:
        raise HelloRejected(
            "wrong_challenger",
            f"hello is addressed to challenger {challenger_id!r}, not {expected_challenger_id!r}",
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
            nonce=nonce,
            challenger_id=challenger_id,
            scheme=scheme,
            public_key=public_key,
            node_id=node_id,
            claim=claim,
        )
    except (ValueError, UnicodeError) as exc:
        raise HelloRejected("malformed_claim", f"claim has no canonical form: {exc}") from None
    if not verify_signature(scheme, public_key, signed, signature):
        raise HelloRejected("bad_signature", "hello signature does not verify against the claimed public key")
    if allowed_node_ids is not None and node_id not in allowed_node_ids:
        raise HelloRejected(
            "not_registered", f"node {node_id} is not in the challenger's list of allowed nodes"
        )
    problems = claim.problems()
    if problems:
        raise HelloRejected("malformed_claim", "claim rejected: " + "; ".join(problems))
    return VerifiedHello(node_id=node_id, scheme=scheme, public_key=public_key, claim=claim)
