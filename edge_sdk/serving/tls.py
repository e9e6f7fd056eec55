"""TLS for the services devices dial (PoAI challenger, federation coordinator): gRPC credentials from PEM files,
with errors that name the file.

Why: the hello is signed, so a man in the middle cannot impersonate a node, but without TLS it can read and
delay the stream (the relay cheat) and see every claim. The challenger serves TLS when it is given a
certificate and key; nodes then dial with the CA that signed that certificate (or the system roots).
"""

from __future__ import annotations

from pathlib import Path

import grpc

from edge_sdk.errors import EdgeProofError


class TLSConfigError(EdgeProofError):
    """A certificate, key or CA file is missing, unreadable or not PEM."""


def _read_pem(path: str | Path, what: str) -> bytes:
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TLSConfigError(f"cannot read the TLS {what} {p}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise TLSConfigError(f"the TLS {what} {p} is not a PEM file (no '-----BEGIN' line)")
    return data


def server_credentials(cert_file: str | None, key_file: str | None) -> grpc.ServerCredentials | None:
    """Credentials for `add_secure_port`, or None when neither file is given (plaintext, e.g. loopback)."""
    if not cert_file and not key_file:
        return None
    if not cert_file or not key_file:
        raise TLSConfigError(
            "TLS needs both a certificate and its private key (--tls-cert and --tls-key); only one was given"
        )
    cert, key = _read_pem(cert_file, "certificate"), _read_pem(key_file, "private key")
    if b"PRIVATE KEY-----" not in key:
        raise TLSConfigError(f"the TLS private key {key_file} holds no PEM private key")
    return grpc.ssl_server_credentials([(key, cert)])


def channel_credentials(ca_file: str | None) -> grpc.ChannelCredentials:
    """Credentials that trust `ca_file` (PEM), or the system's roots when it is None."""
    return grpc.ssl_channel_credentials(_read_pem(ca_file, "CA certificate") if ca_file else None)
