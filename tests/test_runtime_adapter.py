"""LoRA adapters at inference: applied on torch, merged + exported on ONNX, refused clearly on llama.cpp."""

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


def test_llamacpp_refuses_peft_adapter(tiny_adapter):
    pytest.importorskip("llama_cpp")
    with pytest.raises(InvalidRequestError, match="torch or onnx backend"):
        load_backend("llamacpp", adapter=tiny_adapter)
