"""Challenger settings (one dataclass, every field with a working default)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class ChallengerConfig:
    host: str = "127.0.0.1"
    port: int = 50061  # 0: the OS picks (tests)
    db: str = "poai.sqlite"  # integrity database: an SQLite path or postgresql://user@host/dbname
    challenger_id: str = ""  # signed into every hello; default: "challenger@<host>:<port>" once bound
    plan: str = "standard"  # standard | lightweight | no-inference | compute-only | PATH to a JSON plan
    metrics_port: int | None = 9464  # Prometheus /metrics over HTTP; None: off, 0: any free port
    metrics_host: str = "127.0.0.1"
    max_message_bytes: int = 64 << 20  # gRPC send/receive limit per message
    max_concurrent_sessions: int = 512  # more are refused with RESOURCE_EXHAUSTED
    hello_timeout_s: float = 10.0
    ping_timeout_s: float = 5.0
    pings_per_stage: int = 3  # each ping round sends a random count in [this, 2x this]
    # Compute work time = wall - min(session's smallest RTT, this x wall): delays cut at most 10%.
    max_rtt_subtract_fraction: float = 0.1
    # A reply faster than the smallest pong less max(50 ms, 25%) means held-back pongs (a failed check).
    # 50 ms: a busy honest node's pongs wait on its own event loop (seen: pongs >= 20 ms, a reply in 8 ms,
    # 200 nodes in one process on 2 loaded cores); smaller hold-backs gain at most that, and show in rtt_ms.
    rtt_selective_slack_s: float = 0.05
    rtt_selective_slack_fraction: float = 0.25
    rtt_spike_ratio: float = 3.0  # a ping round above 3x the quietest round's median + slack
    rtt_spike_slack_s: float = 0.02  # is flagged in the latency check
    # Per node id, shared through the store by every challenger on one database; 0 turns it off.
    rate_limit_sessions: int = 60
    rate_limit_window_s: float = 3600.0
    session_timeout_s: float = 900.0  # safety net over all stages
    nonce_ttl_s: float = 30.0
    verify_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    allowed_nodes_file: str | None = None  # one node id per line (e.g. the subnet's hotkeys); None: anyone
    inference_model: str | None = None  # reference model for teacher-forced checks (None: SmolLM2 default)
    deadline_floor_s: float = 10.0  # no stage deadline is shorter (network jitter, small plans)
    memory_cap_bytes: int | None = 8 << 30  # never ask a node to fill more than this
    grace_s: float = 5.0  # graceful shutdown: running sessions get this long
    tls_cert_file: str | None = None  # PEM certificate (chain); with tls_key_file: serve TLS instead of plaintext
    tls_key_file: str | None = None  # PEM private key of that certificate

    def allowed_nodes(self) -> frozenset[str] | None:
        if not self.allowed_nodes_file:
            return None
        with open(self.allowed_nodes_file) as fh:
            return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))
