"""One round on the device: train from the global adapter on the local rows, then turn the result into the
update that leaves the device (the delta from the global adapter, clipped and noised when the task asks for
local DP, encoded as the task says). Only tensors leave: never rows, never text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.federation.privacy import PrivacyAccountant, privatize
from edge_sdk.federation.task import ReceivedTask
from edge_sdk.federation.tensors import load_adapter_tensors, subtract
from edge_sdk.federation.transfer import sha256, weights_bytes
from edge_sdk.training.data import ChatRow


@dataclass(frozen=True)
class PreparedUpdate:
    """An encoded update kept on disk until the coordinator confirms it (survives drops and restarts)."""

    round: int
    attempt: int
    base_version: int
    num_examples: int
    steps: int
    train_loss: float
    update_norm: float
    epsilon: float
    sha256: str
    size: int

    def save(self, folder: Path, payload: bytes) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in (("update.bin", payload), ("update.json", json.dumps(asdict(self)).encode())):
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, folder / name)  # update.json last: its presence means the update is whole

    @classmethod
    def load(cls, folder: Path) -> tuple[PreparedUpdate, bytes] | None:
        meta, blob = folder / "update.json", folder / "update.bin"
        if not meta.is_file() or not blob.is_file():
            return None
        prepared = cls(**json.loads(meta.read_text()))
        payload = blob.read_bytes()
        if len(payload) != prepared.size or sha256(payload).hex() != prepared.sha256:
            return None
        return prepared, payload


def train_round(*, model: Any, task: ReceivedTask, global_dir: Path, rows: Sequence[ChatRow], out_dir: Path,
                seed: int, default_system: str | None, should_stop: Callable[[], bool],
                progress: Callable[[Any], None] | None) -> Any:
    """Local training from the global adapter: `task.local_steps` optimizer steps (TrainResult)."""
    from edge_sdk.training.engine import LoraTrainer

    trainer = LoraTrainer(model, task.local_recipe(seed), init_adapter=global_dir, default_system=default_system)
    return trainer.train(rows, out_dir, should_stop=should_stop, progress=progress)


def make_update(*, task: ReceivedTask, global_dir: Path, trained_dir: Path, accountant: PrivacyAccountant,
                rng: np.random.Generator) -> tuple[bytes, float, float]:
    """(encoded AdapterWeights bytes of the delta, its norm before privacy, the epsilon spent so far)."""
    delta = subtract(load_adapter_tensors(trained_dir), load_adapter_tensors(global_dir))
    private, report = privatize(delta, task.privacy, rng)
    epsilon = 0.0
    if task.privacy.noise_multiplier > 0:
        accountant.record(task.privacy.noise_multiplier)
        epsilon = accountant.epsilon(task.privacy.delta)
    return weights_bytes(private, task.update_encoding), report.original_norm, epsilon
