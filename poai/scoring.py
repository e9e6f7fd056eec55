"""Integrity score: one number in [0, 1] per session, a smoothed, strike-aware score per node, and the
verified capacity beside it.

How a session uses it (challenger side, after all checks of the plan ran):

    session = scoring.score_session(claim, results, required=plan.stages)   # -> SessionScore
    node = store.record_session(node_id, claim, session, results)          # applies update_history atomically
    node.effective, session.capacity                                       # what the validator reads

Rules (defaults in `ScoringConfig`):
- Integrity answers "are this node's answers true?"; capacity answers "how much did it prove?". A node
  that claims little and proves it is honest (integrity 1) with little capacity: the validator weighs
  capacity (`SessionScore.capacity`: matmul TOPS, verified memory bytes, bandwidth, latency), so a tiny
  claim no longer earns what a large one does.
- Any failed correctness check (every check except the "soft" ones, by default only latency) zeroes the
  session and adds a strike. Every stage of the plan is required: one that did not run zeroes the
  session (status "incomplete", no strike: the node may have dropped or lacks a backend).
- Measured/claimed ratios cap the score, so over-claiming is penalised and under-claiming is not rewarded:
  component = min(1, (measured / claimed) / tolerance) ** exponent for compute (matmul TOPS) and memory
  bandwidth. tolerance 0.9 absorbs honest measurement noise; exponent 2 makes a 50% over-claim cost 60% of
  the score. Measuring under `overclaim_strike_ratio` (25%) of a claim is a strike: that is not noise.
- Latency scales the result between 1 (median RTT <= latency_good_ms) and latency_floor (>= latency_bad_ms).
- Session status (the same words as SessionResult.status in proto/poai.proto): "ok"; "failed_check" (a
  strike); "node_fault" (the node timed out or could not run a stage: score 0, no strike); "network" (the
  connection broke: score 0, no strike); "challenger_fault" (the verifier or the store failed: recorded,
  but the node's history is not touched).
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

__all__ = [
    "NodeScore",
    "STATUSES",
    "ScoringConfig",
    "SessionScore",
    "capacity_of",
    "score_session",
    "update_history",
]

STATUS_OK = "ok"
STATUS_FAILED = "failed_check"
STATUS_INCOMPLETE = "node_fault"  # the node did not finish (timeout, gave up, no backend): no strike
STATUS_NETWORK = "network"  # the connection broke (hang-up, reset): no strike
STATUS_CHALLENGER_FAULT = "challenger_fault"
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_INCOMPLETE, STATUS_NETWORK, STATUS_CHALLENGER_FAULT)


@dataclass(frozen=True)
class ScoringConfig:
    soft_checks: tuple[str, ...] = ("latency",)
    required_checks: tuple[str, ...] = ("compute",)  # used when score_session gets no `required`
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
    status: str = STATUS_OK
    capacity: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.score > 0 and not self.strike

    @property
    def counts_in_history(self) -> bool:
        """A challenger fault says nothing about the node: it does not move its history."""
        return self.status != STATUS_CHALLENGER_FAULT


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


def capacity_of(results: Sequence[CheckResult]) -> dict[str, float]:
    """What the session proved, from the checks that passed (challenger-clock figures only; nothing the
    node reported about itself): matmul_tops, verified_memory_bytes, memory_bandwidth_gbs, rtt_ms, ttft_ms,
    tokens_per_s."""
    out: dict[str, float] = {}
    by_name = {r.name: r for r in results}
    compute = by_name.get("compute")
    if compute is not None and compute.passed and "matmul_tops" in compute.metrics:
        out["matmul_tops"] = float(compute.metrics["matmul_tops"])
    memory = by_name.get("memory")
    if memory is not None and memory.passed:
        if "verified_bytes" in memory.metrics:
            out["verified_memory_bytes"] = float(memory.metrics["verified_bytes"])
        if "nonce_bandwidth_gbs" in memory.metrics:
            out["memory_bandwidth_gbs"] = float(memory.metrics["nonce_bandwidth_gbs"])
    latency = by_name.get("latency")
    if latency is not None and "rtt_median_ms" in latency.metrics:
        out["rtt_ms"] = float(latency.metrics["rtt_median_ms"])
    inference = by_name.get("inference")
    if inference is not None and inference.passed:
        for key in ("ttft_ms", "tokens_per_s"):
            if key in inference.metrics:
                out[key] = float(inference.metrics[key])
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _ratio_component(name: str, measured: float | None, claimed: float, unit: str, cfg: ScoringConfig,
                     components: dict[str, float], reasons: list[str]) -> tuple[bool, bool]:
    """(hard_fail, strike) for one measured/claimed pair; fills components and reasons."""
    if measured is None or not math.isfinite(measured):
        reasons.append(f"{name} has no timing on the challenger's clock: cannot score")
        return True, False
    if claimed <= 0:
        components[name] = 1.0  # nothing claimed: nothing to cap (the figure is still recorded)
        return False, False
    ratio = measured / claimed
    components[f"{name}_ratio"] = ratio
    components[name] = _capacity(ratio, cfg)
    if ratio < cfg.overclaim_strike_ratio:
        reasons.append(f"over-claim: measured {measured:.3g} {unit}, claimed {claimed:.3g}")
        return False, True
    if ratio < cfg.claim_tolerance:
        reasons.append(f"measured {measured:.3g} of {claimed:.3g} claimed {unit}")
    return False, False


def score_session(claim: Claim, results: Sequence[CheckResult], config: ScoringConfig | None = None, *,
                  required: Sequence[str] | None = None) -> SessionScore:
    """Combine one session's check results into a score in [0, 1] with the reasons behind it.

    `required`: the stages the plan ran (each must have a result); default `config.required_checks`."""
    cfg = config or ScoringConfig()
    reasons: list[str] = []
    components: dict[str, float] = {}
    strike = False
    hard_fail = False
    missing = False
    by_name = {r.name: r for r in results}
    for r in results:
        if not r.passed:
            if r.name in cfg.soft_checks:
                reasons.append(f"{r.name} (soft): {r.reason}")
            else:
                hard_fail = strike = True
                reasons.append(f"{r.name} failed: {r.reason}")
    for name in (cfg.required_checks if required is None else required):
        if name not in by_name:
            hard_fail = missing = True
            if not strike:  # after a failed check the missing rest is no news
                reasons.append(f"{name} did not run: session incomplete")
    compute = by_name.get("compute")
    if compute is not None and compute.passed:
        fail, s = _ratio_component("compute", compute.metrics.get("matmul_tops"), claim.tflops, "matmul TOPS",
                                   cfg, components, reasons)
        hard_fail |= fail
        strike |= s
    memory = by_name.get("memory")
    if memory is not None and memory.passed:
        if claim.memory_bandwidth_gbs > 0 and "nonce_bandwidth_gbs" in memory.metrics:
            fail, s = _ratio_component("memory", memory.metrics["nonce_bandwidth_gbs"],
                                       claim.memory_bandwidth_gbs, "GB/s", cfg, components, reasons)
            hard_fail |= fail
            strike |= s
        else:
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
    status = STATUS_FAILED if strike else STATUS_INCOMPLETE if missing else STATUS_OK
    return SessionScore(score=float(min(1.0, max(0.0, score))), strike=strike, reasons=tuple(reasons),
                        components=components, status=status, capacity=capacity_of(results))


def update_history(
    node_id: str,
    previous: NodeScore | None,
    session: SessionScore,
    now: float,
    strike_times: Sequence[float],
    config: ScoringConfig | None = None,
) -> NodeScore:
    """The node's new record after `session`. `strike_times` are the node's earlier strikes (unix seconds);
    this session's strike, if any, is added here. A challenger fault leaves the history as it was."""
    cfg = config or ScoringConfig()
    prior = previous.smoothed if previous is not None else cfg.initial_score
    counts = session.counts_in_history
    smoothed = cfg.ema_alpha * session.score + (1.0 - cfg.ema_alpha) * prior if counts else prior
    times = [t for t in strike_times if now - t < cfg.strike_window_s]
    if session.strike:
        times.append(now)
    return NodeScore(
        node_id=node_id,
        smoothed=float(smoothed),
        last_score=float(session.score) if counts or previous is None else previous.last_score,
        sessions=(previous.sessions if previous else 0) + 1,
        strikes_total=(previous.strikes_total if previous else 0) + int(session.strike),
        recent_strikes=len(times),
        banned=len(times) >= cfg.max_strikes,
        updated_at=float(now),
    )
