"""LoRA adapters at inference: merged on torch, merged + exported on ONNX, converted to a GGUF LoRA and
applied on the unmerged base on llama.cpp."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.models import resolve_model
from edge_sdk.runtime import SamplingParams, load_backend
from edge_sdk.training import FLOCK_OFF_RECIPE

MSGS = [{"role": "user", "content": "Say something."}]


@pytest.fixture(scope="module")
def tiny_adapter(models_tiny_hf_dir, tmp_path_factory):
    """A peft LoRA folder for the tiny model with non-zero B (so it changes the outputs)."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(models_tiny_hf_dir)
    config = FLOCK_OFF_RECIPE.to_peft_config(r=4, init_lora_weights=False)
    torch.manual_seed(1)
    peft_model = get_peft_model(model, config)
    out = tmp_path_factory.mktemp("adapter") / "lora"
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_assets(models_tiny_hf_dir):
    return resolve_model(models_tiny_hf_dir)


def test_recipe_defaults_are_flock_off():
    cfg = FLOCK_OFF_RECIPE.to_peft_config()
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout, cfg.target_modules) == (16, 32, 0.1, "all-linear")
    with pytest.raises(InvalidRequestError, match="dropout"):
        FLOCK_OFF_RECIPE.with_(dropout=1.5)


def test_torch_adapter_changes_outputs_and_matches_onnx_merge(tiny_assets, tiny_adapter):
    params = SamplingParams(max_tokens=12, logprobs=3)
    base = load_backend("torch", tiny_assets).chat(MSGS, params)
    tuned_torch = load_backend("torch", tiny_assets, adapter=tiny_adapter).chat(MSGS, params)
    tuned_onnx = load_backend("onnx", tiny_assets, adapter=tiny_adapter).chat(MSGS, params)
    base_lp = np.array([lp.logprob for lp in base.logprobs])
    torch_lp = np.array([lp.logprob for lp in tuned_torch.logprobs])
    assert base.token_ids != tuned_torch.token_ids or not np.allclose(base_lp, torch_lp, atol=1e-3)
    assert tuned_onnx.token_ids == tuned_torch.token_ids
    onnx_lp = np.array([lp.logprob for lp in tuned_onnx.logprobs])
    assert np.allclose(onnx_lp, torch_lp, atol=1e-3)


def test_bad_adapter_folder(tiny_assets, tmp_path):
    with pytest.raises(InvalidRequestError, match="not a peft adapter folder"):
        load_backend("torch", tiny_assets, adapter=tmp_path)


# ------------------------------------------------------------------------------------ llama.cpp (GGUF LoRA)


def _make_lora(base_hf, out, seed=2, **config):
    """A random non-zero peft LoRA (init_lora_weights=False) on the transformers model in `base_hf`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_hf, dtype=torch.float32)
    settings = dict(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    settings.update(config)
    torch.manual_seed(seed)
    get_peft_model(model, LoraConfig(**settings)).save_pretrained(out)
    return out


def _lps(result):
    return np.array([lp.logprob for lp in result.logprobs])


@pytest.fixture(scope="module")
def gguf_cache(tmp_path_factory):
    """A private model cache for the llama.cpp adapter tests (conversions are checked for reuse)."""
    path = tmp_path_factory.mktemp("adapter-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEPROOF_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def tiny_gguf_assets(models_tiny_gguf, gguf_cache):
    pytest.importorskip("llama_cpp")
    return resolve_model(models_tiny_gguf)


@pytest.fixture(scope="module")
def gguf_adapter(models_tiny_gguf, tmp_path_factory):
    """A random LoRA on all linear layers of the tiny F32 GGUF's transformers source (4 heads, 2 kv heads)."""
    return _make_lora(models_tiny_gguf.parent / "reference-hf", tmp_path_factory.mktemp("gguf-adapter") / "lora")


def test_choose_backend_keeps_llamacpp_for_adapters():
    from types import SimpleNamespace

    from edge_sdk.runtime import available_backends, choose_backend

    if "llamacpp" not in available_backends():
        pytest.skip("llama-cpp-python is not installed")
    gguf = SimpleNamespace(gguf_path="model.gguf")
    assert choose_backend(gguf, has_cuda=False, adapter="lora").name == "llamacpp"
    assert choose_backend(SimpleNamespace(gguf_path=None), has_cuda=False, adapter="lora").name != "llamacpp"


def test_llamacpp_adapter_matches_torch(tiny_gguf_assets, gguf_adapter):
    params = SamplingParams(max_tokens=12, temperature=0, logprobs=3)
    base = load_backend("llamacpp", tiny_gguf_assets).chat(MSGS, params)
    cpp = load_backend("llamacpp", tiny_gguf_assets, adapter=gguf_adapter)
    assert cpp.adapter == str(gguf_adapter)
    tuned_cpp = cpp.chat(MSGS, params)
    tuned_torch = load_backend("torch", tiny_gguf_assets, adapter=gguf_adapter).chat(MSGS, params)
    assert tuned_cpp.token_ids == tuned_torch.token_ids
    # F32 weights on both sides; llama.cpp's F16 KV cache is the only rounding (~3e-3 nats here, same without
    # the adapter), far below what the adapter moves.
    np.testing.assert_allclose(_lps(tuned_cpp), _lps(tuned_torch), atol=1e-2)
    for a, b in zip(tuned_cpp.logprobs, tuned_torch.logprobs):
        assert [t.token_id for t in a.top] == [t.token_id for t in b.top]
    assert base.token_ids != tuned_cpp.token_ids
    assert np.abs(_lps(base) - _lps(tuned_cpp)).max() > 0.1


