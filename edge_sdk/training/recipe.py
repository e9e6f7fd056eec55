"""The LoRA recipe: the single place its defaults live.

Defaults are the FLock OFF validator recipe (Bittensor subnet 96): r=16, alpha=32, dropout 0.1 on all linear
layers, batch 1 x grad-accum 8, 2 epochs, lr 2e-4, context 2048. On-device training and the validator's
dataset scoring both start from this object, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from edge_sdk.errors import InvalidRequestError


@dataclass(frozen=True)
class LoraRecipe:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: str | tuple[str, ...] = "all-linear"
    learning_rate: float = 2e-4
    epochs: int = 2
    batch_size: int = 1
    grad_accum_steps: int = 8
    max_seq_len: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.r < 1:
            problems.append(f"r must be >= 1, got {self.r}")
        if self.alpha <= 0:
            problems.append(f"alpha must be > 0, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.epochs < 1 or self.batch_size < 1 or self.grad_accum_steps < 1 or self.max_seq_len < 16:
            problems.append("epochs, batch_size and grad_accum_steps must be >= 1 and max_seq_len >= 16")
        if problems:
            raise InvalidRequestError("invalid LoRA recipe: " + "; ".join(problems))

    def with_(self, **changes) -> LoraRecipe:
        return replace(self, **changes)

    def to_peft_config(self, **overrides):
        """A peft LoraConfig for causal-LM fine-tuning with this recipe."""
        from peft import LoraConfig, TaskType

        targets = self.target_modules if isinstance(self.target_modules, str) else list(self.target_modules)
        kwargs = dict(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=targets,
                      task_type=TaskType.CAUSAL_LM, bias="none")
        kwargs.update(overrides)
        return LoraConfig(**kwargs)

    def to_dict(self) -> dict:
        return asdict(self)


FLOCK_OFF_RECIPE = LoraRecipe()
