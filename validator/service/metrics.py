"""Prometheus metrics of one validator process."""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.serving.metrics import ServiceMetrics
from prometheus_client import Counter, Gauge, Histogram


@dataclass
class ValidatorMetrics(ServiceMetrics):
    def __post_init__(self) -> None:
        r = self.registry
        self.rounds = Counter("validator_rounds", "Rounds completed (sync, intake, score, weights)", registry=r)
        self.round_errors = Counter("validator_round_errors", "Rounds that raised (retried next round)", registry=r)
        self.intake = Counter("validator_intake", "Miner datasets taken in, by verdict", ["status"], registry=r)
        self.scored = Counter("validator_datasets_scored", "Scoring jobs finished, by outcome", ["outcome"],
                              registry=r)
        self.score_seconds = Histogram("validator_score_seconds", "Training + evaluation time per dataset",
                                       buckets=(5, 10, 30, 60, 120, 300, 600, 1800, 3600), registry=r)
        self.weights_set = Counter("validator_weights_set", "Weight settings, by outcome", ["outcome"], registry=r)
        self.block = Gauge("validator_block", "Chain block of the last round", registry=r)
