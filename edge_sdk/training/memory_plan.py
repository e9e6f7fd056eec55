"""How many rows one micro-batch may hold on this device, from the training memory estimate.

The estimate is `edge_sdk.device.eligibility.estimate_training_memory` (generous on purpose); the budget is
the device's available RAM (or free VRAM on CUDA) less what the eligibility policy keeps free, divided by its
headroom factor. The largest micro-batch up to the recipe's rows per step that fits is used; when not even
one row of the longest length fits, training is refused with the numbers before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.device.eligibility import TrainingPolicy, estimate_training_memory
from edge_sdk.device.units import format_bytes
from edge_sdk.errors import InvalidRequestError


class TrainingMemoryError(InvalidRequestError):
    """The run cannot fit this device's memory; the message gives the estimate and the budget."""


@dataclass(frozen=True)
class ModelShape:
    params: int
    hidden_size: int
    num_layers: int
    vocab_size: int

    @classmethod
    def of(cls, model) -> ModelShape:
        cfg = model.config
        return cls(sum(p.numel() for p in model.parameters()), int(cfg.hidden_size), int(cfg.num_hidden_layers),
                   int(cfg.vocab_size))


@dataclass(frozen=True)
class MemoryPlan:
    micro_batch: int
    seq_len: int
    estimate_bytes: int  # for one micro-batch of `micro_batch` rows of `seq_len` tokens
    budget_bytes: int


def estimate(shape: ModelShape, rank: int, seq_len: int, batch: int) -> int:
    return estimate_training_memory(shape.params, rank, seq_len, batch_size=batch, hidden_size=shape.hidden_size,
                                    num_layers=shape.num_layers, vocab_size=shape.vocab_size)


def budget_from_available(available_bytes: int, policy: TrainingPolicy | None = None) -> int:
    policy = policy or TrainingPolicy()
    return max(0, int((available_bytes - policy.min_free_ram_bytes) / policy.memory_headroom))


def plan_micro_batch(shape: ModelShape, rank: int, seq_len: int, max_rows: int, budget_bytes: int) -> MemoryPlan:
    """The largest micro-batch (<= max_rows) whose estimate at `seq_len` fits `budget_bytes`."""
    one = estimate(shape, rank, seq_len, 1)
    if one > budget_bytes:
        raise TrainingMemoryError(
            f"training needs about {format_bytes(one)} for one row of {seq_len} tokens (LoRA r={rank}, "
            f"{shape.params / 1e6:.0f}M parameters) but the memory budget is {format_bytes(budget_bytes)}: "
            "lower max_seq_len (shorter rows), use a smaller model, or free memory")
    best = 1
    for b in range(2, max_rows + 1):
        if estimate(shape, rank, seq_len, b) > budget_bytes:
            break
        best = b
    return MemoryPlan(best, seq_len, estimate(shape, rank, seq_len, best), budget_bytes)
