"""edge_sdk.models conversions on tiny local models: GGUF -> safetensors, ONNX fp32 / int8, LoRA-merged
variants, cache reuse / invalidation / kill-safety with the real converters, and export_model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from edge_sdk.errors import InvalidRequestError, ModelNotFoundError
from edge_sdk.models import UnsupportedConversionError, cache, resolve_model
from edge_sdk.models.export import export_model

ROOT = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "Count to 5: 1, 2, 3"}]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the tests that only read builds, so each variant is exported once per module."""
    path = tmp_path_factory.mktemp("models-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGEPROOF_CACHE_DIR", str(path))
        yield path


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("EDGEPROOF_CACHE_DIR", str(path))
    return path


def _ids(tokenizer) -> list[int]:
    return tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True)


def _torch_logits(model_dir: Path, ids: list[int], adapter: Path | None = None) -> np.ndarray:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def _ort(folder: Path):
    from optimum.onnxruntime import ORTModelForCausalLM

    return ORTModelForCausalLM.from_pretrained(folder, use_cache=True)


def _ort_logits(folder: Path, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return _ort(folder)(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                                                                   dtype=torch.long)).logits[0].numpy()


def _make_adapter(base: Path, out: Path, seed: int) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    peft_model.save_pretrained(out)
    return out


# ------------------------------------------------------------------------------------------------ GGUF -> HF


def test_gguf_to_safetensors_round_trip(models_tiny_gguf, own_cache):
    assets = resolve_model(models_tiny_gguf)
    assert assets.source_kind == "gguf" and assets.gguf_path == models_tiny_gguf
    assert assets.context_length() == 512

    tok_dir = assets.tokenizer_dir()  # cheap: built without the weights
    assert tok_dir == assets.cache_root / "tokenizer" and not (tok_dir / "model.safetensors").exists()
    tok = assets.tokenizer()
    assert tok is assets.tokenizer()  # cached per process
    assert tok.eos_token == "<|im_end|>" and tok.bos_token == "<|im_start|>" and tok.pad_token_id == 2
    text = tok.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert tok("1, 2", add_special_tokens=False)["input_ids"][0] != tok.bos_token_id  # no BOS added

    started = time.monotonic()
    hf = assets.hf_dir()
    assert hf == assets.cache_root / "hf"
    assert (hf / "model.safetensors").is_file() and (hf / cache.MANIFEST_NAME).is_file()
    config = json.loads((hf / "config.json").read_text())
    assert config["tie_word_embeddings"] is True and config["eos_token_id"] == 2
    assert json.loads((hf / "generation_config.json").read_text())["eos_token_id"] == 2
    ids = _ids(tok)
    expected = _torch_logits(models_tiny_gguf.parent / "reference-hf", ids)
    np.testing.assert_allclose(_torch_logits(hf, ids), expected, atol=1e-5)
    build_s = time.monotonic() - started

    inode = hf.stat().st_ino
    started = time.monotonic()
    assert resolve_model(models_tiny_gguf).hf_dir() == hf
    assert time.monotonic() - started < max(1.0, build_s / 2)
    assert hf.stat().st_ino == inode  # reused, not rebuilt
    assert assets.tokenizer_dir() == hf  # once the full folder exists, it serves the tokenizer too


def test_gguf_change_invalidates_cache(models_tiny_gguf, own_cache, tmp_path):
    gguf = tmp_path / "tiny.gguf"
    shutil.copyfile(models_tiny_gguf, gguf)
    hf = resolve_model(gguf).hf_dir()
    inode = hf.stat().st_ino
    os.utime(gguf, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))  # "re-downloaded"
    hf2 = resolve_model(gguf).hf_dir()
    assert hf2 == hf and hf2.stat().st_ino != inode
    assert cache.read_manifest(hf2)["key"]["source"]["mtime_ns"] == gguf.stat().st_mtime_ns


# ------------------------------------------------------------------------------------------------ ONNX


