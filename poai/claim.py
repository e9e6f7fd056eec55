"""What a node says it has (its capacity claim), in the form its hello signs.

The claim is PoAI's payload of the signed hello (poai/hello.py): signed so it cannot be altered in flight,
then measured number by number by the challenges, never trusted.
"""

from __future__ import annotations

import math
import struct
from dataclasses import asdict, dataclass
from typing import Any

from edge_sdk.identity.hello import lp_str


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
        """The claim's part of the canonical hello bytes (PROTOCOL.md "Canonical hello bytes"):

            lp(device_kind) lp(device_model) u64(memory_bytes) f64(claimed_matmul_tops)
            f64(memory_bandwidth_gbs) u32(len(backends)) lp(backend)... lp(agent_version)

        u64/u32 are unsigned big-endian, f64 the IEEE-754 binary64 bit pattern, big-endian. Raises
        ValueError for values that have no canonical form (an integer outside u64, a NaN or infinite float,
        a backend list longer than 2^32): such a claim cannot be signed or verified.
        """
        memory = int(self.memory_bytes)
        if not 0 <= memory < 2**64:
            raise ValueError(f"memory_bytes {memory} does not fit an unsigned 64-bit integer")
        floats = (float(self.claimed_tflops), float(self.memory_bandwidth_gbs))
        if not all(math.isfinite(x) for x in floats):
            raise ValueError("claimed_tflops and memory_bandwidth_gbs must be finite")
        return b"".join(
            (
                lp_str(self.device_kind),
                lp_str(self.device_model),
                struct.pack(">Q", memory),
                struct.pack(">d", floats[0]),
                struct.pack(">d", floats[1]),
                struct.pack(">I", len(self.backends)),
                *(lp_str(b) for b in self.backends),
                lp_str(self.agent_version),
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
