"""Scores x PoAI integrity (x optional verified capacity) -> weights that sum to 1, and the whole chain.

`combine(scores, integrity, ...)`, per miner hotkey m:

    i_m     = integrity[m] clamped to [0, 1]; missing or NaN -> 0
    factor  = "gate":        1 if i_m >= gate_threshold else 0
              "multiplier":  i_m
              "both":        i_m if i_m >= gate_threshold else 0
              0 whatever the mode when m is in `failed` (its PoAI node's latest session was struck, or the
              node is banned: poai.report.NodeStanding.failed)
    raw_m   = max(score_m, 0) * factor_m          (non-finite score -> 0)
    q_m     = raw_m / sum(raw)

With `capacity` and capacity_weight = lam in (0, 1], verified capacity (one number per miner, e.g. the
matmul TOPS of poai.report.verified_capacity) is blended in, only among miners with raw_m > 0 (capacity alone
earns nothing) and scaled by the same integrity factor:

    cap_m   = max(capacity[m], 0) * factor_m  if raw_m > 0 else 0     (missing / non-finite -> 0)
    w_m     = (1 - lam) * q_m + lam * cap_m / sum(cap)                 (w = q when sum(cap) = 0)

Weights are normalised to sum to 1. When every raw_m is 0 (no scores, or every miner gated / failed) every
weight is 0: there is nothing to pay, and what to do then (keep the last weights, burn) is the caller's
choice. A failed miner's weight is exactly 0.0 in every case.

`weights_from_losses` chains the steps: losses -> `win_rates` (head start) -> `ema` -> optional
`winner_take_all` -> `combine`; see its docstring for which miners take part in which step.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from validator.weights.smoothing import DEFAULT_ALPHA, DEFAULT_TOP_FRACTION, ema, select_winner
from validator.weights.win_rate import DEFAULT_HEAD_START, compute_wins

__all__ = [
    "MODES",
    "MinerDetail",
    "Mode",
    "WeightConfig",
    "combine",
    "integrity_factor",
    "weights_from_losses",
]

Mode = Literal["gate", "multiplier", "both"]
MODES: tuple[str, ...] = ("gate", "multiplier", "both")


def _finite_nonneg(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) and v > 0.0 else 0.0


def _integrity(integrity: Mapping[str, float], key: str) -> float:
    return min(1.0, _finite_nonneg(integrity.get(key, 0.0)))


def _check_mode(mode: str, gate_threshold: float) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not (math.isfinite(float(gate_threshold)) and 0.0 <= float(gate_threshold) <= 1.0):
        raise ValueError(f"gate_threshold must be in [0, 1], got {gate_threshold!r}")


def integrity_factor(integrity: float, mode: Mode = "both", gate_threshold: float = 0.5) -> float:
    """The factor a miner's score is multiplied by for an integrity in [0, 1] (module docstring)."""
    _check_mode(mode, gate_threshold)
    i = min(1.0, _finite_nonneg(integrity))
    if mode == "multiplier":
        return i
    passed = i >= gate_threshold
    if mode == "gate":
        return 1.0 if passed else 0.0
    return i if passed else 0.0


def combine(
    scores: Mapping[str, float],
    integrity: Mapping[str, float],
    *,
    mode: Mode = "both",
    gate_threshold: float = 0.5,
    failed: Collection[str] = frozenset(),
    capacity: Mapping[str, float] | None = None,
    capacity_weight: float = 0.0,
) -> dict[str, float]:
    """{hotkey: weight} for every hotkey in `scores` (sorted), summing to 1, or all 0.0 when no miner has a
    positive score with a non-zero integrity factor. Formula in the module docstring."""
    _check_mode(mode, gate_threshold)
    lam = float(capacity_weight)
    if not (math.isfinite(lam) and 0.0 <= lam <= 1.0):
        raise ValueError(f"capacity_weight must be in [0, 1], got {capacity_weight!r}")
    failed = frozenset(failed)
    keys = sorted(scores)
    factor = {k: 0.0 if k in failed else integrity_factor(_integrity(integrity, k), mode, gate_threshold)
              for k in keys}
    raw = {k: _finite_nonneg(scores[k]) * factor[k] for k in keys}
    total = math.fsum(raw.values())
    if total <= 0.0:
        return {k: 0.0 for k in keys}
    weights = {k: raw[k] / total for k in keys}
    if capacity is not None and lam > 0.0:
        cap = {k: (_finite_nonneg(capacity.get(k, 0.0)) * factor[k] if raw[k] > 0.0 else 0.0) for k in keys}
        cap_total = math.fsum(cap.values())
        if cap_total > 0.0:
            weights = {k: (1.0 - lam) * weights[k] + lam * cap[k] / cap_total for k in keys}
    norm = math.fsum(weights.values())
    return {k: (weights[k] / norm if weights[k] > 0.0 else 0.0) for k in keys}


@dataclass(frozen=True)
class WeightConfig:
    """The knobs of `weights_from_losses`.

    mode, gate_threshold: how PoAI integrity enters (`combine`); alpha: EMA weight of the new round (`ema`);
    head_start: the earlier commitment's relative advantage (`win_rates`); winner_take_all, top_fraction,
    top_k: FLock's winner-take-all (`select_winner`; top_k, when set, replaces top_fraction);
    capacity_weight: share of the weight paid by verified capacity (`combine`; 0 = off)."""

    mode: Mode = "both"
    gate_threshold: float = 0.5
    alpha: float = DEFAULT_ALPHA
    head_start: float = DEFAULT_HEAD_START
    winner_take_all: bool = False
    top_fraction: float = DEFAULT_TOP_FRACTION
    top_k: int | None = None
    capacity_weight: float = 0.0

    def __post_init__(self) -> None:
        _check_mode(self.mode, self.gate_threshold)
        if not (math.isfinite(self.alpha) and 0.0 < self.alpha <= 1.0):
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha!r}")
        if not (math.isfinite(self.head_start) and 0.0 <= self.head_start < 1.0):
            raise ValueError(f"head_start must be in [0, 1), got {self.head_start!r}")
        if not (math.isfinite(self.top_fraction) and 0.0 < self.top_fraction <= 1.0):
            raise ValueError(f"top_fraction must be in (0, 1], got {self.top_fraction!r}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k!r}")
        if not (math.isfinite(self.capacity_weight) and 0.0 <= self.capacity_weight <= 1.0):
            raise ValueError(f"capacity_weight must be in [0, 1], got {self.capacity_weight!r}")


