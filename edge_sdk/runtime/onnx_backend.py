"""ONNX Runtime backend (optimum-onnx export): ~3x faster than torch eager on CPU, no torch at inference.

Adapters are supported by merging them into the weights before export (edge_sdk.models caches each merged
variant), and `quantize="int8"` selects the int8 export (block-wise 8-bit weights).
"""

from __future__ import annotations

import os

import numpy as np

from edge_sdk.errors import BackendUnavailableError, ModelCorruptError
from edge_sdk.runtime.base import InferenceBackend


class OnnxBackend(InferenceBackend):
    name = "onnx"

    def __init__(self, assets, *, quantize: str | None = None, adapter: str | os.PathLike | None = None,
                 n_threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            import torch
            from optimum.onnxruntime import ORTModelForCausalLM
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the onnx backend needs optimum-onnx and onnxruntime ({exc}): pip install 'edgeproof[onnx]'"
            ) from exc
        self._torch = torch
        path = assets.onnx_dir(quantize=quantize, adapter=adapter)
        options = ort.SessionOptions()
        if n_threads:
            options.intra_op_num_threads = int(n_threads)
        try:
            self.model = ORTModelForCausalLM.from_pretrained(path, session_options=options, use_cache=True,
                                                             use_io_binding=False)
        except Exception as exc:
            raise ModelCorruptError(f"could not load the ONNX model from {path}: {exc}; delete that folder to "
                                    "have it exported again") from exc
        self.quantize = quantize
        self.adapter = str(adapter) if adapter else None
        if quantize:
            self.name = f"onnx-{quantize}"
        super().__init__(assets.tokenizer(), assets.context_length(), assets.name)
        self._past = None
        self._length = 0

    def _forward(self, ids: list[int]) -> np.ndarray:
        torch = self._torch
        n = len(ids)
        input_ids = torch.tensor([ids], dtype=torch.long)
        attention = torch.ones((1, self._length + n), dtype=torch.long)
        positions = torch.arange(self._length, self._length + n, dtype=torch.long).unsqueeze(0)
        with torch.inference_mode():
            out = self.model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                             past_key_values=self._past, use_cache=True)
        self._past = out.past_key_values
        self._length += n
        return np.asarray(out.logits[0, -1], dtype=np.float32)

    def _prefill(self, prompt_ids: list[int]) -> np.ndarray:
        self._past, self._length = None, 0
        return self._forward(prompt_ids)

    def _decode(self, token_id: int) -> np.ndarray:
        return self._forward([token_id])
