"""peft LoRA folder -> GGUF LoRA adapter that llama.cpp applies at run time on the unmerged base GGUF.

Why: merging an adapter into a quantised GGUF would mean dequantise, merge, re-quantise (slow, lossy, one
full model copy per adapter). llama.cpp instead adds `scale * B @ (A @ x)` next to each base matmul, so the
Q4_1 base stays as it is and an adapter costs a file of a few MB. The file is written the way llama.cpp's
own `convert_lora_to_gguf.py` writes it (ggml-org/llama.cpp, with `conversion/llama.py::LlamaModel` /
`convert_hf_to_gguf.py` for the llama tensor handling):

- metadata: general.architecture = "llama", general.type = "adapter", adapter.type = "lora",
  adapter.lora.alpha = peft's lora_alpha (float32). llama.cpp computes scale = alpha / rank per tensor,
  rank being lora_b's ne[0]; that is peft's lora_alpha / r (rank_pattern included, since the rank comes
  from each tensor's own shape).
- tensors: `blk.{i}.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight.lora_a` with peft's
  lora_A as is (numpy shape (r, n_in), so ggml ne = [n_in, r]) and `.lora_b` with lora_B (numpy shape
  (n_out, r), ne = [r, n_out]); always float32 (the converter's rule for names not ending in ".weight").
- q_proj / k_proj: the converter permutes the base weight's rows (HF's rotate-half RoPE layout -> llama.cpp's
  interleaved one) with `w.reshape(n_head, 2, n_out // n_head // 2, ...).swapaxes(1, 2).reshape(w.shape)`
  (n_head = head_count for q, head_count_kv for k); through its LoraTorchTensor that permutation lands on
  lora_b's rows only, lora_a is left alone. We do the same.

Beyond the reference converter we refuse, with a message naming the cause, what llama.cpp would silently get
wrong or reject at load time: DoRA, LoRA biases, alpha_pattern, modules_to_save, embedding / lm_head targets
(tied in small models), modules llama.cpp applies no LoRA to, other peft variants, and shape mismatches with
the base GGUF. use_rslora (scale alpha / sqrt(r)) is kept exact by folding sqrt(r) into lora_b.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.models.validate import GGUFInfo, gguf_tensor_shapes, require_adapter_folder

FILE_NAME = "adapter.lora.gguf"
# Bump when the conversion changes in a way that makes cached files wrong.
CONVERTER_VERSION = 1

_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<ab>[AB])\.weight$")
# peft config fields whose non-empty value changes what the adapter computes beyond scale * B @ A, so a
# plain GGUF LoRA pair cannot represent it (or llama.cpp has no equivalent).
_UNSUPPORTED_OPTIONS = {
    "use_dora": "DoRA (weight-decomposed LoRA) adds a magnitude vector llama.cpp cannot apply",
    "lora_bias": "a LoRA bias on lora_B has no place in a GGUF LoRA adapter",
    "alpha_pattern": "per-module lora_alpha (alpha_pattern) cannot be expressed with one adapter.lora.alpha",
    "modules_to_save": "modules_to_save stores full module weights, which a GGUF LoRA adapter cannot carry",
    "trainable_token_indices": "trainable token embeddings are not LoRA pairs",
    "target_parameters": "LoRA on raw parameters (target_parameters) is not supported by llama.cpp",
    "alora_invocation_tokens": "activated LoRA (aLoRA) only applies after its invocation tokens, which the "
                               "other backends (merged weights) do not reproduce",
    "layer_replication": "layer_replication changes the model's layer stack",
    "use_qalora": "QA-LoRA pools the adapter input, which llama.cpp does not do",
    "use_bdlora": "block-diagonal LoRA is not a plain LoRA pair",
    "arrow_config": "Arrow routing between several LoRAs is not supported by llama.cpp",
    "monteclora_config": "MonteCLoRA is not a plain LoRA pair",
    "kasa_config": "this peft LoRA variant (kasa_config) is not a plain LoRA pair",
    "velora_config": "this peft LoRA variant (velora_config) is not a plain LoRA pair",
    "megatron_config": "Megatron-parallel LoRA layers are not supported",
}
# The llama tensors llama.cpp's graph applies LoRA to (build_lora_mm on each of them).
_SUPPORTED_TENSORS = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}
_HF_HINT = "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (peft's target_modules='all-linear')"


def _refuse(adapter: Path, why: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"the LoRA adapter {adapter} cannot run on the llama.cpp backend: {why}. Use --backend torch or "
        "--backend onnx, which merge the adapter into the weights."
    )


def read_adapter_config(adapter: Path) -> dict[str, Any]:
    path = require_adapter_folder(adapter) / "adapter_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequestError(f"{path} is not valid JSON ({exc}): re-save the adapter") from None
    if not isinstance(config, dict):
        raise InvalidRequestError(f"{path} is not a JSON object: re-save the adapter")
    return config


def check_adapter_config(adapter: Path, config: dict[str, Any]) -> float:
    """Refuse adapters a GGUF LoRA cannot represent; returns lora_alpha."""
    peft_type = str(config.get("peft_type", "LORA")).upper()
    if peft_type != "LORA":
        raise _refuse(adapter, f"it is a {peft_type} adapter, not LoRA")
    bias = config.get("bias", "none")
    if bias not in (None, "none"):
        raise _refuse(adapter, f"it trains biases (bias={bias!r}); llama.cpp LoRA adapters hold only A/B pairs")
    for option, why in _UNSUPPORTED_OPTIONS.items():
        if config.get(option):
            raise _refuse(adapter, f"{option} is set: {why}")
    alpha = config.get("lora_alpha")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha <= 0:
        # llama.cpp reads alpha 0 as "no scaling" (scale 1), where peft would scale by 0.
        raise _refuse(adapter, f"lora_alpha must be a positive number, not {alpha!r}")
    return float(alpha)


def _load_adapter_tensors(adapter: Path) -> dict[str, np.ndarray]:
    """The adapter's tensors as float32 numpy arrays (bf16/f16 included, as the converter upcasts them)."""
    import torch

    st = adapter / "adapter_model.safetensors"
    if st.is_file():
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(st), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise InvalidRequestError(f"{st} cannot be read ({exc}): re-save the adapter") from None
    elif (adapter / "adapter_model.bin").is_file():
        tensors = torch.load(str(adapter / "adapter_model.bin"), map_location="cpu", weights_only=True)
    else:
        raise InvalidRequestError(f"{adapter} has no adapter_model.safetensors (or adapter_model.bin): pass "
                                  "the folder that LoRA training wrote")
    return {name: t.detach().to(torch.float32).numpy() for name, t in tensors.items()}


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's LlamaModel.permute on rows: HF rotate-half q/k layout -> GGUF interleaved layout."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _int_meta(info: GGUFInfo, key: str, default: int | None = None) -> int:
    value = info.metadata.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidRequestError(f"the base GGUF {info.path} has no usable {key} ({value!r}), so LoRA q/k rows "
                                  "cannot be laid out for it")
    return value