@dataclass(frozen=True)
class MinerDetail:
    """Why a miner got its weight.

    loss / win_rate / wins are None when the miner was not evaluated this round (it only decays); win_rate is
    this round's EMA input (0 for a failed miner, which plays no matches, and for a NaN / inf loss);
    score: what was combined (the EMA, 0 after an invalid loss, 1/0 under winner-take-all);
    reason: None for a positive weight, else the first that applies of "failed_poai", "invalid_loss",
    "no_integrity", "integrity_below_gate", "integrity_zero", "not_winner", "no_score"."""

    hotkey: str
    loss: float | None
    block: int | None
    evaluated: bool
    win_rate: float | None
    wins: int | None
    ema: float
    score: float
    wta_winner: bool | None
    integrity: float
    integrity_factor: float
    failed: bool
    capacity: float | None
    weight: float
    reason: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def weights_from_losses(
    losses: Mapping[str, float],
    blocks: Mapping[str, int],
    previous_ema: Mapping[str, float],
    integrity: Mapping[str, float],
    failed: Collection[str] = frozenset(),
    config: WeightConfig | None = None,
    *,
    capacity: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, float], dict[str, MinerDetail]]:
    """One round: (weights, new_ema, details), each keyed by hotkey over losses | previous_ema (sorted).

    1. Win rates (`win_rates`, with config.head_start) among the miners evaluated this round, except the
       failed ones: a struck / banned node neither takes wins from nor gives wins to honest miners. A failed
       miner's round input is 0, and so is a NaN / inf loss's (it loses to everyone).
    2. new_ema = `ema`(previous_ema, round inputs, config.alpha): miners not evaluated this round decay.
    3. Score = new_ema, except 0 for a miner whose loss this round is NaN / inf (its weight is exactly 0 now,
       whatever its history).
    4. With config.winner_take_all, `select_winner` over the scores, among miners that can be paid
       (not failed, integrity factor > 0, score > 0), with population = the number of miners here; the
       winner's score becomes 1, everyone else's 0.
    5. `combine` with integrity, failed, capacity and the config's mode / gate_threshold / capacity_weight.

    The EMA state returned is the one to pass back next round; it is not affected by integrity or WTA.
    """
    cfg = config or WeightConfig()
    failed = frozenset(failed)
    miners = sorted(set(losses) | set(previous_ema))

    pool = {k: losses[k] for k in losses if k not in failed}
    wins, rates = compute_wins(pool, blocks, cfg.head_start)
    invalid = {k for k in losses if not math.isfinite(float(losses[k]))}
    current = {k: (rates.get(k, 0.0) if k not in failed else 0.0) for k in losses}
    new_ema = ema(previous_ema, current, cfg.alpha)

    scores = {k: (0.0 if k in invalid else new_ema.get(k, 0.0)) for k in miners}
    integ = {k: _integrity(integrity, k) for k in miners}
    factors = {k: (0.0 if k in failed else integrity_factor(integ[k], cfg.mode, cfg.gate_threshold))
               for k in miners}

    winner: str | None = None
    if cfg.winner_take_all:
        payable = [k for k in miners if factors[k] > 0.0 and scores[k] > 0.0]
        winner = select_winner(scores, blocks, top_fraction=cfg.top_fraction, top_k=cfg.top_k,
                               population=len(miners), eligible=payable)
        scores = {k: (1.0 if k == winner else 0.0) for k in miners}

    weights = combine(scores, integrity, mode=cfg.mode, gate_threshold=cfg.gate_threshold, failed=failed,
                      capacity=capacity, capacity_weight=cfg.capacity_weight)

    details: dict[str, MinerDetail] = {}
    for k in miners:
        evaluated = k in losses
        if weights[k] > 0.0:
            reason = None
        elif k in failed:
            reason = "failed_poai"
        elif k in invalid:
            reason = "invalid_loss"
        elif factors[k] == 0.0:
            if k not in integrity:
                reason = "no_integrity"
            elif cfg.mode != "multiplier" and integ[k] < cfg.gate_threshold:
                reason = "integrity_below_gate"
            else:
                reason = "integrity_zero"
        elif cfg.winner_take_all and k != winner:
            reason = "not_winner"
        else:
            reason = "no_score"
        cap = None
        if capacity is not None and k in capacity:
            cap = float(capacity[k])
        details[k] = MinerDetail(
            hotkey=k,
            loss=float(losses[k]) if evaluated else None,
            block=(int(blocks[k]) if k in blocks else None),
            evaluated=evaluated,
            win_rate=(current[k] if evaluated else None),
            wins=(wins.get(k, 0) if evaluated else None),
            ema=new_ema.get(k, 0.0),
            score=scores[k],
            wta_winner=(k == winner) if cfg.winner_take_all else None,
            integrity=integ[k],
            integrity_factor=factors[k],
            failed=k in failed,
            capacity=cap,
            weight=weights[k],
            reason=reason,
        )
    return weights, new_ema, details
