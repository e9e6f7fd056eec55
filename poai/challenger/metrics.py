"""Prometheus metrics of one challenger (its own registry, so several can run in one process, e.g. tests)."""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.serving.metrics import ServiceMetrics
from prometheus_client import Counter, Gauge, Histogram

STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class ChallengerMetrics(ServiceMetrics):
    def __post_init__(self) -> None:
        r = self.registry
        self.sessions_started = Counter("poai_sessions_started", "Sessions opened by nodes", registry=r)
        self.sessions_completed = Counter(
            "poai_sessions_completed", "Sessions that ran the whole plan (whatever the score)", registry=r
        )
        self.sessions_failed = Counter(
            "poai_sessions_failed",
            "Sessions that ended early or failed a check, by reason",
            ["reason"],
            registry=r,
        )
        self.active_sessions = Gauge("poai_active_sessions", "Sessions in progress", registry=r)
        self.stage_seconds = Histogram(
            "poai_stage_seconds",
            "Wall time of each session stage on the challenger's clock",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.verify_seconds = Histogram(
            "poai_verify_seconds",
            "Challenger CPU time spent verifying, by challenge",
            ["challenge"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.session_score = Histogram(
            "poai_session_score",
            "Integrity score of completed sessions",
            buckets=(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0),
            registry=r,
        )
        self.hello_rejected = Counter(
            "poai_hello_rejected", "Hellos refused, by reason code", ["code"], registry=r
        )
