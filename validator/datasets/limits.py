"""What a miner's dataset may be: the bounds `validate_dataset` enforces before a dataset is trained on.

The defaults fit the subnet's scoring run (LoRA on a small base model with a 2048-token context): a dataset
big enough to learn something from and small enough that every validator can train on every miner's data
each epoch. A validator may tighten or loosen them, but all validators should agree, or a dataset accepted
by one is rejected by another.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

MIB = 1024 * 1024


@dataclass(frozen=True)
class DatasetLimits:
    min_rows: int = 8  # fewer rows than this teaches nothing measurable
    max_rows: int = 10_000  # bounds the training time per miner
    max_bytes: int = 32 * MIB  # checked before the file is read
    max_turns: int = 32  # messages (user + assistant) in one row
    max_tokens: int = 2048  # one row with the chat template: the training context (when a counter is given)
    max_chars: int = 8_192  # one message, the system prompt included; bounds rows when tokens are not counted

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DatasetLimits.{f.name} must be a positive integer, got {value!r}")
        if self.min_rows > self.max_rows:
            raise ValueError(f"DatasetLimits.min_rows ({self.min_rows}) is above max_rows ({self.max_rows}): "
                             "no dataset could pass")
        if self.max_turns < 2:
            raise ValueError(f"DatasetLimits.max_turns is {self.max_turns}: a row needs at least 2 messages "
                             "(a user question and the assistant's answer)")

    def within_context(self, max_seq_len: int) -> DatasetLimits:
        """These limits with rows no longer than the scoring recipe's context (a longer row cannot be trained)."""
        return self if self.max_tokens <= max_seq_len else replace(self, max_tokens=max_seq_len)
