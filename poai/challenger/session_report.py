"""What happened in one session, before scoring: filled by the session driver, read by scoring/recording."""

from __future__ import annotations

from dataclasses import dataclass, field

from poai.challenger.plan import SessionPlan
from poai.challenges.common import CheckResult
from poai.claim import NodeClaim


@dataclass
class SessionReport:
    """What happened in one session, before scoring."""

    session_id: str
    peer: str
    started_at: float  # unix time
    node_id: str | None = None  # set once the hello verified
    claimed_node_id: str | None = None  # what the hello said, verified or not (logs only)
    claim: NodeClaim | None = None
    plan: SessionPlan | None = None
    checks: list[CheckResult] = field(default_factory=list)
    rtt_samples: dict[str, list[float]] = field(default_factory=dict)  # stage label -> RTT seconds
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failure_code: str | None = None  # None: the plan ran to the end (checks may still have failed)
    failure_reason: str | None = None
    failed_stage: str | None = None
    duration_s: float = 0.0
    admitted: bool = True  # False: refused by the per-node rate limit (nothing is stored)

    @property
    def completed(self) -> bool:
        return self.failure_code is None

    def all_rtts(self) -> list[float]:
        return [x for samples in self.rtt_samples.values() for x in samples]
