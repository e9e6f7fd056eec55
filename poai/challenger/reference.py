"""The challenger's reference model for the inference challenge (loaded once, at start-up).

The verifier runs ONE teacher-forced forward pass of the reference model over each prompt + the node's
completion (edge_sdk's TorchBackend.teacher_forced_logprobs), so the reference is the PyTorch backend.
"""

from __future__ import annotations

import importlib.util
from typing import Any


def inference_challenge_installed() -> bool:
    return importlib.util.find_spec("poai.challenges.inference") is not None


def load_reference(model: str | None = None) -> Any:
    """The PyTorch backend of `model` (None: edge_sdk's default model). Raises edge_sdk errors that say
    what is missing (model not found, torch/transformers not installed)."""
    from edge_sdk.runtime import load_backend

    return load_backend("torch", model)
