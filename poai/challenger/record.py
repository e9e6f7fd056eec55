"""Turn a SessionReport into a score (poai.scoring) and a stored session (poai.store), and into the
SessionResult the node receives.

Policy for sessions that did not run to the end (the wire layer's part of scoring). Strikes are only for
wrong or malformed answers; everything else is recorded under its own status:
- hello refused (bad signature, wrong key, replayed or expired nonce, unknown node, absurd claim) or rate
  limited: the node is told why; nothing is stored, because nobody proved they own the id, or the id is
  over its session budget (storing would let anyone give strikes to any node by replaying its hello).
- malformed or undecodable messages, and refusing to open a commitment (a NodeError, or a wrong answer
  type, after the commitment was sent): a failed check named after the stage -> score 0 and a strike. A
  node that sees it would fail an opening cannot dodge the strike by giving up.
- deadlines missed or a stage the node could not run (NodeError before committing): "node_fault"; the
  node hung up or the stream broke: "network". Both score 0 without a strike (phones lose network; a dropped session earns nothing and still
  counts as a 0 in the history, so dropping to dodge a check gains nothing).
- the verifier or the challenger failed (an exception in a verifier, running out of memory, shutting
  down): "challenger_fault", recorded, no strike, the node's history untouched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from poai.challenger.session_report import SessionReport
from poai.challenges.common import CheckResult
from poai.scoring import (
    STATUS_CHALLENGER_FAULT,
    STATUS_FAILED,
    STATUS_INCOMPLETE,
    STATUS_NETWORK,
    SessionScore,
    score_session,
)

STRIKING_FAILURES = ("malformed", "refused_opening")
CHALLENGER_FAULTS = ("shutdown", "challenger_fault")
NETWORK_FAILURES = ("disconnected",)


@dataclass
class Outcome:
    score: float
    smoothed_score: float
    strikes: int
    reasons: list[str] = field(default_factory=list)
    stored: bool = False
    strike: bool = False
    status: str = "ok"
    capacity: dict[str, float] = field(default_factory=dict)


def session_checks(report: SessionReport) -> list[CheckResult]:
    """The checks to score: what ran, plus a failed check for a striking protocol failure."""
    checks = list(report.checks)
    if report.failure_code in STRIKING_FAILURES:
        stage = (
            report.failed_stage
            if report.failed_stage not in (None, "latency", "end", "hello")
            else "protocol"
        )
        checks.append(CheckResult(stage, False, f"{report.failure_code}: {report.failure_reason}", {}, 0.0))
    return checks


def score_report(report: SessionReport) -> tuple[SessionScore, list[CheckResult]]:
    """The session's score, with the incomplete-session and challenger-fault rules applied."""
    assert report.claim is not None and report.plan is not None
    checks = session_checks(report)
    claim = report.claim.to_core()
    if not report.plan.measures_capacity:
        # nothing to cap against (see SessionPlan)
        claim = dataclasses.replace(claim, tflops=0.0, memory_bandwidth_gbs=0.0)
    scored = score_session(claim, checks, required=report.plan.stages)
    code = report.failure_code
    if code is not None and code not in STRIKING_FAILURES:
        status = (
            STATUS_CHALLENGER_FAULT if code in CHALLENGER_FAULTS
            else STATUS_NETWORK if code in NETWORK_FAILURES
            else STATUS_INCOMPLETE
        )
        if scored.strike:
            status = STATUS_FAILED  # a check had already failed before the session broke off
        scored = dataclasses.replace(
            scored,
            score=0.0,
            status=status,
            reasons=(
                f"session incomplete ({code}): {report.failure_reason}",
                *[r for r in scored.reasons if r != "all checks passed" and "did not run" not in r],
            ),
        )
    return scored, checks


def score_and_store(store: Any, report: SessionReport) -> Outcome:
    """Score the session and record it (one store transaction). Refused hellos are not stored."""
    if report.node_id is None or report.claim is None or report.plan is None or not report.admitted:
        reason = report.failure_reason or "session ended before the node was identified"
        return Outcome(score=0.0, smoothed_score=0.0, strikes=0, reasons=[reason], status=STATUS_INCOMPLETE)
    scored, checks = score_report(report)
    node = store.record_session(
        report.node_id,
        report.claim.to_core(),
        scored,
        checks,
        session_id=report.session_id,
        started_at=report.started_at,
        finished_at=report.started_at + report.duration_s,
    )
    return Outcome(
        score=scored.score,
        smoothed_score=node.effective,
        strikes=node.recent_strikes,
        reasons=list(scored.reasons),
        stored=True,
        strike=scored.strike,
        status=scored.status,
        capacity=dict(scored.capacity),
    )
