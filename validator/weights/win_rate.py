"""Pairwise win rates over eval losses, with a head start for the earlier commitment.

The rule (the "epsilon advantage for the earlier block" of Bittensor's model/dataset competitions):

    A beats B  <=>  adj(A) < adj(B)            (strict)
    adj(X) = loss_X * (1 - head_start)   if X committed at an earlier block than the other one
    adj(X) = loss_X                      otherwise (later block, or the same block)

So a later miner beats an earlier one only when its loss is lower by more than the relative margin
`head_start`: loss_later < (1 - head_start) * loss_earlier. An exact copy committed later (equal loss) loses
to the original, and the original beats it. For a negative loss (not possible for a cross-entropy eval loss)
adj(X) = loss_X - head_start * |loss_X|, so the head start still helps the earlier miner; for loss >= 0
this is the formula above.

    win_rate(A) = (#miners A beats) / (#other miners)

Where it comes from (read in the stored public sources):

- FLock's OFF subnet (SN96), github.com/FLock-io/FLock-subnet, first version (commit 6167152, Dec 2024),
  FLockDataset/validator/validator_utils.py `iswin` / `compute_wins`: exactly this multiplicative rule with
  `timestamp_epsilon = 0.04` (FLockDataset/constants.py), strict `<`, win_rate = wins / matches. Its
  validator then took softmax(win_rate / 0.08) and an EMA with lr 0.2 (neurons/validator.py).
- macrocosm-os/pretraining (SN9), pretrain/validation.py `iswin` / `compute_wins`: the same rule, where the
  epsilon comes from `competition.constraints.epsilon_func` (taoverse LinearDecay(0.005 -> 0.0005 or
  0.0001 over 2-10 days of blocks), i.e. the earlier model's advantage shrinks with its age), and a uid with
  no opponent gets win rate 1. SN9 additionally drops, before `compute_wins`, uids that cannot beat some
  earlier model even once its advantage has fully decayed (`compute_competitive_uids`); that filter is not
  applied here (all evaluated miners play each other).

Choices made here (deterministic, documented):

- `head_start` is a fixed fraction (FLock), not SN9's block-age decay. The default is FLock's 0.04 because
  FLock scores the same thing (a miner's dataset -> LoRA on a fixed base model -> eval loss); SN9's 0.005
  is exported for comparison.
- Ties: equal adjusted losses (same block and equal loss, or a later loss exactly at the margin) are a draw,
  which is a win for neither (strict `<`, as in both sources). No tie-break by hotkey or order: two identical submissions in the same block earn the
  same win rate.
- A NaN / +-inf loss loses to every miner (including another non-finite one: a draw) and beats none, but
  still counts as an opponent in the others' denominators.
- A miner with no commitment block in `blocks` is treated as the latest possible commitment: it never has
  the head start, and it plays without one against another miner without a block.
- A single miner: win rate 1.0 if its loss is finite (SN9's "no matches" default), else 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "DEFAULT_HEAD_START",
    "FLOCK_HEAD_START",
    "SN9_HEAD_START",
    "adjusted_loss",
    "beats",
    "compute_wins",
    "win_rates",
]

FLOCK_HEAD_START = 0.04  # FLock-subnet FLockDataset/constants.py timestamp_epsilon (v1, Dec 2024)
SN9_HEAD_START = 0.005  # macrocosm-os/pretraining constants: LinearDecay start epsilon (decays to 0.0005 / 0.0001)
DEFAULT_HEAD_START = FLOCK_HEAD_START


def _check_head_start(head_start: float) -> float:
    h = float(head_start)
    if not (math.isfinite(h) and 0.0 <= h < 1.0):
        raise ValueError(f"head_start must be in [0, 1), got {head_start!r}")
    return h


def adjusted_loss(loss: float, head_start: float) -> float:
    """The loss of the earlier commitment after its head start: loss * (1 - head_start) for loss >= 0 (the
    sources' formula), loss * (1 + head_start) for a negative loss (i.e. loss - head_start * |loss|)."""
    return loss * (1.0 - head_start) if loss >= 0 else loss * (1.0 + head_start)


def _block(blocks: Mapping[str, int], key: str) -> float:
    b = blocks.get(key)
    return math.inf if b is None else float(b)


def beats(loss_a: float, block_a: float, loss_b: float, block_b: float, head_start: float = DEFAULT_HEAD_START) -> bool:
    """True when A beats B under the head-start rule of this module (strict; a draw is False for both)."""
    h = _check_head_start(head_start)
    a, b = float(loss_a), float(loss_b)
    if not math.isfinite(a):
        return False
    if not math.isfinite(b):
        return True
    if block_a < block_b:
        a = adjusted_loss(a, h)
    elif block_b < block_a:
        b = adjusted_loss(b, h)
    return a < b


def compute_wins(
    losses: Mapping[str, float], blocks: Mapping[str, int], head_start: float = DEFAULT_HEAD_START
) -> tuple[dict[str, int], dict[str, float]]:
    """({miner: wins}, {miner: win rate}) over every pair of miners in `losses` (keys sorted)."""
    h = _check_head_start(head_start)
    keys = sorted(losses)
    loss = {k: float(losses[k]) for k in keys}
    block = {k: _block(blocks, k) for k in keys}
    wins = {k: 0 for k in keys}
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if beats(loss[a], block[a], loss[b], block[b], h):
                wins[a] += 1
            elif beats(loss[b], block[b], loss[a], block[a], h):
                wins[b] += 1
    others = len(keys) - 1
    if others == 0:
        rates = {k: (1.0 if math.isfinite(loss[k]) else 0.0) for k in keys}
    else:
        rates = {k: wins[k] / others for k in keys}
    return wins, rates


def win_rates(
    losses: Mapping[str, float], blocks: Mapping[str, int], head_start: float = DEFAULT_HEAD_START
) -> dict[str, float]:
    """{miner hotkey: win rate in [0, 1]}: the share of the other miners it beats, where a later commitment
    must have a loss lower than (1 - head_start) x the earlier one's to beat it (see the module docstring for
    the rule, its sources (FLock-io/FLock-subnet FLockDataset/validator/validator_utils.py `iswin`,
    macrocosm-os/pretraining pretrain/validation.py `iswin`) and the tie / NaN / missing-block rules).

    losses: {hotkey: eval loss} (lower is better); blocks: {hotkey: block of the miner's commitment}.
    """
    return compute_wins(losses, blocks, head_start)[1]
