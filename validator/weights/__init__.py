"""Eval losses -> weights: pure functions, each documented by the rule it implements.

    from validator.weights import WeightConfig, weights_from_losses
    weights, new_ema, details = weights_from_losses(losses, blocks, previous_ema, integrity, failed, WeightConfig())

    win_rate.win_rates       pairwise wins, the earlier commitment's loss counted x (1 - head_start)
                             (FLock-subnet v1 / SN9 `iswin`)
    smoothing.ema            alpha * current + (1 - alpha) * previous; unevaluated miners decay (subnet template)
    smoothing.winner_take_all  best top_fraction (FLock: 5%) by score, earliest commitment among them wins
    combine.combine          x PoAI integrity (gate / multiplier / both), failed -> 0, optional capacity blend,
                             normalised to sum 1 (all 0 when nothing is payable)
    combine.weights_from_losses  the chain, with per-miner details
"""

from validator.weights.combine import (
    MODES,
    MinerDetail,
    Mode,
    WeightConfig,
    combine,
    integrity_factor,
    weights_from_losses,
)
from validator.weights.smoothing import DEFAULT_ALPHA, DEFAULT_TOP_FRACTION, ema, select_winner, winner_take_all
from validator.weights.win_rate import (
    DEFAULT_HEAD_START,
    FLOCK_HEAD_START,
    SN9_HEAD_START,
    adjusted_loss,
    beats,
    compute_wins,
    win_rates,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_HEAD_START",
    "DEFAULT_TOP_FRACTION",
    "FLOCK_HEAD_START",
    "MODES",
    "MinerDetail",
    "Mode",
    "SN9_HEAD_START",
    "WeightConfig",
    "adjusted_loss",
    "beats",
    "combine",
    "compute_wins",
    "ema",
    "integrity_factor",
    "select_winner",
    "weights_from_losses",
    "win_rates",
    "winner_take_all",
]
