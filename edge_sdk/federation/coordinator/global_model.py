"""The base model on the coordinator: it makes the first global adapter and scores every new version on the
coordinator's held-out rows (mean loss per assistant token, the training engine's own evaluation)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

from edge_sdk.federation.tensors import AdapterTensors, load_adapter_tensors
from edge_sdk.training.data import ChatRow
from edge_sdk.training.recipe import LoraRecipe


class GlobalModel:
    def __init__(self, model: Any, recipe: LoraRecipe, eval_rows: Sequence[ChatRow] = ()) -> None:
        from edge_sdk.training.engine import LoraTrainer

        self.trainer = LoraTrainer(model, recipe)  # a fresh adapter: A from recipe.seed, B = 0
        self.model_name = self.trainer.assets.name
        self._eval = self.trainer.encode(eval_rows) if eval_rows else []
        self._names: set[str] | None = None

    def initial_tensors(self) -> AdapterTensors:
        with tempfile.TemporaryDirectory(prefix="fed-initial-") as tmp:
            self.trainer.save_adapter(tmp)
            tensors = load_adapter_tensors(tmp)
        self._names = set(tensors)
        return tensors

    @property
    def can_evaluate(self) -> bool:
        return bool(self._eval)

    def evaluate(self, tensors: AdapterTensors) -> float | None:
        """Held-out loss with `tensors` as the adapter (None without eval rows). `tensors` must name every
        adapter tensor: the model is reused, so a missing one would keep an older value."""
        if not self._eval:
            return None
        import torch
        from peft import set_peft_model_state_dict

        if self._names is None:
            self.initial_tensors()
        if set(tensors) != self._names:
            missing, extra = sorted(self._names - set(tensors)), sorted(set(tensors) - self._names)
            raise ValueError(f"adapter tensors do not match the model (missing {missing[:3]}, extra {extra[:3]})")
        state = {name: torch.from_numpy(array.copy()) for name, array in tensors.items()}
        set_peft_model_state_dict(self.trainer.model, state)
        return float(self.trainer.evaluate(self._eval))
