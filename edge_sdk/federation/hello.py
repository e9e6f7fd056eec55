"""The federation check-in: the generic signed hello of `edge_sdk.identity` with the coordinator as audience and
the client's device report as payload (byte layout in proto/federation.proto, "Canonical hello bytes").

The device report is signed so a relay cannot change what the coordinator selects on; it is still only the
client's word, used for selection and never trusted for anything else.
"""

from __future__ import annotations

import struct

from edge_sdk.device.eligibility import Eligibility
from edge_sdk.device.profile import DeviceProfile
from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.identity import NodeKey, NonceRegistry
from edge_sdk.identity import hello as generic
from edge_sdk.identity.hello import VerifiedIdentity, lp_str

HELLO_DOMAIN = b"edgeproof-fed-hello/v1"
MAX_REASONS = 32
MAX_TEXT = 512


def default_coordinator_id(address: str) -> str:
    """What a coordinator without a configured id calls itself, and what a client expects by default from the
    address it dials (a hello signed for one address is useless at another)."""
    return f"coordinator@{address}"


def device_report(profile: DeviceProfile, eligibility: Eligibility, client_version: str) -> pb.DeviceReport:
    """The report a client sends from its own profile and eligibility."""
    battery = profile.battery
    plugged = pb.POWER_UNKNOWN
    if battery is not None and battery.power_plugged is not None:
        plugged = pb.POWER_PLUGGED if battery.power_plugged else pb.POWER_UNPLUGGED
    return pb.DeviceReport(
        device_kind=str(profile.device_kind),
        logical_cores=int(profile.cpu.logical_cores or 0),
        ram_total_bytes=int(profile.memory.total or 0),
        ram_available_bytes=int(profile.memory.effective_available or 0),
        has_battery=battery is not None,
        battery_percent=float(battery.percent) if battery is not None else 0.0,
        power_plugged=plugged,
        eligible=eligibility.allowed,
        ineligible_reasons=[] if eligibility.allowed else list(eligibility.reasons),
        client_version=client_version,
    )


def device_report_bytes(d: pb.DeviceReport) -> bytes:
    """The report's canonical bytes (the hello's payload). Raises ValueError on values with no canonical form."""
    if len(d.ineligible_reasons) > MAX_REASONS:
        raise ValueError(f"at most {MAX_REASONS} ineligible reasons")
    for text in (d.device_kind, d.client_version, *d.ineligible_reasons):
        if len(text) > MAX_TEXT:
            raise ValueError(f"device report strings are at most {MAX_TEXT} characters")
    if d.power_plugged not in (pb.POWER_UNKNOWN, pb.POWER_UNPLUGGED, pb.POWER_PLUGGED):
        raise ValueError(f"unknown power state {d.power_plugged}")
    plugged = {pb.POWER_UNPLUGGED: 0, pb.POWER_PLUGGED: 1, pb.POWER_UNKNOWN: 2}[d.power_plugged]
    parts = [
        lp_str(d.device_kind),
        struct.pack(">IQQBdBB", d.logical_cores, d.ram_total_bytes, d.ram_available_bytes, int(d.has_battery),
                    float(d.battery_percent), plugged, int(d.eligible)),
        struct.pack(">I", len(d.ineligible_reasons)),
        *(lp_str(r) for r in d.ineligible_reasons),
        lp_str(d.client_version),
    ]
    return b"".join(parts)


def sign_hello(key: NodeKey, nonce: bytes, coordinator_id: str, device: pb.DeviceReport) -> pb.Hello:
    """A complete Hello message for `coordinator_id`, signed by `key`."""
    from edge_sdk.federation.task import PROTOCOL_VERSION

    signature = generic.sign_hello(key, domain=HELLO_DOMAIN, nonce=nonce, audience_id=coordinator_id,
                                   payload=device_report_bytes(device))
    return pb.Hello(protocol_version=PROTOCOL_VERSION, scheme=key.scheme, public_key=key.public_key,
                    client_id=key.node_id, nonce=nonce, coordinator_id=coordinator_id, device=device,
                    signature=signature)


def verify_hello(hello: pb.Hello, *, issued_nonce: bytes, coordinator_id: str, nonces: NonceRegistry,
                 allowed_clients: frozenset[str] | None = None) -> VerifiedIdentity:
    """Every check a check-in must pass (raises HelloRejected with a stable code and a sentence)."""
    return generic.verify_signed_hello(
        domain=HELLO_DOMAIN,
        scheme=hello.scheme,
        public_key=bytes(hello.public_key),
        node_id=hello.client_id,
        nonce=bytes(hello.nonce),
        audience_id=hello.coordinator_id,
        payload=lambda: device_report_bytes(hello.device),
        signature=bytes(hello.signature),
        issued_nonce=issued_nonce,
        expected_audience_id=coordinator_id,
        nonces=nonces,
        allowed_node_ids=allowed_clients,
        audience_name="coordinator",
        payload_name="device_report",
    )
