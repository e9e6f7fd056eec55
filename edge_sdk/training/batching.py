"""Which rows go into which optimizer step and micro-batch, so little compute goes to padding.

Rows are shuffled under the seed (a fresh order per epoch), cut into groups of 16 steps, sorted by length
inside each group and dealt into steps of `rows_per_step` rows; then the steps are shuffled (the idea of
transformers' length-grouped sampler). A step's rows therefore have similar lengths, and the micro-batches cut
from it are padded only to their longest row. The plan is a pure function of (rows, seed, epoch): a resumed
run sees exactly the steps an uninterrupted run would.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from edge_sdk.training.encode import IGNORE, EncodedRow

GROUP_STEPS = 16


def plan_epoch(lengths: Sequence[int], rows_per_step: int, seed: int, epoch: int) -> list[list[int]]:
    """Row indices of every optimizer step of `epoch`, each step's rows longest first."""
    rng = random.Random(f"edgeproof-train:{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = rows_per_step * GROUP_STEPS
    steps: list[list[int]] = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start:start + group], key=lambda i: (-lengths[i], i))
        steps.extend(chunk[k:k + rows_per_step] for k in range(0, len(chunk), rows_per_step))
    rng.shuffle(steps)
    return steps


def micro_batches(step: Sequence[int], size: int) -> list[list[int]]:
    """Consecutive slices of a (length-sorted) step of at most `size` rows."""
    return [list(step[k:k + size]) for k in range(0, len(step), size)]


def collate(rows: Sequence[EncodedRow], pad_id: int) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """Right-padded input ids, attention mask and labels (IGNORE on padding) as nested lists."""
    width = max(len(r) for r in rows)
    ids = [list(r.input_ids) + [pad_id] * (width - len(r)) for r in rows]
    mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
    labels = [list(r.labels) + [IGNORE] * (width - len(r)) for r in rows]
    return ids, mask, labels


def padding_fraction(rows: Sequence[EncodedRow], steps: Sequence[Sequence[int]], size: int) -> float:
    """Share of computed positions that are padding under this plan and micro-batch size."""
    real = padded = 0
    for step in steps:
        for mb in micro_batches(step, size):
            lengths = [len(rows[i]) for i in mb]
            real += sum(lengths)
            padded += max(lengths) * len(lengths)
    return 0.0 if padded == 0 else 1.0 - real / padded
