"""Settings of one coordinator process (the task's own settings are in `edge_sdk.federation.task`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_sdk.federation.task import FederationTask


@dataclass(frozen=True)
class CoordinatorConfig:
    task: FederationTask = field(default_factory=FederationTask)
    host: str = "127.0.0.1"
    port: int = 50071  # 0: any free port (see CoordinatorService.port)
    db: str = "federation.sqlite"  # a SQLite path or a postgresql:// URL
    coordinator_id: str | None = None  # None: "coordinator@HOST:PORT" of the bound address
    model: str | Path | None = None  # the base model (a reference for edge_sdk.models); None: the task's / default
    eval_data: str | Path | None = None  # held-out chat JSONL the coordinator scores every new version on
    allowed_clients: frozenset[str] | None = None  # None: any client with a valid signed hello
    metrics_port: int | None = None  # Prometheus /metrics (0: any free port); None: off
    metrics_host: str = "127.0.0.1"
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    nonce_ttl_s: float = 30.0
    hello_timeout_s: float = 30.0
    heartbeat_s: float = 10.0
    grace_s: float = 5.0
    max_clients: int = 10_000
