"""Smoothing of per-round scores across rounds (EMA) and FLock's winner-take-all.

EMA (`ema`), as the Bittensor subnet template's `BaseValidatorNeuron.update_scores`
(opentensor/bittensor-subnet-template, template/base/validator.py; `neuron.moving_average_alpha`, 0.1):

    new[m] = alpha * current[m] + (1 - alpha) * previous[m]

- A miner missing from `current` (not evaluated this round) gets current = 0, so it decays by (1 - alpha)
  per round; it is kept, not dropped (the template scatters the round's rewards into a zero vector and
  decays everyone else; FLock's first validator did the same with lr 0.2: `(1 - lr) * weights + lr *
  new_weights`, neurons/validator.py at commit 6167152). `drop_below` (default 0: never) optionally drops a
  decaying miner once its value falls under it (FLock's later validator zeroed weights under
  MIN_WEIGHT_THRESHOLD = 1e-6, flockoff/constants.py).
- A new miner starts from previous = 0, i.e. from alpha * current (the template's zero-initialised scores).
  SN9 (taoverse CompetitionTracker.record_competition_weights) uses the same update with the roles of alpha
  swapped (alpha = 0.5 on the old value) and starts a whole competition from its first weights.
- Non-finite values count as 0 (the template's nan_to_num); values are clamped to [0, 1], so inputs in [0, 1]
  (win rates) give outputs in [0, 1], and a constant input c converges to c geometrically: the gap shrinks
  by (1 - alpha) per round.

Winner-take-all (`select_winner` / `winner_take_all`), as FLock's current validator
(github.com/FLock-io/FLock-subnet, flockoff/validator/validator_utils.py `select_winner`, LOSS_THRESHOLD_PCT
= 0.05 in flockoff/constants.py; neurons/validator.py sets weight 1 on the winner's uid, 0 elsewhere):

    band = the max(int(population * top_fraction), 1) best miners        (FLock: lowest eval loss)
    winner = the one in the band with the earliest commitment block      (FLock: then commitment timestamp)

Here the input is a score where higher is better (the EMA of win rates), population defaults to the number
of miners given (FLock uses the metagraph size), `top_k` replaces the fraction by a fixed band size
(top_k=1: simply the best, the earliest commitment among equal best scores), and ties are ordered
deterministically: by score, then block, then hotkey. Only miners with a finite score > 0 (and in `eligible`,
if given) can win; with none, nobody wins and every weight is 0.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

__all__ = ["DEFAULT_ALPHA", "DEFAULT_TOP_FRACTION", "ema", "select_winner", "winner_take_all"]

DEFAULT_ALPHA = 0.1  # bittensor-subnet-template neuron.moving_average_alpha
DEFAULT_TOP_FRACTION = 0.05  # FLock-subnet flockoff/constants.py LOSS_THRESHOLD_PCT


def _unit(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        return 0.0
    return min(1.0, max(0.0, x))


def ema(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    alpha: float = DEFAULT_ALPHA,
    *,
    drop_below: float = 0.0,
) -> dict[str, float]:
    """{miner: alpha * current + (1 - alpha) * previous} over previous | current (keys sorted).

    Missing from `current`: decays by (1 - alpha), kept unless the result is < `drop_below`. Missing from
    `previous` (new miner): starts at alpha * current. Non-finite -> 0; values clamped to [0, 1]."""
    a = float(alpha)
    if not (math.isfinite(a) and 0.0 < a <= 1.0):
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    out: dict[str, float] = {}
    for key in sorted(set(previous) | set(current)):
        prev = _unit(previous.get(key, 0.0))
        cur = _unit(current[key]) if key in current else 0.0
        value = _unit(a * cur + (1.0 - a) * prev)
        if key not in current and value < drop_below:
            continue
        out[key] = value
    return out


def _band_size(n_candidates: int, population: int, top_fraction: float, top_k: int | None) -> int:
    if top_k is not None:
        if int(top_k) < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k!r}")
        k = int(top_k)
    else:
        f = float(top_fraction)
        if not (math.isfinite(f) and 0.0 < f <= 1.0):
            raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction!r}")
        k = max(int(population * f), 1)
    return min(k, n_candidates)


def select_winner(
    scores: Mapping[str, float],
    blocks: Mapping[str, int] | None = None,
    *,
    top_fraction: float = DEFAULT_TOP_FRACTION,
    top_k: int | None = None,
    population: int | None = None,
    eligible: Collection[str] | None = None,
) -> str | None:
    """The winner under FLock's rule (module docstring): among the best `band` miners by score (higher is
    better), the earliest commitment block; None when no miner has a finite score > 0."""
    blocks = blocks or {}

    def block(k: str) -> float:
        b = blocks.get(k)
        return math.inf if b is None else float(b)

    candidates = [
        k for k, v in scores.items()
        if math.isfinite(float(v)) and float(v) > 0.0 and (eligible is None or k in eligible)
    ]
    if not candidates:
        return None
    pop = len(scores) if population is None else int(population)
    k = _band_size(len(candidates), pop, top_fraction, top_k)
    ranked = sorted(candidates, key=lambda m: (-float(scores[m]), block(m), m))
    band = ranked[:k]
    return min(band, key=lambda m: (block(m), -float(scores[m]), m))


def winner_take_all(
    scores: Mapping[str, float],
    blocks: Mapping[str, int] | None = None,
    *,
    top_fraction: float = DEFAULT_TOP_FRACTION,
    top_k: int | None = None,
    population: int | None = None,
    eligible: Collection[str] | None = None,
) -> dict[str, float]:
    """{miner: 1.0 for the `select_winner` winner, 0.0 for everyone else} (all 0.0 when nobody can win)."""
    winner = select_winner(scores, blocks, top_fraction=top_fraction, top_k=top_k, population=population,
                           eligible=eligible)
    return {k: (1.0 if k == winner else 0.0) for k in sorted(scores)}
