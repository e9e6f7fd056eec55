"""LoRA fine-tuning on private chat data (the engine the validator's dataset scoring reuses)."""

from edge_sdk.training.recipe import FLOCK_OFF_RECIPE, LoraRecipe

__all__ = ["FLOCK_OFF_RECIPE", "LoraRecipe"]
