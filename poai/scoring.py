"""Integrity score: one number in [0, 1] per session and a smoothed, strike-aware score per node.

How a session uses it (challenger side, after all checks of the plan ran):

    session = scoring.score_session(claim, results)            # -> SessionScore(score, strike, reasons, ...)
    node = store.record_session(node_id, claim, session, results)   # store applies update_history atomically
    node.effective                                              # what the validator reads

Rules (defaults in `ScoringConfig`):
- Any failed correctness check (every check except the "soft" ones, by default only latency) zeroes the
  session and adds a strike. A required check that did not run (default: compute) zeroes the session
  without a strike (incomplete session: the node may have dropped).
- Measured/claimed ratios cap the score, so over-claiming is penalised and under-claiming is not rewarded:
  compute component = min(1, (measured TFLOPS / claimed TFLOPS) / tolerance) ** exponent. tolerance 0.9
  absorbs honest measurement noise; exponent 2 makes a 50% over-claim cost 60% of the score. A node
  measuring under `overclaim_strike_ratio` (25%) of its claim gets a strike as well: that is not noise.
  Memory is a pass/fail capacity proof of what the budget asked for (a node that cannot fill it fails).
- Latency scales the result between 1 (median RTT <= latency_good_ms) and latency_floor (>= latency_bad_ms).
- History: EMA with weight `ema_alpha` on the new session, starting from `initial_score` (0: a new node
  earns its score over a few sessions, which makes identity churn unprofitable).
- Strikes decay: only strikes from the last `strike_window_s` count. With `max_strikes` of them the node
  is banned: its effective score is 0 until the oldest strike leaves the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from poai.challenges.common import CheckResult, Claim

__all__ = ["NodeScore", "ScoringConfig", "SessionScore", "score_session", "update_history"]


@dataclass(frozen=True)
class ScoringConfig:
    soft_checks: tuple[str, ...] = ("latency",)
    required_checks: tuple[str, ...] = ("compute",)
    claim_tolerance: float = 0.9
    overclaim_exponent: float = 2.0
    overclaim_strike_ratio: float = 0.25
    latency_good_ms: float = 50.0
    latency_bad_ms: float = 1000.0
    latency_floor: float = 0.5
    ema_alpha: float = 0.3
    initial_score: float = 0.0
    strike_window_s: float = 7 * 86400.0
    max_strikes: int = 3


@dataclass(frozen=True)
class SessionScore:
    score: float
    strike: bool
    reasons: tuple[str, ...]
    components: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.score > 0 and not self.strike


@dataclass(frozen=True)
class NodeScore:
    node_id: str
    smoothed: float
    last_score: float
    sessions: int
    strikes_total: int
    recent_strikes: int
    banned: bool
    updated_at: float

    @property
    def effective(self) -> float:
        """The score the validator should use."""
        return 0.0 if self.banned else self.smoothed


def _capacity(ratio: float, cfg: ScoringConfig) -> float:
    if not math.isfinite(ratio) or ratio <= 0:
        return 0.0
    return min(1.0, ratio / cfg.claim_tolerance) ** cfg.overclaim_exponent


def _latency_factor(rtt_ms: float, cfg: ScoringConfig) -> float:
    if rtt_ms <= cfg.latency_good_ms:
        return 1.0
    if rtt_ms >= cfg.latency_bad_ms:
        return cfg.latency_floor
    frac = (rtt_ms - cfg.latency_good_ms) / (cfg.latency_bad_ms - cfg.latency_good_ms)
    return 1.0 - frac * (1.0 - cfg.latency_floor)


def score_session(claim: Claim, results: Sequence[CheckResult], config: ScoringConfig | None = None
                  ) -> SessionScore:
    """Combine one session's check results into a score in [0, 1] with the reasons behind it."""
    cfg = config or ScoringConfig()
    reasons: list[str] = []
    components: dict[str, float] = {}
    strike = False
    hard_fail = False
    by_name = {r.name: r for r in results}
    for r in results:
        if not r.passed:
            if r.name in cfg.soft_checks:
                reasons.append(f"{r.name} (soft): {r.reason}")
            else:
                hard_fail = strike = True
                reasons.append(f"{r.name} failed: {r.reason}")
    for name in cfg.required_checks:
        if name not in by_name:
            hard_fail = True
            reasons.append(f"{name} did not run: session incomplete")
    compute = by_name.get("compute")
    if compute is not None and compute.passed:
        measured = compute.metrics.get("tflops")
        if measured is None:
            hard_fail = True
            reasons.append("compute has no timing (node_seconds missing): cannot score")
        elif claim.tflops > 0:
            ratio = measured / claim.tflops
            components["compute_ratio"] = ratio
            components["compute"] = _capacity(ratio, cfg)
            if ratio < cfg.overclaim_strike_ratio:
                strike = True
                reasons.append(f"over-claim: measured {measured:.3g} TFLOPS, claimed {claim.tflops:.3g}")
            elif ratio < cfg.claim_tolerance:
                reasons.append(f"measured {measured:.3g} of {claim.tflops:.3g} claimed TFLOPS")
        else:
            components["compute"] = 1.0  # nothing claimed: nothing to cap (the figure is still recorded)
    memory = by_name.get("memory")
    if memory is not None and memory.passed:
        components["memory"] = 1.0
    latency = by_name.get("latency")
    if latency is not None:
        lf = (_latency_factor(latency.metrics.get("rtt_median_ms", math.inf), cfg) if latency.passed
              else cfg.latency_floor)
        components["latency"] = lf
    inference = by_name.get("inference")
    if inference is not None and inference.passed:
        components["inference"] = 1.0
    capacity = min([components[k] for k in ("compute", "memory") if k in components], default=1.0)
    score = 0.0 if (hard_fail or strike) else capacity * components.get("latency", 1.0)
    if not reasons:
        reasons.append("all checks passed")
    return SessionScore(score=float(min(1.0, max(0.0, score))), strike=strike, reasons=tuple(reasons),
                        components=components)


def update_history(
    node_id: str,
    previous: NodeScore | None,
    session: SessionScore,
    now: float,
    strike_times: Sequence[float],
    config: ScoringConfig | None = None,
) -> NodeScore:
    """The node's new record after `session`. `strike_times` are the node's earlier strikes (unix seconds);
    this session's strike, if any, is added here."""
    cfg = config or ScoringConfig()
    prior = previous.smoothed if previous is not None else cfg.initial_score
    smoothed = cfg.ema_alpha * session.score + (1.0 - cfg.ema_alpha) * prior
    times = [t for t in strike_times if now - t < cfg.strike_window_s]
    if session.strike:
        times.append(now)
    return NodeScore(
        node_id=node_id,
        smoothed=float(smoothed),
        last_score=float(session.score),
        sessions=(previous.sessions if previous else 0) + 1,
        strikes_total=(previous.strikes_total if previous else 0) + int(session.strike),
        recent_strikes=len(times),
        banned=len(times) >= cfg.max_strikes,
        updated_at=float(now),
    )
