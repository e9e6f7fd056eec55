"""Named tensors + the task's LoRA recipe -> a peft adapter folder that training and every runtime backend load."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edge_sdk.federation.tensors import AdapterTensors, save_adapter_tensors
from edge_sdk.training.recipe import LoraRecipe


def write_peft_folder(folder: str | os.PathLike[str], tensors: AdapterTensors, recipe: LoraRecipe,
                      base_model_name: str | None = None) -> Path:
    """Write `tensors` with an adapter_config.json made from `recipe` (atomically, config last)."""
    with tempfile.TemporaryDirectory(prefix=".peft-config-") as tmp:
        config = recipe.to_peft_config(base_model_name_or_path=base_model_name)
        config.save_pretrained(tmp)
        return save_adapter_tensors(folder, tensors, config_from=tmp)
