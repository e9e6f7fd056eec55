"""Node keys: the signing key a node proves its identity with, and the key files that hold them.

Shared by every service that admits nodes by key (the PoAI challenger, the federation coordinator), so a
node has one identity everywhere. Two key kinds:

- sr25519, the Bittensor hotkey (bittensor's wallet / `bittensor.sp_core.Keypair`); node id = ss58 address.
  Needs the `chain` extra (bittensor 11) on both sides.
- ed25519 in a generated key file (the `cryptography` package), for nodes outside Bittensor;
  node id = "ed25519:<hex public key>".

Key files are JSON, written atomically with mode 0600, and refused on load when others can read them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from edge_sdk.errors import EdgeProofError

Scheme = Literal["sr25519", "ed25519"]
SCHEMES: tuple[str, ...] = ("sr25519", "ed25519")
KEY_FILE_VERSION = 1


class KeyFileError(EdgeProofError):
    """A node key file that is missing, unreadable, malformed or readable by others."""


def _sp_core() -> Any:
    """bittensor's sp_core (sr25519), imported only when an sr25519 key is used: it is an optional extra."""
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
        fd, tmp = tempfile.mkstemp(prefix=".edgeproof-key-", dir=str(path.parent))
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

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.public_key).hexdigest()[:16]


def expected_node_id(scheme: str, public_key: bytes) -> str:
    """The node id a public key must carry (so a hello cannot pair one key with another's id).

    Raises ValueError for an unknown scheme or a public key that is not a valid key of `scheme`.
    """
    if scheme == "ed25519":
        return ed25519_node_id(public_key)
    if scheme == "sr25519":
        return str(_sp_core().ss58_encode(public_key))
    raise ValueError(f"unknown key scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


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
