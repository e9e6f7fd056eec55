"""A federation task: the model, the LoRA recipe, how many rounds of how many local steps, who is selected and
how their updates are combined. The coordinator holds one; clients receive it (as the `Task` message) in the
Welcome, so every device trains the same way.

Round rules: a round opens once `min_clients` eligible clients are checked in; the coordinator selects
ceil(clients_per_round * over_selection) of them (over-selection absorbs drop-outs), accepts updates until
`clients_per_round` have arrived, every selected client has answered, or `round_deadline_s` passes (late
updates are dropped). With at least `quorum` updates the round is aggregated; otherwise it is abandoned and
retried (a new attempt, a new selection) after `retry_delay_s`, at most `max_attempts` times, after which the
task fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.aggregation import RULES
from edge_sdk.federation.codec import ENCODINGS
from edge_sdk.federation.privacy import DPConfig
from edge_sdk.training.recipe import FEDERATED_RECIPE, LoraRecipe

PROTOCOL_VERSION = 1
MIB = 1024**2
DEFAULT_FEDPROX_MU = 0.01
_ENCODING_TO_PB = {"float32": pb.FLOAT32, "float32_zlib": pb.FLOAT32_ZLIB, "int8_zlib": pb.INT8_ZLIB}
_PB_TO_ENCODING = {v: k for k, v in _ENCODING_TO_PB.items()}


@dataclass(frozen=True)
class FederationTask:
    task_id: str = "federation"
    base_model: str | None = None  # a model reference both sides resolve (None: the default SmolLM2)
    recipe: LoraRecipe = FEDERATED_RECIPE
    rounds: int = 3
    local_steps: int = 10
    aggregation: str = "fedavg"
    aggregation_params: dict[str, Any] = field(default_factory=dict)  # e.g. {"beta": 0.2} (coordinator only)
    clients_per_round: int = 3
    over_selection: float = 1.3
    min_clients: int | None = None  # eligible clients needed to open a round (None: quorum)
    quorum: int = 2
    round_deadline_s: float = 600.0
    retry_delay_s: float = 5.0
    max_attempts: int = 3
    privacy: DPConfig = field(default_factory=DPConfig)
    update_encoding: str = "int8_zlib"
    max_update_bytes: int = 64 * MIB
    chunk_bytes: int = 1 * MIB
    max_examples: int = 1_000_000  # an update claiming more rows than this is refused (caps a client's weight)
    seed: int = 0  # selection and per-round training seeds derive from it

    def __post_init__(self) -> None:
        problems = []
        if not self.task_id or len(self.task_id) > 128:
            problems.append("task_id must be 1-128 characters")
        if self.aggregation not in RULES:
            problems.append(f"unknown aggregation {self.aggregation!r}; use one of {', '.join(sorted(RULES))}")
        if self.rounds < 1 or self.local_steps < 1:
            problems.append("rounds and local_steps must be >= 1")
        if self.quorum < 1 or self.clients_per_round < self.quorum:
            problems.append(f"need 1 <= quorum ({self.quorum}) <= clients_per_round ({self.clients_per_round})")
        if self.min_clients is not None and self.min_clients < self.quorum:
            problems.append(f"min_clients ({self.min_clients}) must be >= quorum ({self.quorum})")
        if self.over_selection < 1.0:
            problems.append(f"over_selection must be >= 1.0, got {self.over_selection}")
        if self.round_deadline_s <= 0 or self.retry_delay_s < 0 or self.max_attempts < 1:
            problems.append("round_deadline_s must be > 0, retry_delay_s >= 0 and max_attempts >= 1")
        if self.update_encoding not in ENCODINGS:
            problems.append(f"unknown update_encoding {self.update_encoding!r}; use one of {', '.join(ENCODINGS)}")
        if self.chunk_bytes < 1024 or self.chunk_bytes > 4 * MIB:
            problems.append(f"chunk_bytes must be between 1 KiB and 4 MiB, got {self.chunk_bytes}")
        if self.max_update_bytes < self.chunk_bytes:
            problems.append("max_update_bytes must be >= chunk_bytes")
        if problems:
            raise InvalidRequestError("invalid federation task: " + "; ".join(problems))

    # ------------------------------------------------------------------------------------------- derived
    @property
    def selected_per_round(self) -> int:
        return math.ceil(self.clients_per_round * self.over_selection)

    @property
    def clients_to_open(self) -> int:
        return self.min_clients if self.min_clients is not None else self.quorum

    def client_recipe(self) -> LoraRecipe:
        """The recipe clients train with: FFA-LoRA freezes A; FedProx needs a proximal term (default mu 0.01)."""
        recipe = self.recipe
        if self.aggregation == "ffa_lora" and not recipe.freeze_lora_a:
            recipe = replace(recipe, freeze_lora_a=True)
        if self.aggregation == "fedprox" and recipe.proximal_mu == 0:
            recipe = replace(recipe, proximal_mu=DEFAULT_FEDPROX_MU)
        return recipe

    def round_seed(self, round_no: int, attempt: int) -> int:
        return (self.seed * 1_000_003 + round_no * 1009 + attempt) % 2**63

    # -------------------------------------------------------------------------------------------- wire
    def to_proto(self, base_model_name: str) -> pb.Task:
        r = self.client_recipe()
        targets = [r.target_modules] if isinstance(r.target_modules, str) else list(r.target_modules)
        return pb.Task(
            task_id=self.task_id,
            base_model=base_model_name,
            recipe=pb.LoraRecipe(
                r=r.r, alpha=r.alpha, dropout=r.dropout, target_modules=targets, learning_rate=r.learning_rate,
                max_seq_len=r.max_seq_len, batch_size=r.batch_size, grad_accum_steps=r.grad_accum_steps,
                weight_decay=r.weight_decay, warmup_steps=r.warmup_steps, lr_schedule=r.lr_schedule,
                max_grad_norm=r.max_grad_norm, proximal_mu=r.proximal_mu, freeze_lora_a=r.freeze_lora_a,
            ),
            rounds=self.rounds,
            local_steps=self.local_steps,
            aggregation=self.aggregation,
            privacy=pb.PrivacySpec(clip_norm=self.privacy.clip_norm or 0.0,
                                   noise_multiplier=self.privacy.noise_multiplier, delta=self.privacy.delta),
            update_encoding=_ENCODING_TO_PB[self.update_encoding],
            max_update_bytes=self.max_update_bytes,
            chunk_bytes=self.chunk_bytes,
        )


@dataclass(frozen=True)
class ReceivedTask:
    """What a client learns from the Welcome: enough to train and upload like every other client."""

    task_id: str
    base_model: str
    recipe: LoraRecipe
    rounds: int
    local_steps: int
    aggregation: str
    privacy: DPConfig
    update_encoding: str
    max_update_bytes: int
    chunk_bytes: int

    @classmethod
    def from_proto(cls, task: pb.Task) -> ReceivedTask:
        if task.update_encoding not in _PB_TO_ENCODING:
            raise InvalidRequestError(f"the coordinator asks for an unknown update encoding {task.update_encoding}")
        p = task.recipe
        targets: str | tuple[str, ...] = tuple(p.target_modules)
        if targets == ("all-linear",):
            targets = "all-linear"
        recipe = LoraRecipe(
            r=p.r, alpha=int(p.alpha) if float(p.alpha).is_integer() else p.alpha, dropout=p.dropout,
            target_modules=targets, learning_rate=p.learning_rate, max_seq_len=p.max_seq_len,
            batch_size=p.batch_size, grad_accum_steps=p.grad_accum_steps, weight_decay=p.weight_decay,
            warmup_steps=p.warmup_steps, lr_schedule=p.lr_schedule or "linear", max_grad_norm=p.max_grad_norm,
            proximal_mu=p.proximal_mu, freeze_lora_a=p.freeze_lora_a,
        )
        privacy = DPConfig(clip_norm=task.privacy.clip_norm or None,
                           noise_multiplier=task.privacy.noise_multiplier, delta=task.privacy.delta or 1e-5)
        return cls(task_id=task.task_id, base_model=task.base_model, recipe=recipe, rounds=task.rounds,
                   local_steps=task.local_steps, aggregation=task.aggregation, privacy=privacy,
                   update_encoding=_PB_TO_ENCODING[task.update_encoding], max_update_bytes=task.max_update_bytes,
                   chunk_bytes=task.chunk_bytes)

    def local_recipe(self, seed: int) -> LoraRecipe:
        """The recipe for one round: `local_steps` optimizer steps (as many epochs as that takes) under this
        round's seed."""
        return replace(self.recipe, max_steps=self.local_steps, epochs=max(self.local_steps, 1),
                       seed=int(seed % 2**31), checkpoint_every=max(self.local_steps, 1))


def encoding_to_proto(name: str) -> int:
    return _ENCODING_TO_PB[name]


def encoding_from_proto(value: int) -> str:
    try:
        return _PB_TO_ENCODING[value]
    except KeyError:
        raise InvalidRequestError(f"unknown tensor encoding {value}") from None
