"""Turn a SessionReport into a score (poai.scoring) and a stored session (poai.store), and into the
SessionResult the node receives.

Policy for sessions that did not run to the end (the wire layer's part of scoring):
- hello refused (bad signature, wrong key, replayed or expired nonce, unknown node, absurd claim): the node
  is told why; nothing is stored, because nobody proved they own the id (storing would let anyone give
  strikes to any node by replaying its hello). Metrics and logs count them by reason.
- malformed or undecodable messages, and deadlines missed (a node far slower than it claims): a failed
  check named after the stage it happened in -> score 0 and a strike (poai.scoring's rule for failed
  correctness checks).
- the node hung up, crashed, gave up (NodeError), or the challenger shut down: score 0 without a strike
  (phones lose network; a dropped session earns nothing, so dropping to dodge a check gains nothing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from poai._proto import poai_pb2 as pb
from poai.challenger.session import SessionReport
from poai.challenges.common import CheckResult
from poai.scoring import SessionScore, score_session

STRIKING_FAILURES = ("malformed", "timeout")


@dataclass
class Outcome:
    score: float
    smoothed_score: float
    strikes: int
    reasons: list[str] = field(default_factory=list)
    stored: bool = False
    strike: bool = False


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
    """CORE's session score, with the incomplete-session rule applied."""
    assert report.claim is not None and report.plan is not None
    checks = session_checks(report)
    claim = report.claim.to_core()
    if not report.plan.measures_capacity:
        claim = dataclasses.replace(claim, tflops=0.0)  # nothing to cap against (see SessionPlan)
    scored = score_session(claim, checks)
    if report.failure_code is not None and report.failure_code not in STRIKING_FAILURES:
        scored = dataclasses.replace(
            scored,
            score=0.0,
            strike=False,
            reasons=(
                f"session incomplete ({report.failure_code}): {report.failure_reason}",
                *[r for r in scored.reasons if r != "all checks passed"],
            ),
        )
    return scored, checks


def score_and_store(store: Any, report: SessionReport) -> Outcome:
    """Score the session and record it (one store transaction). Refused hellos are not stored."""
    if report.node_id is None or report.claim is None or report.plan is None:
        reason = report.failure_reason or "session ended before the node was identified"
        return Outcome(score=0.0, smoothed_score=0.0, strikes=0, reasons=[reason])
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
    )


def result_message(report: SessionReport, outcome: Outcome | None) -> pb.SessionResult:
    reasons = list(outcome.reasons) if outcome is not None else []
    if report.failure_reason and not any(report.failure_reason in r for r in reasons):
        reasons.insert(0, report.failure_reason)
    if outcome is None:
        reasons.append("the challenger could not record this session")
    return pb.SessionResult(
        session_id=report.session_id,
        ok=report.completed and outcome is not None and outcome.score > 0 and not outcome.strike,
        score=0.0 if outcome is None else float(outcome.score),
        smoothed_score=0.0 if outcome is None else float(outcome.smoothed_score),
        reasons=[r[:1000] for r in reasons],
        checks=[
            pb.CheckSummary(
                name=c.name,
                passed=c.passed,
                reason=c.reason[:1000],
                metrics={k: float(v) for k, v in c.metrics.items()},
            )
            for c in report.checks
        ],
        strikes=0 if outcome is None else int(outcome.strikes),
    )
