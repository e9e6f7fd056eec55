"""llama.cpp backend (llama-cpp-python): runs the GGUF directly, the fastest engine on small CPUs.

We drive llama.cpp's eval ourselves and sample in edge_sdk.runtime.sampler so greedy output, stop strings and
logprobs behave exactly as on the other backends. Prompt tokens come from the shared tokenizer files, read with
`tokenizers` and jinja2 (LeanTokenizer): this backend never imports torch or transformers.

A peft LoRA adapter is converted once to a GGUF LoRA file (edge_sdk.models.lora_gguf, cached per adapter) and
applied by llama.cpp at run time on the unmerged base GGUF (Q4_1 stays Q4_1), via llama-cpp-python's lora_path.
"""

from __future__ import annotations

import os

import numpy as np

from edge_sdk.errors import BackendUnavailableError, ModelCorruptError
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
        if assets.gguf_path is None:
            raise BackendUnavailableError(
                f"model {assets.name!r} has no GGUF file, which llama.cpp needs: pass a .gguf path or use "
                "--backend onnx / torch"
            )
        lora_path = None
        if adapter is not None:
            from edge_sdk.models.validate import require_adapter_folder

            lora_path = assets.lora_gguf(require_adapter_folder(adapter))
        self.adapter = str(adapter) if adapter else None
        self.lora_path = lora_path
        # 4096 tokens by default: the KV cache of 8192 would add ~90 MB of RSS for a 135M model (measured: 319 MB
        # peak for a one-shot answer at 4096, 411 MB at 8192); pass n_ctx for longer chats
        ctx = n_ctx or min(assets.context_length(), 4096)
        try:
            self.llm = Llama(model_path=str(assets.gguf_path), n_ctx=ctx, n_threads=n_threads or os.cpu_count(),
                             n_gpu_layers=n_gpu_layers, logits_all=False, verbose=False,
                             lora_path=str(lora_path) if lora_path is not None else None)
        except (ValueError, RuntimeError) as exc:
            what = f"{assets.gguf_path} with the LoRA adapter {lora_path}" if lora_path else str(assets.gguf_path)
            raise ModelCorruptError(f"llama.cpp could not load {what}: {exc}") from exc
        self._n_vocab = self.llm.n_vocab()
        super().__init__(assets.lean_tokenizer(), ctx, assets.name)

    def _last_logits(self) -> np.ndarray:
        ptr = self.llm._ctx.get_logits()
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def _prefill(self, prompt_ids: list[int]) -> np.ndarray:
        # Always evaluate the whole prompt. Reusing the KV cache of a shared prefix (as llama-cpp-python's own
        # completion does) changes the batch shapes of the prefill, and llama.cpp's kernels are not bit-identical
        # across batch shapes: measured here, greedy output then diverged after ~9 tokens between two identical
        # calls. Determinism matters more (PoAI compares greedy outputs); it costs prefill time only.
        self.llm.reset()
        self.llm.eval(prompt_ids)
        return self._last_logits()

    def _decode(self, token_id: int) -> np.ndarray:
        self.llm.eval([token_id])
        return self._last_logits()

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
