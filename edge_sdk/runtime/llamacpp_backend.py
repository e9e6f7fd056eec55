"""llama.cpp backend (llama-cpp-python): runs the GGUF directly, the fastest engine on small CPUs.

We drive llama.cpp's eval ourselves and sample in edge_sdk.runtime.sampler so greedy output, stop strings and
logprobs behave exactly as on the other backends. Prompt tokens come from the shared HF tokenizer, and the
KV cache of a shared prompt prefix is reused between calls, as llama-cpp-python's own completion does.
"""

from __future__ import annotations

import os

import numpy as np

from edge_sdk.errors import BackendUnavailableError, InvalidRequestError, ModelCorruptError
from edge_sdk.runtime.base import InferenceBackend


class LlamaCppBackend(InferenceBackend):
    name = "llamacpp"

    def __init__(self, assets, *, adapter: str | os.PathLike | None = None, n_threads: int | None = None,
                 n_ctx: int | None = None, n_gpu_layers: int = -1) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendUnavailableError(
                "the llamacpp backend needs llama-cpp-python: pip install 'edgeproof[llamacpp]' "
                "(compiles llama.cpp, ~5 minutes on 2 cores)"
            ) from exc
        if adapter is not None:
            raise InvalidRequestError(
                "LoRA adapters (peft folders) are applied on the torch or onnx backend; llama.cpp needs them "
                "converted to GGUF first: use --backend torch or --backend onnx"
            )
        if assets.gguf_path is None:
            raise BackendUnavailableError(
                f"model {assets.name!r} has no GGUF file, which llama.cpp needs: pass a .gguf path or use "
                "--backend onnx / torch"
            )
        ctx = n_ctx or min(assets.context_length(), 8192)
        try:
            self.llm = Llama(model_path=str(assets.gguf_path), n_ctx=ctx, n_threads=n_threads or os.cpu_count(),
                             n_gpu_layers=n_gpu_layers, logits_all=False, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelCorruptError(f"llama.cpp could not load {assets.gguf_path}: {exc}") from exc
        self._n_vocab = self.llm.n_vocab()
        super().__init__(assets.tokenizer(), ctx, assets.name)

    def _last_logits(self) -> np.ndarray:
        ptr = self.llm._ctx.get_logits()
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def _prefill(self, prompt_ids: list[int]) -> np.ndarray:
        llm = self.llm
        # Reuse the KV cache for the longest common prefix, but always evaluate >= 1 token to get logits.
        common = 0
        limit = min(llm.n_tokens, len(prompt_ids) - 1)
        cached = llm.input_ids
        while common < limit and cached[common] == prompt_ids[common]:
            common += 1
        llm.n_tokens = common
        llm.eval(prompt_ids[common:])
        return self._last_logits()

    def _decode(self, token_id: int) -> np.ndarray:
        self.llm.eval([token_id])
        return self._last_logits()

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
