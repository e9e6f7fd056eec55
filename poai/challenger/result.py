"""The SessionResult message the node receives at the end of its session (score, reasons, checks,
status and the verified capacity). Every double is finite: a node refuses a result that is not."""

from __future__ import annotations

import math
from typing import Any

from poai._proto import poai_pb2 as pb
from poai.challenger.session_report import SessionReport
from poai.scoring import STATUS_CHALLENGER_FAULT


def _finite(x: Any) -> float:
    x = float(x)
    return x if math.isfinite(x) else 0.0


def result_message(report: SessionReport, outcome: Any) -> pb.SessionResult:
    reasons = list(outcome.reasons) if outcome is not None else []
    if report.failure_reason and not any(report.failure_reason in r for r in reasons):
        reasons.insert(0, report.failure_reason)
    if outcome is None:
        reasons.append("the challenger could not record this session")
    capacity = dict(outcome.capacity) if outcome is not None else {}
    return pb.SessionResult(
        session_id=report.session_id,
        ok=report.completed and outcome is not None and outcome.score > 0 and not outcome.strike,
        score=0.0 if outcome is None else _finite(outcome.score),
        smoothed_score=0.0 if outcome is None else _finite(outcome.smoothed_score),
        reasons=[r[:1000] for r in reasons],
        checks=[
            pb.CheckSummary(
                name=c.name[:64],
                passed=c.passed,
                reason=c.reason[:1000],
                metrics={k[:64]: _finite(v) for k, v in c.metrics.items()},
            )
            for c in report.checks
        ],
        strikes=0 if outcome is None else int(outcome.strikes),
        status=STATUS_CHALLENGER_FAULT if outcome is None else outcome.status,
        matmul_tops=_finite(capacity.get("matmul_tops", 0.0)),
        verified_memory_bytes=int(capacity.get("verified_memory_bytes", 0)),
        memory_bandwidth_gbs=_finite(capacity.get("memory_bandwidth_gbs", 0.0)),
        rtt_ms=_finite(capacity.get("rtt_ms", 0.0)),
        ttft_ms=_finite(capacity.get("ttft_ms", 0.0)),
    )
