"""PyTorch (transformers) backend: the reference engine, the only one that trains and hosts peft adapters.

It also provides the teacher-forced scoring PoAI's inference check uses: one forward pass over prompt +
completion gives every position's logprobs, which is far cheaper than the node's token-by-token decode.
"""

from __future__ import annotations

import os

import numpy as np

from edge_sdk.errors import BackendUnavailableError, InvalidRequestError, ModelCorruptError
from edge_sdk.runtime.base import InferenceBackend
from edge_sdk.runtime.sampler import token_logprob
from edge_sdk.runtime.types import TokenLogprob


class TorchBackend(InferenceBackend):
    name = "torch"

    def __init__(self, assets, *, adapter: str | os.PathLike | None = None, device: str | None = None,
                 n_threads: int | None = None, model=None) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM
        except ImportError as exc:  # pragma: no cover - depends on the extras installed
            raise BackendUnavailableError(f"the torch backend needs torch and transformers ({exc}): "
                                          "pip install 'edgeproof[torch]'") from exc
        self._torch = torch
        if n_threads:
            torch.set_num_threads(int(n_threads))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if model is None:
            path = assets.hf_dir()
            try:
                model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
            except (OSError, ValueError) as exc:
                raise ModelCorruptError(f"could not load the PyTorch model from {path}: {exc}") from exc
        if adapter is not None:
            model = _apply_adapter(model, adapter)
        self.model = model.to(self.device).eval()
        self.adapter = str(adapter) if adapter else None
        super().__init__(assets.tokenizer(), assets.context_length(), assets.name)
        self._past = None

    def _logits(self, ids: list[int]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(torch.tensor([ids], device=self.device), past_key_values=self._past, use_cache=True)
        self._past = out.past_key_values
        return out.logits[0, -1].float().cpu().numpy()

    def _prefill(self, prompt_ids: list[int]) -> np.ndarray:
        self._past = None
        return self._logits(prompt_ids)

    def _decode(self, token_id: int) -> np.ndarray:
        return self._logits([token_id])

    def teacher_forced_logprobs(self, prompt_ids: list[int], completion_ids: list[int],
                                top_k: int = 0) -> list[TokenLogprob]:
        """Logprob of each completion token given everything before it, from ONE forward pass."""
        if not completion_ids:
            return []
        ids = [int(t) for t in prompt_ids] + [int(t) for t in completion_ids]
        if len(ids) > self.context_length:
            raise InvalidRequestError(f"prompt + completion is {len(ids)} tokens, over the context of "
                                      f"{self.context_length}")
        torch = self._torch
        with self._lock, torch.inference_mode():
            logits = self.model(torch.tensor([ids], device=self.device), use_cache=False).logits[0]
            rows = logits[len(prompt_ids) - 1: len(ids) - 1].float().cpu().numpy()
        return [token_logprob(row, tok, top_k, self.decode_token) for row, tok in zip(rows, completion_ids)]


def _apply_adapter(model, adapter):
    """Load a peft LoRA folder onto the model and merge it (same outputs, no per-token adapter cost)."""
    from edge_sdk.models.validate import require_adapter_folder

    path = require_adapter_folder(adapter)
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise BackendUnavailableError("applying a LoRA adapter needs peft: pip install 'edgeproof[train]'") from exc
    try:
        return PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    except Exception as exc:
        raise ModelCorruptError(f"could not apply the adapter in {path} to this model: {exc}") from exc