def convert_peft_lora(adapter: Path, base: GGUFInfo, out_file: Path) -> dict[str, Any]:
    """Write the peft LoRA folder `adapter` as a GGUF LoRA for the llama-architecture base GGUF `base`."""
    import gguf

    adapter = Path(adapter)
    config = read_adapter_config(adapter)
    alpha = check_adapter_config(adapter, config)
    if base.architecture != "llama":
        raise _refuse(adapter, f"its base model's architecture is {base.architecture!r}; only 'llama' "
                      "(SmolLM2, Llama, ...) LoRA conversion is implemented")
    n_blocks = _int_meta(base, "llama.block_count")
    n_head = _int_meta(base, "llama.attention.head_count")
    n_head_kv = _int_meta(base, "llama.attention.head_count_kv", n_head)
    base_shapes = gguf_tensor_shapes(base.path)
    name_map = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, n_blocks)

    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in _load_adapter_tensors(adapter).items():
        name = key.removeprefix("base_model.model.")
        if "lora_embedding_" in name or ".embed_tokens." in name or name.startswith("embed_tokens."):
            raise _refuse(adapter, f"it adapts the token embeddings ({key}); with tied input/output embeddings "
                          "llama.cpp and the merged backends would disagree, so this is not supported")
        if ".lm_head." in f".{name}":
            raise _refuse(adapter, f"it adapts lm_head ({key}); the output layer shares the token embeddings in "
                          "this model family, so this is not supported")
        if name.endswith(".base_layer.weight"):
            continue  # the base weight some tools store alongside; the converter skips it too
        match = _LORA_KEY.match(name)
        if match is None:
            raise _refuse(adapter, f"tensor {key!r} is not a LoRA A/B matrix (DoRA magnitude, bias, norm or "
                          "saved module weights are not supported)")
        module, ab = match["module"], match["ab"]
        pairs.setdefault(module, {})[ab] = value

    if not pairs:
        raise _refuse(adapter, "it holds no LoRA tensors")
    use_rslora = bool(config.get("use_rslora"))
    out: list[tuple[int, str, np.ndarray, np.ndarray]] = []
    order = sorted(_SUPPORTED_TENSORS)
    for module, ab in pairs.items():
        short = module.rsplit(".", 1)[-1]
        if "A" not in ab or "B" not in ab:
            raise _refuse(adapter, f"module {module} has only lora_{'A' if 'A' in ab else 'B'}")
        found = name_map.get_type_and_name(module + ".weight", try_suffixes=(".weight",))
        tensor_name = found[1] if found else None
        kind = tensor_name.split(".")[-2] if tensor_name and tensor_name.startswith("blk.") else None
        if kind not in _SUPPORTED_TENSORS:
            raise _refuse(adapter, f"it targets module {short!r} ({module}), which llama.cpp applies no LoRA to "
                          f"(supported: {_HF_HINT})")
        a, b = ab["A"], ab["B"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise _refuse(adapter, f"module {module} has lora_A {a.shape} and lora_B {b.shape}, which do not pair")
        want = base_shapes.get(tensor_name)  # ggml order: (n_in, n_out)
        if want is None:
            raise _refuse(adapter, f"its module {module} maps to {tensor_name}, which the base GGUF does not have "
                          "(trained on another base model?)")
        if tuple(want) != (a.shape[1], b.shape[0]):
            raise _refuse(adapter, f"module {module} is {b.shape[0]}x{a.shape[1]} but the base GGUF's "
                          f"{tensor_name} is {want[1]}x{want[0]} (trained on another base model?)")
        rank = a.shape[0]
        if use_rslora:  # peft scales by alpha / sqrt(r); llama.cpp by alpha / r
            b = b * np.float32(math.sqrt(rank))
        if kind == "attn_q":
            b = permute_rows(b, n_head)
        elif kind == "attn_k":
            b = permute_rows(b, n_head_kv)
        block = int(tensor_name.split(".")[1])
        out.append((block * len(order) + order.index(kind), tensor_name, a, b))

    writer = gguf.GGUFWriter(str(out_file), "llama")
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(adapter.name)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        for _, tensor_name, a, b in sorted(out, key=lambda item: item[0]):
            writer.add_tensor(tensor_name + ".lora_a", np.ascontiguousarray(a, dtype=np.float32))
            writer.add_tensor(tensor_name + ".lora_b", np.ascontiguousarray(b, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    ranks = sorted({a.shape[0] for _, _, a, _ in out})
    return {"adapter": str(adapter), "base": str(base.path), "lora_alpha": alpha, "ranks": ranks,
            "tensors": len(out) * 2, "use_rslora": use_rslora}
