"""Prometheus metrics of one coordinator (its own registry, so several can run in one process, e.g. tests)."""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.serving.metrics import ServiceMetrics
from prometheus_client import Counter, Gauge, Histogram


@dataclass
class CoordinatorMetrics(ServiceMetrics):
    def __post_init__(self) -> None:
        r = self.registry
        self.clients_connected = Gauge("fed_clients_connected", "Clients with an open, checked-in stream", registry=r)
        self.clients_eligible = Gauge("fed_clients_eligible", "Connected clients that may train now", registry=r)
        self.hello_rejected = Counter("fed_hello_rejected", "Check-ins refused, by reason code", ["code"], registry=r)
        self.updates = Counter("fed_updates", "Uploaded updates, by outcome code", ["code"], registry=r)
        self.rounds = Counter("fed_rounds", "Rounds closed, by outcome", ["outcome"], registry=r)
        self.round_seconds = Histogram("fed_round_seconds", "Wall time from opening to closing a round",
                                       buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600), registry=r)
        self.bytes_sent = Counter("fed_bytes_sent", "Adapter bytes streamed to clients", registry=r)
        self.bytes_received = Counter("fed_bytes_received", "Update bytes received from clients", registry=r)
        self.global_version = Gauge("fed_global_version", "Newest global adapter version", registry=r)
        self.eval_loss = Gauge("fed_eval_loss", "Held-out loss of the newest global adapter", registry=r)
