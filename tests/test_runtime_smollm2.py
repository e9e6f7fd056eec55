"""Integration tests of the inference runtime on the real SmolLM2-135M-Instruct model, on every backend."""

from __future__ import annotations

import pytest

from edge_sdk.errors import BackendUnavailableError, InvalidRequestError, ModelNotFoundError
from edge_sdk.runtime import SamplingParams, available_backends, load_backend
from edge_sdk.runtime.compare import AGREEMENT_PROMPTS, DEFAULT_SYSTEM_PROMPT, prefix_agreement

pytestmark = pytest.mark.slow

BACKENDS = [b for b in ("llamacpp", "onnx", "onnx-int8", "torch") if b.split("-")[0] in available_backends()]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    llm = load_backend(request.param)
    yield llm
    llm.close()


@pytest.fixture(scope="module")
def all_backends():
    loaded = {name: load_backend(name) for name in BACKENDS}
    yield loaded
    for llm in loaded.values():
        llm.close()


# Tests state a system prompt, as an app would: see DEFAULT_SYSTEM_PROMPT for why the template's default one
# makes the France answer a near tie that quantised kernels flip.
SYSTEM = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}


def ask(llm, text, **kw):
    return llm.chat([SYSTEM, {"role": "user", "content": text}], SamplingParams(**kw))


def test_capital_of_france(backend):
    out = ask(backend, "What is the capital of France?", max_tokens=32, logprobs=2)
    assert "Paris" in out.text, (backend.name, out.text)
    first = out.logprobs[0]
    assert first.top[0].logprob - first.top[1].logprob > 0.5  # a clear answer, not a coin flip
    assert out.timings.generated_tokens == len(out.token_ids) > 0
    assert out.timings.time_to_first_token_s > 0


def test_stream_equals_generate(backend):
    params = SamplingParams(max_tokens=40)
    msgs = [SYSTEM, {"role": "user", "content": "Write one sentence about the sea, with an emoji."}]
    chunks = list(backend.stream_chat(msgs, params))
    full = backend.chat(msgs, params)
    assert "".join(c.text for c in chunks) == full.text
    assert [c.token_id for c in chunks] == full.token_ids
    assert chunks[-1].finish_reason == full.finish_reason
    assert all(c.finish_reason is None for c in chunks[:-1])


def test_greedy_token_has_top_logprob(backend):
    out = ask(backend, "Name three colours.", max_tokens=16, logprobs=5)
    assert len(out.logprobs) == len(out.token_ids)
    for tok, lp in zip(out.token_ids, out.logprobs):
        assert lp.token_id == tok
        assert len(lp.top) == 5
        assert lp.top[0].token_id == tok  # greedy picks the argmax...
        assert lp.logprob == pytest.approx(max(t.logprob for t in lp.top))  # ...which has the highest logprob
        assert lp.logprob <= 0.0
        assert [t.logprob for t in lp.top] == sorted((t.logprob for t in lp.top), reverse=True)


def test_greedy_is_deterministic(backend):
    a = ask(backend, "Tell me a fact about owls.", max_tokens=24)
    b = ask(backend, "Tell me a fact about owls.", max_tokens=24)
    assert a.token_ids == b.token_ids


def test_seeded_sampling_repeats_and_differs(backend):
    p = dict(max_tokens=12, temperature=1.2, top_p=0.95, top_k=50)
    a = ask(backend, "Invent a name for a cat.", seed=7, **p)
    b = ask(backend, "Invent a name for a cat.", seed=7, **p)
    assert a.token_ids == b.token_ids
    outs = {tuple(ask(backend, "Invent a name for a cat.", seed=s, **p).token_ids) for s in (1, 2, 3)}
    assert len(outs | {tuple(a.token_ids)}) > 1


