"""Fast unit tests of the shared generation loop, sampler and detokeniser (no real model weights).

The loop is exercised with a scripted engine: a backend whose "model" emits a fixed token sequence, so stop
strings, EOS, hold-back and timings can be checked exactly. Real engines are tested in test_runtime_smollm2.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.runtime.base import InferenceBackend
from edge_sdk.runtime.detokenize import IncrementalDetokenizer
from edge_sdk.runtime.sampler import TokenSampler, log_softmax, token_logprob
from edge_sdk.runtime.types import SamplingParams


class ScriptedBackend(InferenceBackend):
    """Emits `script` token by token (as one-hot logits), then EOS."""

    name = "scripted"

    def __init__(self, tokenizer, script: list[int], context_length: int = 2048):
        super().__init__(tokenizer, context_length, "scripted")
        self.script = script
        self.vocab = len(tokenizer)
        self.pos = 0
        self.prefills = 0

    def _onehot(self) -> np.ndarray:
        logits = np.full(self.vocab, -10.0, dtype=np.float32)
        tok = self.script[self.pos] if self.pos < len(self.script) else self.tokenizer.eos_token_id
        logits[tok] = 10.0
        logits[(tok + 1) % self.vocab] = 5.0  # a clear runner-up
        return logits

    def _prefill(self, prompt_ids):
        self.pos, self.prefills = 0, self.prefills + 1
        return self._onehot()

    def _decode(self, token_id):
        self.pos += 1
        return self._onehot()


@pytest.fixture(scope="module")
def tokenizer():
    from edge_sdk.models import resolve_model

    return resolve_model(None).tokenizer()


def scripted(tokenizer, text: str, **kw) -> ScriptedBackend:
    return ScriptedBackend(tokenizer, tokenizer(text, add_special_tokens=False)["input_ids"], **kw)


def test_generate_until_eos(tokenizer):
    be = scripted(tokenizer, "Paris is the capital of France.")
    out = be.generate("Q", SamplingParams(max_tokens=100))
    assert out.text == "Paris is the capital of France."
    assert out.finish_reason == "eos"
    assert out.token_ids[-1] == tokenizer.eos_token_id


def test_length_limit(tokenizer):
    be = scripted(tokenizer, "one two three four five six seven")
    out = be.generate("Q", SamplingParams(max_tokens=3))
    assert out.finish_reason == "length" and len(out.token_ids) == 3
    assert out.text == tokenizer.decode(out.token_ids)


@pytest.mark.parametrize("stop, expected", [
    (("three",), "one two "),
    (("o t",), "one tw"),  # stop spanning a token boundary ("two three")
    (("xyz", "four"), "one two three "),
    (("seven",), "one two three four five six "),
])
def test_stop_strings_cut_text_and_stream_agrees(tokenizer, stop, expected):
    be = scripted(tokenizer, "one two three four five six seven eight")
    params = SamplingParams(max_tokens=50, stop=stop)
    out = be.generate("Q", params)
    streamed = "".join(c.text for c in be.stream("Q", params))
    assert out.finish_reason == "stop"
    assert out.text == expected
    assert streamed == expected


def test_stop_prefix_is_released_when_it_does_not_complete(tokenizer):
    # "fo" could start "four!" but never completes: the held-back text must still come out in the stream
    be = scripted(tokenizer, "one two fo fi")
    params = SamplingParams(max_tokens=50, stop=("four!",))
    streamed = "".join(c.text for c in be.stream("Q", params))
    assert streamed == be.generate("Q", params).text == "one two fo fi"


def test_multibyte_characters_stream_exactly(tokenizer):
    text = "Café ☕ naïve 日本語 🚀 done"
    be = scripted(tokenizer, text)
    chunks = list(be.stream("Q", SamplingParams(max_tokens=100)))
    assert "".join(c.text for c in chunks) == text
    assert all("\ufffd" not in c.text for c in chunks)


def test_logprobs_reported_with_alternatives(tokenizer):
    be = scripted(tokenizer, "a b c")
    out = be.generate("Q", SamplingParams(max_tokens=10, logprobs=3))
    assert len(out.logprobs) == len(out.token_ids)
    for lp in out.logprobs:
        assert lp.top[0].token_id == lp.token_id
        assert lp.top[0].logprob > lp.top[1].logprob >= lp.top[2].logprob
        expected = np.full(len(tokenizer), -10.0)
        expected[lp.token_id], expected[(lp.token_id + 1) % len(tokenizer)] = 10.0, 5.0
        assert lp.logprob == pytest.approx(float(log_softmax(expected)[lp.token_id]), abs=1e-5)
        assert lp.top[1].token_id == (lp.token_id + 1) % len(tokenizer)


def test_prompt_too_long_and_bad_ids(tokenizer):
    be = scripted(tokenizer, "x", context_length=8)
    with pytest.raises(InvalidRequestError, match="context is 8"):
        be.generate(list(range(1, 20)))
    with pytest.raises(InvalidRequestError, match="outside the vocabulary"):
        be.generate([10**9])
    with pytest.raises(InvalidRequestError, match="empty"):
        be.generate([])


def test_max_tokens_clamped_to_context(tokenizer):
    be = scripted(tokenizer, "a " * 100, context_length=12)
    out = be.generate([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], SamplingParams(max_tokens=50))
    assert len(out.token_ids) == 2 and out.finish_reason == "length"


def test_sampler_greedy_and_seeded():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=1000).astype(np.float32)
    assert TokenSampler(SamplingParams()).choose(logits) == int(np.argmax(logits))
    p = SamplingParams(temperature=1.0, seed=123)
    a = [TokenSampler(p).choose(logits) for _ in range(3)]
    s = TokenSampler(p)
    seq1 = [s.choose(logits) for _ in range(20)]
    s2 = TokenSampler(p)
    assert seq1 == [s2.choose(logits) for _ in range(20)]
    assert len(set(a)) == 1
    assert len(set(seq1)) > 1


def test_sampler_top_k_and_top_p_restrict_choices():
    logits = np.array([5.0, 4.0, 3.0, 0.0, -1.0, -2.0], dtype=np.float32)
    s = TokenSampler(SamplingParams(temperature=2.0, top_k=2, seed=1))
    assert {s.choose(logits) for _ in range(200)} <= {0, 1}
    s = TokenSampler(SamplingParams(temperature=1.0, top_p=0.5, seed=1))
    assert {s.choose(logits) for _ in range(200)} == {0}


def test_token_logprob_normalised():
    logits = np.array([2.0, 1.0, 0.0], dtype=np.float32)
    lp = token_logprob(logits, 1, 3, str)
    assert sum(np.exp(t.logprob) for t in lp.top) == pytest.approx(1.0)
    assert [t.token_id for t in lp.top] == [0, 1, 2]
    assert lp.logprob == pytest.approx(lp.top[1].logprob)


def test_detokenizer_round_trip(tokenizer):
    text = "Hello, world! Ünïcödé — 𝔘𝔫𝔦 and spaces   here.\nNew line."
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    d = IncrementalDetokenizer(tokenizer)
    out = "".join(d.push(i) for i in ids) + d.flush()
    assert out == tokenizer.decode(ids)


def test_sampling_params_accepts_single_stop_string():
    assert SamplingParams(stop="END").stop == ("END",)