def test_llamacpp_rslora_and_rank_pattern(tiny_gguf_assets, models_tiny_gguf, tmp_path):
    """Per-module ranks (llama.cpp scales by each tensor's own rank) and rsLoRA's alpha / sqrt(r)."""
    adapter = _make_lora(models_tiny_gguf.parent / "reference-hf", tmp_path / "lora", seed=5, r=4, lora_alpha=4,
                         use_rslora=True, rank_pattern={"q_proj": 2, "down_proj": 6})
    params = SamplingParams(max_tokens=8, temperature=0, logprobs=1)
    tuned_cpp = load_backend("llamacpp", tiny_gguf_assets, adapter=adapter).chat(MSGS, params)
    tuned_torch = load_backend("torch", tiny_gguf_assets, adapter=adapter).chat(MSGS, params)
    assert tuned_cpp.token_ids == tuned_torch.token_ids
    np.testing.assert_allclose(_lps(tuned_cpp), _lps(tuned_torch), atol=1e-2)


def test_lora_gguf_layout_follows_llamacpp_converter(tiny_gguf_assets, gguf_adapter):
    import gguf
    from safetensors.numpy import load_file

    from edge_sdk.models.lora_gguf import permute_rows

    reader = gguf.GGUFReader(tiny_gguf_assets.lora_gguf(gguf_adapter))
    meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert meta["general.architecture"] == "llama" and meta["general.type"] == "adapter"
    assert meta["adapter.type"] == "lora" and meta["adapter.lora.alpha"] == 8.0
    tensors = {t.name: t for t in reader.tensors}
    kinds = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    assert set(tensors) == {f"blk.{i}.{k}.weight.lora_{ab}" for i in range(2) for k in kinds for ab in "ab"}
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in tensors.values())
    peft = load_file(str(gguf_adapter / "adapter_model.safetensors"))
    hf = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj"}
    for kind, heads in (("attn_q", 4), ("attn_k", 2), ("attn_v", None)):
        a = peft[f"base_model.model.model.layers.1.{hf[kind]}.lora_A.weight"]
        b = peft[f"base_model.model.model.layers.1.{hf[kind]}.lora_B.weight"]
        got_a, got_b = tensors[f"blk.1.{kind}.weight.lora_a"], tensors[f"blk.1.{kind}.weight.lora_b"]
        assert list(got_a.shape) == [a.shape[1], a.shape[0]] and list(got_b.shape) == [b.shape[1], b.shape[0]]
        np.testing.assert_array_equal(got_a.data, a)  # lora_a is never permuted
        np.testing.assert_array_equal(got_b.data, permute_rows(b, heads) if heads else b)
        assert heads is None or not np.array_equal(got_b.data, b)