def test_onnx_fp32_matches_torch_with_tied_embeddings(models_tiny_hf_dir, shared_cache):
    assets = resolve_model(models_tiny_hf_dir)
    folder = assets.onnx_dir()
    assert folder.parent == assets.cache_root and folder.name == "onnx"
    for name in ("model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json", cache.MANIFEST_NAME):
        assert (folder / name).is_file(), name
    model = _ort(folder)
    assert model.can_use_cache and any(n.startswith("past_key_values") for n in model.input_names)
    ids = _ids(assets.tokenizer())
    expected = _torch_logits(models_tiny_hf_dir, ids)
    got = _ort_logits(folder, ids)
    assert np.abs(expected).max() > 1.0  # the check means something
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    info = cache.read_manifest(folder)["info"]
    assert info["max_abs_logit_diff_vs_torch"] < 1e-4 and info["check_argmax_agreement"] == 1.0
    graph = info["graph"]  # the CPU graph optimisation ran, fused the RMSNorms and shrank the graph
    assert graph["optimized"] and graph["nodes_after"] < graph["nodes_before"]
    assert graph["fused"].get("SkipSimplifiedLayerNormalization", 0) >= 2

    # greedy generation with the KV cache agrees with torch token for token
    from transformers import AutoModelForCausalLM

    torch_model = AutoModelForCausalLM.from_pretrained(models_tiny_hf_dir).eval()
    inputs = torch.tensor([ids])
    mask = torch.ones_like(inputs)
    want = torch_model.generate(inputs, attention_mask=mask, max_new_tokens=12, min_new_tokens=12, do_sample=False)
    have = model.generate(inputs, attention_mask=mask, max_new_tokens=12, min_new_tokens=12, do_sample=False)
    assert have.tolist() == want.tolist()
    inode = folder.stat().st_ino
    assert assets.onnx_dir() == folder and folder.stat().st_ino == inode  # reused, not re-exported


