"""Score one dataset: train the fixed base model with the preset's LoRA recipe, then the mean loss per assistant
token on the validator's eval set (the training engine's own evaluation). Lower is better.

Deterministic: the same rows, preset, seed and model give the same loss. Training checkpoints into
`workdir/<key>`, so a validator killed mid-training resumes the dataset where it stopped.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_sdk.training.data import ChatRow
from edge_sdk.training.recipe import preset as recipe_preset


@dataclass(frozen=True)
class ScoreJob:
    """Everything a worker (this process or a Ray task) needs to score one dataset."""

    key: str  # unique per (miner, revision, preset): names the training folder
    rows: tuple[ChatRow, ...]
    eval_rows: tuple[ChatRow, ...]
    preset: str
    model: str | None
    workdir: str
    seed: int = 0
    threads: int | None = None
    # Fixed, not read from the machine: the micro-batch follows from it, and with dropout the masks depend on
    # the micro-batch, so every validator must plan the same one to compute the same loss.
    memory_budget_bytes: int = 4 << 30


@dataclass(frozen=True)
class ScoreOutcome:
    key: str
    eval_loss: float
    train_loss: float
    steps: int
    rows: int
    tokens: int
    train_seconds: float
    eval_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_dataset(job: ScoreJob) -> ScoreOutcome:
    """Train on `job.rows`, evaluate on `job.eval_rows`. train_seconds includes building the trainer (loading the
    base model: ~2 s for SmolLM2 once its files are cached)."""
    import torch

    from edge_sdk.training.engine import LoraTrainer

    threads = torch.get_num_threads()
    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        recipe = recipe_preset(job.preset).with_(seed=job.seed)
        out = Path(job.workdir) / job.key
        t0 = time.perf_counter()
        trainer = LoraTrainer(job.model, recipe, memory_budget_bytes=job.memory_budget_bytes)
        result = trainer.train(list(job.rows), out)
        t1 = time.perf_counter()
        loss = trainer.evaluate(list(job.eval_rows))
        t2 = time.perf_counter()
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(out, ignore_errors=True)  # the loss is what is kept; the adapter is not needed again
    return ScoreOutcome(job.key, float(loss) if math.isfinite(loss) else math.inf, float(result.final_loss),
                        result.steps, result.rows, result.tokens, round(t1 - t0, 3), round(t2 - t1, 3))
