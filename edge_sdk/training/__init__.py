"""LoRA fine-tuning on private chat data: one engine for devices, federation rounds and the validator.

    from edge_sdk.training import LoraTrainer, load_chat_jsonl, preset
    trainer = LoraTrainer(recipe=preset("cpu"))
    result = trainer.train(load_chat_jsonl("private.jsonl"), "my-adapter")
    trainer.evaluate(load_chat_jsonl("held-out.jsonl"))     # mean loss per assistant token

Layout: recipe.py (defaults and presets), data.py (chat JSONL, checked), encode.py (chat template, assistant
labels), batching.py (steps and micro-batches), memory_plan.py (micro-batch from the memory estimate),
checkpoint.py (resumable state), engine.py (the loop and evaluation).
"""

from edge_sdk.training.data import ChatRow, DatasetError, load_chat_jsonl, parse_rows
from edge_sdk.training.recipe import CPU_RECIPE, FLOCK_OFF_RECIPE, PRESETS, LoraRecipe, preset

__all__ = [
    "CPU_RECIPE",
    "ChatRow",
    "DatasetError",
    "FLOCK_OFF_RECIPE",
    "LoraRecipe",
    "LoraTrainer",
    "PRESETS",
    "TrainProgress",
    "TrainResult",
    "TrainingMemoryError",
    "load_chat_jsonl",
    "parse_rows",
    "preset",
]


def __getattr__(name: str):
    # The engine imports torch and peft: only when it is used. memory_plan imports edge_sdk.device, which
    # imports this package's recipe: loading it here would be an import cycle.
    if name in ("LoraTrainer", "TrainProgress", "TrainResult"):
        from edge_sdk.training import engine

        return getattr(engine, name)
    if name == "TrainingMemoryError":
        from edge_sdk.training.memory_plan import TrainingMemoryError

        return TrainingMemoryError
    raise AttributeError(name)