def test_onnx_int8_variant(models_tiny_hf_dir, shared_cache):
    import onnx

    assets = resolve_model(models_tiny_hf_dir)
    fp32 = assets.onnx_dir()
    int8 = assets.onnx_dir(quantize="int8")
    assert int8 == assets.cache_root / "onnx-int8" and int8 != fp32
    nodes = onnx.load(str(int8 / "model.onnx"), load_external_data=False).graph.node
    assert "MatMulNBits" in {n.op_type for n in nodes}
    lm_head = [n for n in nodes if n.name.startswith("/lm_head/")]
    assert [n.op_type for n in lm_head] == ["MatMul"]  # kept fp32: int8 activations flip near-tie argmaxes
    manifest = cache.read_manifest(int8)
    assert manifest["info"]["fp32_nodes"] == [n.name for n in lm_head]
    assert manifest["key"]["from"] == cache.read_manifest(fp32)["key"]  # int8 follows its fp32 source
    assert manifest["info"]["method"]["bits"] == 8
    ids = _ids(assets.tokenizer())
    ref, got = _ort_logits(fp32, ids), _ort_logits(int8, ids)
    assert np.isfinite(got).all() and np.abs(got - ref).max() < 0.1 * np.abs(ref).max()
    assert np.mean(ref.argmax(-1) == got.argmax(-1)) >= 0.8
    out = _ort(int8).generate(torch.tensor([ids]), max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert out.shape[1] == len(ids) + 6
    with pytest.raises(UnsupportedConversionError):
        assets.onnx_dir(quantize="int4")  # type: ignore[arg-type]


def test_lora_adapter_variants(models_tiny_hf_dir, shared_cache, tmp_path):
    assets = resolve_model(models_tiny_hf_dir)
    adapter = _make_adapter(models_tiny_hf_dir, tmp_path / "adapter", seed=3)
    merged = assets.onnx_dir(adapter=adapter)
    assert merged.name.startswith("onnx-lora-") and merged != assets.onnx_dir()
    ids = _ids(assets.tokenizer())
    base = _torch_logits(models_tiny_hf_dir, ids)
    expected = _torch_logits(models_tiny_hf_dir, ids, adapter=adapter)
    assert np.abs(expected - base).max() > 0.5  # the adapter really changes the model
    np.testing.assert_allclose(_ort_logits(merged, ids), expected, atol=1e-4, rtol=1e-4)
    assert assets.onnx_dir(adapter=str(adapter)) == merged  # str or Path, same key

    int8 = assets.onnx_dir("int8", adapter=adapter)
    assert int8.name == merged.name.replace("onnx-lora-", "onnx-int8-lora-")

    other = _make_adapter(models_tiny_hf_dir, tmp_path / "adapter2", seed=4)  # a retrained adapter
    assert assets.onnx_dir(adapter=other) != merged

    merged_hf = assets.merged_hf_dir(adapter)
    np.testing.assert_allclose(_torch_logits(merged_hf, ids), expected, atol=1e-5)

    not_adapter = tmp_path / "not-an-adapter"
    not_adapter.mkdir()
    with pytest.raises(ModelNotFoundError, match="adapter_config.json"):
        assets.onnx_dir(adapter=not_adapter)


def test_source_change_rebuilds_onnx(models_tiny_hf_dir, own_cache, tmp_path):
    from transformers import AutoModelForCausalLM

    src = tmp_path / "model"
    shutil.copytree(models_tiny_hf_dir, src)
    first = resolve_model(src).onnx_dir()
    inode = first.stat().st_ino
    model = AutoModelForCausalLM.from_pretrained(src)
    with torch.no_grad():
        model.model.norm.weight.mul_(3.0)  # "fine-tuned": same shapes, new weights
    model.save_pretrained(src, safe_serialization=True)
    second = resolve_model(src).onnx_dir()
    assert second == first and second.stat().st_ino != inode
    ids = _ids(resolve_model(src).tokenizer())
    np.testing.assert_allclose(_ort_logits(second, ids), _torch_logits(src, ids), atol=1e-4, rtol=1e-4)


def test_killed_export_is_not_loaded_and_gets_rebuilt(models_tiny_hf_dir, own_cache):
    """SIGKILL the real optimum export mid-way; the next call must rebuild, never load the leftovers."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from edge_sdk.models import resolve_model\n"
        f"resolve_model({str(models_tiny_hf_dir)!r}).onnx_dir()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assets = resolve_model(models_tiny_hf_dir)
    deadline = time.monotonic() + 300
    temp = None
    while time.monotonic() < deadline and proc.poll() is None:
        temps = list(assets.cache_root.glob(".onnx.tmp-*")) if assets.cache_root.exists() else []
        if temps and any(temps[0].iterdir()):  # the exporter has started writing
            temp = temps[0]
            break
        time.sleep(0.02)
    assert temp is not None, "the export finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (assets.cache_root / "onnx").exists()

    folder = assets.onnx_dir()
    assert cache.read_manifest(folder) is not None and not temp.exists()
    ids = _ids(assets.tokenizer())
    np.testing.assert_allclose(_ort_logits(folder, ids), _torch_logits(models_tiny_hf_dir, ids), atol=1e-4,
                               rtol=1e-4)


def test_onnx_folder_as_source(models_tiny_hf_dir, shared_cache, tmp_path):
    exported = tmp_path / "exported"
    shutil.copytree(resolve_model(models_tiny_hf_dir).onnx_dir(), exported)
    assets = resolve_model(exported)
    assert assets.source_kind == "onnx_dir" and assets.onnx_dir() == exported
    assert assets.tokenizer_dir() == exported and assets.context_length() == 512
    with pytest.raises(UnsupportedConversionError, match="PyTorch weights"):
        assets.hf_dir()
    with pytest.raises(UnsupportedConversionError, match="adapter"):
        assets.onnx_dir(adapter=tmp_path)
    int8 = assets.onnx_dir("int8")
    assert int8.parent == assets.cache_root and (int8 / "model.onnx").is_file()
    assert resolve_model(int8).onnx_dir("int8") == int8  # already quantised: no double quantisation


# ------------------------------------------------------------------------------------------------ export


def test_export_model(models_tiny_hf_dir, shared_cache, tmp_path):
    messages: list[str] = []
    out = export_model(models_tiny_hf_dir, format="onnx", quantize="int8", out_dir=tmp_path / "out",
                       progress=messages.append)
    assert out == (tmp_path / "out").resolve()
    assert (out / "model.onnx").is_file() and (out / "tokenizer.json").is_file()
    assert messages and messages[-1].startswith("done:")
    assert _ort(out).generate(torch.tensor([[1, 2, 3]]), max_new_tokens=3, do_sample=False).shape[1] >= 4
    # exporting again over our own previous export is fine
    assert export_model(models_tiny_hf_dir, format="onnx", out_dir=tmp_path / "out") == out
    assert cache.read_manifest(out)["key"]["kind"] == "onnx"

    # no out_dir: the cached variant itself
    assert export_model(models_tiny_hf_dir, format="onnx") == resolve_model(models_tiny_hf_dir).onnx_dir()

    adapter = _make_adapter(models_tiny_hf_dir, tmp_path / "adapter", seed=5)
    st = export_model(models_tiny_hf_dir, format="safetensors", adapter=adapter, out_dir=tmp_path / "st")
    assert (st / "model.safetensors").is_file() and (st / "tokenizer_config.json").is_file()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("user data")
    with pytest.raises(InvalidRequestError, match="not empty"):
        export_model(models_tiny_hf_dir, out_dir=foreign)
    assert (foreign / "keep.txt").read_text() == "user data"
    with pytest.raises(InvalidRequestError):
        export_model(models_tiny_hf_dir, format="tflite")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError):
        export_model(models_tiny_hf_dir, format="safetensors", quantize="int8")