def test_stop_string_and_length(backend):
    free = ask(backend, "Name five animals.", max_tokens=40)
    words = free.text.split()
    assert len(words) >= 4, free.text
    stop = words[len(words) // 2]  # a word this backend really produces, cut there
    out = ask(backend, "Name five animals.", max_tokens=40, stop=[stop])
    assert out.finish_reason == "stop"
    assert out.text == free.text[: free.text.index(stop)]
    short = ask(backend, "Write a long story about a dragon.", max_tokens=5)
    assert short.finish_reason == "length" and len(short.token_ids) == 5


def test_raw_completion(backend):
    out = backend.generate("The capital of France is", SamplingParams(max_tokens=8))
    assert "Paris" in out.text


def test_prompt_tokens_identical_across_backends(all_backends):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there!"}]
    ids = {name: llm.chat_prompt_ids(msgs) for name, llm in all_backends.items()}
    assert len({tuple(v) for v in ids.values()}) == 1
    prompt = all_backends[BACKENDS[0]].tokenizer.decode(next(iter(ids.values())))
    assert prompt.startswith("<|im_start|>system\nBe brief.<|im_end|>") and prompt.endswith("<|im_start|>assistant\n")


def test_backends_agree_on_first_tokens(all_backends):
    """Greedy outputs agree on the first 8 tokens on most prompts.

    llama.cpp runs the Q4_1 weights while ONNX/torch run them dequantised to fp32, and int8 ONNX re-quantises,
    so agreement is not exact. Measured here (benchmarks/inference.py prints the table): fp32 ONNX == torch on
    every prompt; llama.cpp and int8 agree with torch on most prompts. We assert >= 0.9 for the fp32 pair and
    >= 0.5 for the quantised engines against torch — a broken backend (wrong template, wrong tokens, a bad
    export) agrees on ~0 prompts. Measured: int8 9/12 with torch on 2 threads, 7/12 when an earlier test in the
    same process had left torch on 1 thread (near ties at a token flip with the reduction order), llama.cpp 11/12.
    """
    if "torch" not in all_backends:
        pytest.skip("torch backend not installed")
    params = SamplingParams(max_tokens=8)
    outs = {name: [llm.chat([SYSTEM, {"role": "user", "content": p}], params).token_ids for p in AGREEMENT_PROMPTS]
            for name, llm in all_backends.items()}
    thresholds = {"onnx": 0.9, "llamacpp": 0.5, "onnx-int8": 0.5}
    for name, threshold in thresholds.items():
        if name not in outs:
            continue
        agree = sum(prefix_agreement(a, b, 8) for a, b in zip(outs[name], outs["torch"])) / len(AGREEMENT_PROMPTS)
        assert agree >= threshold, (name, agree)


def test_teacher_forced_matches_decode_logprobs():
    if "torch" not in BACKENDS:
        pytest.skip("torch backend not installed")
    llm = load_backend("torch")
    out = ask(llm, "What is 2+2?", max_tokens=12, logprobs=3)
    tf = llm.teacher_forced_logprobs(out.prompt_token_ids, out.token_ids, top_k=3)
    assert [t.token_id for t in tf] == out.token_ids
    for a, b in zip(tf, out.logprobs):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)
        assert [t.token_id for t in a.top] == [t.token_id for t in b.top]


# -- bad input -------------------------------------------------------------------------------------------------
def test_unknown_backend():
    with pytest.raises(BackendUnavailableError, match="unknown backend 'vllm'.*llamacpp"):
        load_backend("vllm")


def test_unknown_model():
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        load_backend("torch", "no-such-model")


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=-1), "temperature"),
    (dict(top_p=0), "top_p"),
    (dict(top_p=1.5), "top_p"),
    (dict(top_k=-3), "top_k"),
    (dict(max_tokens=0), "max_tokens"),
    (dict(logprobs=500), "logprobs"),
    (dict(seed=-1), "seed"),
    (dict(stop=[""]), "stop"),
])
def test_bad_sampling_values(kwargs, match):
    with pytest.raises(InvalidRequestError, match=match):
        SamplingParams(**kwargs)


def test_bad_messages(backend):
    with pytest.raises(InvalidRequestError, match="empty"):
        backend.chat([])
    with pytest.raises(InvalidRequestError, match="role 'wizard'.*system, user, assistant"):
        backend.chat([{"role": "wizard", "content": "hi"}])
    with pytest.raises(InvalidRequestError, match="'role' and 'content'"):
        backend.chat([{"text": "hi"}])
    with pytest.raises(InvalidRequestError, match="non-empty string"):
        backend.generate("")


def test_prompt_longer_than_context(backend):
    too_long = "word " * (backend.context_length + 10)
    with pytest.raises(InvalidRequestError, match=r"prompt is \d+ tokens but the model's context is"):
        backend.chat([{"role": "user", "content": too_long}])
