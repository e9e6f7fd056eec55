"""ONNX Runtime backend: the exported model run directly on onnxruntime with numpy inputs, no torch, no transformers.

The export (optimum-onnx + torch, once per model / adapter / quantisation, cached by edge_sdk.models) writes a
decoder with past key/values: inputs input_ids, attention_mask, position_ids and past_key_values.N.key/value;
outputs logits and present.N.key/value. This backend reads those names and the KV shapes from the session itself,
keeps the KV cache between steps as OrtValues bound to the next run (IO binding: no copy of the growing cache into
Python per token), and computes logits only for what the sampler needs (the last position).

Adapters are supported by merging them into the weights before export, and `quantize="int8"` selects the int8
export (block-wise 8-bit weights).
"""

from __future__ import annotations

import os

import numpy as np

from edge_sdk.errors import BackendUnavailableError, ModelCorruptError
from edge_sdk.runtime.base import InferenceBackend

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class OnnxBackend(InferenceBackend):
    name = "onnx"

    def __init__(self, assets, *, quantize: str | None = None, adapter: str | os.PathLike | None = None,
                 n_threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the onnx backend needs onnxruntime ({exc}): pip install 'edgeproof[onnx]'") from exc
        path = assets.onnx_dir(quantize=quantize, adapter=adapter)
        options = ort.SessionOptions()
        if n_threads:
            options.intra_op_num_threads = int(n_threads)
        try:
            self.session = ort.InferenceSession(str(path / "model.onnx"), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph types
            raise ModelCorruptError(f"could not load the ONNX model from {path}: {exc}; delete that folder to "
                                    "have it exported again") from exc
        inputs = {i.name: i for i in self.session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - set(inputs)
        if missing:
            raise ModelCorruptError(f"{path}/model.onnx lacks inputs {sorted(missing)}: it is not a decoder export "
                                    "with past key/values; delete the folder to have it exported again")
        self._past_names = sorted((n for n in inputs if n.startswith("past_key_values.")), key=_layer_order)
        self._present_names = [n.replace("past_key_values.", "present.", 1) for n in self._past_names]
        self._empty = {}
        for name in self._past_names:
            _batch, heads, _length, dim = inputs[name].shape
            self._empty[name] = np.zeros((1, int(heads), 0, int(dim)), dtype=_DTYPES.get(inputs[name].type,
                                                                                          np.float32))
        self._has_positions = "position_ids" in inputs
        self.quantize = quantize
        self.adapter = str(adapter) if adapter else None
        if quantize:
            self.name = f"onnx-{quantize}"
        super().__init__(assets.lean_tokenizer(), assets.context_length(), assets.name)
        self._past: dict[str, object] = {}
        self._length = 0

    def _forward(self, ids: list[int]) -> np.ndarray:
        n = len(ids)
        binding = self.session.io_binding()
        binding.bind_cpu_input("input_ids", np.asarray([ids], dtype=np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, self._length + n), dtype=np.int64))
        if self._has_positions:
            binding.bind_cpu_input("position_ids", np.arange(self._length, self._length + n, dtype=np.int64)[None])
        for name in self._past_names:
            value = self._past.get(name)
            if value is None:
                binding.bind_cpu_input(name, self._empty[name])
            else:
                binding.bind_ortvalue_input(name, value)
        binding.bind_output("logits")
        for name in self._present_names:
            binding.bind_output(name)  # onnxruntime allocates; the OrtValue feeds the next step as is
        self.session.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        logits = outputs[0].numpy()[0, -1].astype(np.float32, copy=True)
        self._past = {past: value for past, value in zip(self._past_names, outputs[1:])}
        self._length += n
        return logits

    def _prefill(self, prompt_ids: list[int]) -> np.ndarray:
        self._past, self._length = {}, 0
        return self._forward(prompt_ids)

    def _decode(self, token_id: int) -> np.ndarray:
        return self._forward([token_id])


def _layer_order(name: str) -> tuple[int, str]:
    """past_key_values.10.key after past_key_values.9.value."""
    parts = name.split(".")
    return int(parts[1]), parts[2]
