"""TLS on the challenger's port: a node that trusts the CA gets a session; plaintext or another CA does not."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest

from poai.node.agent import SessionError
from edge_sdk.serving.tls import TLSConfigError


def _write_ca_and_cert(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / f"{name}-ca.pem", folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_tls_session_and_refusals(poai_run, poai_agent, tmp_path) -> None:
    ca, cert, key = _write_ca_and_cert(tmp_path, "good")
    other_ca, _, _ = _write_ca_and_cert(tmp_path, "other")

    async def body(service):
        assert service.tls
        outcome = await poai_agent(service, tls_ca_file=str(ca)).run_once()
        with pytest.raises(SessionError, match="if it serves TLS, dial with --tls"):
            await poai_agent(service, connect_timeout_s=2.0).run_once()  # plaintext to a TLS port
        with pytest.raises(SessionError, match="signed by the CA you trust"):
            await poai_agent(service, tls_ca_file=str(other_ca), connect_timeout_s=2.0).run_once()
        return outcome, len(service.reports)

    outcome, recorded = poai_run(body, tls_cert_file=str(cert), tls_key_file=str(key))
    assert outcome.ok and outcome.score > 0, outcome.reasons
    assert recorded == 1  # the refused connections never reached a session


def test_tls_config_errors_name_the_file(poai_run, poai_agent, tmp_path) -> None:
    _, cert, _ = _write_ca_and_cert(tmp_path, "good")
    with pytest.raises(TLSConfigError, match="both a certificate and its private key"):
        poai_run(lambda service: None, tls_cert_file=str(cert))
    with pytest.raises(TLSConfigError, match="not a PEM file"):
        (tmp_path / "junk.pem").write_text("hello")
        poai_run(lambda service: None, tls_cert_file=str(cert), tls_key_file=str(tmp_path / "junk.pem"))
    with pytest.raises(TLSConfigError, match="holds no PEM private key"):
        poai_run(lambda service: None, tls_cert_file=str(cert), tls_key_file=str(cert))
    with pytest.raises(TLSConfigError, match=r"cannot read the TLS CA certificate .*missing\.pem"):
        poai_agent(type("S", (), {"port": 1})(), tls_ca_file=str(tmp_path / "missing.pem"))