def test_lora_gguf_is_cached_per_adapter(tiny_gguf_assets, gguf_adapter, models_tiny_gguf, tmp_path, monkeypatch):
    from edge_sdk.models import cache, convert, lora_gguf

    def cache_name(adapter):
        return convert.adapter_fingerprint(adapter)[:16]

    first = tiny_gguf_assets.lora_gguf(gguf_adapter)
    assert first.parent.name == f"lora-gguf-{cache_name(gguf_adapter)}"
    stamp = (first.stat().st_ino, first.stat().st_mtime_ns)
    calls = []
    real = lora_gguf.convert_peft_lora
    monkeypatch.setattr(lora_gguf, "convert_peft_lora", lambda *a, **k: calls.append(a) or real(*a, **k))
    backend = load_backend("llamacpp", tiny_gguf_assets, adapter=gguf_adapter)
    assert backend.lora_path == first and calls == []  # reused: not converted again
    assert resolve_model(models_tiny_gguf).lora_gguf(str(gguf_adapter)) == first
    assert (first.stat().st_ino, first.stat().st_mtime_ns) == stamp

    other = _make_lora(models_tiny_gguf.parent / "reference-hf", tmp_path / "other", seed=9)
    second = tiny_gguf_assets.lora_gguf(other)
    assert len(calls) == 1 and second != first and second.read_bytes() != first.read_bytes()

    def killed(adapter, base, out_file):  # a conversion that dies half-way through writing
        out_file.write_bytes(b"GGUF" + b"\0" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(lora_gguf, "convert_peft_lora", killed)
    third = _make_lora(models_tiny_gguf.parent / "reference-hf", tmp_path / "third", seed=10)
    root = tiny_gguf_assets.cache_root
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(KeyboardInterrupt):
        tiny_gguf_assets.lora_gguf(third)
    after = sorted(p.name for p in root.iterdir())
    assert [n for n in after if n not in before] == [f".lora-gguf-{cache_name(third)}.lock"]  # no half file
    assert not [n for n in after if ".tmp-" in n]
    assert cache.is_valid(first.parent, cache.read_manifest(first.parent)["key"])


@pytest.mark.parametrize(("change", "message"), [
    ({"use_dora": True}, "DoRA"),
    ({"bias": "all"}, "bias"),
    ({"alpha_pattern": {"q_proj": 16}}, "alpha_pattern"),
    ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
    ({"lora_alpha": 0}, "lora_alpha"),
])
def test_llamacpp_refuses_unsupported_adapter_configs(tiny_gguf_assets, gguf_adapter, tmp_path, change, message):
    import json
    import shutil

    adapter = tmp_path / "lora"
    shutil.copytree(gguf_adapter, adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config.update(change)
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidRequestError, match=f"cannot run on the llama.cpp backend: .*{message}"):
        load_backend("llamacpp", tiny_gguf_assets, adapter=adapter)


@pytest.mark.parametrize(("config", "message"), [
    ({"use_dora": True}, "DoRA"),
    ({"target_modules": ["lm_head"]}, "lm_head"),
    ({"target_modules": ["embed_tokens", "q_proj"]}, "token embeddings"),
])
def test_llamacpp_refuses_unsupported_peft_adapters(tiny_gguf_assets, models_tiny_gguf, tmp_path, config,
                                                    message):
    adapter = _make_lora(models_tiny_gguf.parent / "reference-hf", tmp_path / "lora", **config)
    with pytest.raises(InvalidRequestError, match=message):
        load_backend("llamacpp", tiny_gguf_assets, adapter=adapter)
    assert not [p for p in tiny_gguf_assets.cache_root.iterdir() if ".tmp-" in p.name]


def test_llamacpp_refuses_module_it_cannot_adapt(tiny_gguf_assets, gguf_adapter, tmp_path):
    import shutil

    from safetensors.numpy import load_file, save_file

    adapter = tmp_path / "lora"
    shutil.copytree(gguf_adapter, adapter)
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    renamed = {k.replace("self_attn.v_proj", "self_attn.rotary_proj"): v for k, v in tensors.items()}
    save_file(renamed, str(adapter / "adapter_model.safetensors"))
    with pytest.raises(InvalidRequestError, match="'rotary_proj'.*llama.cpp applies no LoRA"):
        load_backend("llamacpp", tiny_gguf_assets, adapter=adapter)
    with pytest.raises(InvalidRequestError, match="not a peft adapter folder"):
        load_backend("llamacpp", tiny_gguf_assets, adapter=tmp_path)


@pytest.mark.slow
def test_llamacpp_adapter_on_smollm2_q4_1_agrees_with_torch(tmp_path):
    """The real Q4_1 SmolLM2 with a random rank-8 all-linear adapter (peft's own random init, scale 2): llama.cpp
    applying the GGUF LoRA on the unmerged Q4_1 base against torch on the merged, dequantised weights."""
    pytest.importorskip("llama_cpp")
    assets = resolve_model()
    adapter = _make_lora(assets.hf_dir(), tmp_path / "lora", seed=0, r=8, lora_alpha=16)
    prompts = [[{"role": "user", "content": "What is the capital of France?"}],
               [{"role": "user", "content": "Write one sentence about the sea."}]]
    params = SamplingParams(max_tokens=16, temperature=0, logprobs=1)
    base_cpp = load_backend("llamacpp", assets)
    cpp = load_backend("llamacpp", assets, adapter=adapter)
    torch_tuned = load_backend("torch", assets, adapter=adapter)
    torch_base = load_backend("torch", assets)
    tok = assets.tokenizer()
    agree_tuned = agree_base = total = 0
    for msgs in prompts:
        out = cpp.chat(msgs, params)
        assert out.token_ids != base_cpp.chat(msgs, params).token_ids  # the adapter changes llama.cpp's output
        # Greedy agreement per position, each judged on llama.cpp's own prefix (teacher-forced, as PoAI's check
        # does): free-running comparison cascades after one near-tie, which Q4_1 activation rounding creates
        # even without an adapter.
        prompt_ids = tok.apply_chat_template(msgs, add_generation_prompt=True)
        for ref, counter in ((torch_tuned, "tuned"), (torch_base, "base")):
            rows = ref.teacher_forced_logprobs(prompt_ids, out.token_ids, top_k=1)
            hits = sum(row.top[0].token_id == t for row, t in zip(rows, out.token_ids))
            if counter == "tuned":
                agree_tuned += hits
            else:
                agree_base += hits
        total += len(out.token_ids)
    assert agree_tuned >= 0.8 * total, (agree_tuned, total)
    # and it is this adapter that llama.cpp applied: the base model's choices match far less often
    assert agree_base <= agree_tuned - 0.15 * total, (agree_base, agree_tuned, total)
