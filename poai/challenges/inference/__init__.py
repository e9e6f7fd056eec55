"""Inference correctness: fresh prompts, greedy decoding on the node, one teacher-forced pass to verify.

Session flow:

    spec   = inference.make_spec(budget, rng, model="smollm2-135m-instruct")  # challenger: fresh prompts
    answer = inference.answer(node_backend, spec, on_token=cb)    # node: greedy decode + top-k logprobs
    result = inference.verify(spec, answer, reference_backend, checked=1)  # challenger: form of all,
                                                                  # one forward pass per re-scored answer

`node_backend` is any edge_sdk.runtime backend (llama.cpp, ONNX Runtime, torch); `reference_backend` must
be the torch backend on the reference model (its `.model` gives the full next-token distribution at every
position in one forward pass). `on_token(prompt_index, token_index)` is called as each token is produced, so
the node agent streams a TokenTick per token and the challenger times TTFT and inter-token gaps and detects
answers streamed in one burst (poai/kinds.py `InferenceKind.verify`, latency.stream_stats).

Prompts (`make_prompts`) are drawn from the seed out of a space no node can precompute: one of
`len(PROMPT_SHAPES)` = 7 instruction shapes filled with distinct words drawn uniformly from a fixed list of
4096 common English words (poai/challenges/inference/words.py) and uniform random numbers. The smallest
shape has 4096*4095*4094*4093 * 999000 ~ 2^67.9 possible prompts, the largest ~2^79.9, the whole space
~2^80.1 (`prompt_space_bits()`): a node that answered 10^12 prompts in advance covers less than 2^-27 of
even the smallest shape, and 10,000 prompts from fresh seeds never repeat (tested).

What is checked, per prompt. First the answer's form; any failure is a failed check with the reason:
- the node's prompt tokens equal the reference chat template's (same tokenizer and template);
- 1..max_tokens generated tokens, with exactly top_k alternatives per position; every id an integer in the
  vocabulary; every logprob a finite float <= 0;
- per position the top_k alternative ids are distinct, sorted by logprob (non-increasing), and their
  probabilities sum to at most 1;
- greedy (top_k > 0): the chosen token is the node's own top-1 and its logprob equals top_logprobs[0];
- EOS only as the last token, and finish_reason consistent with it.
Then the statistics, against the reference evaluated on the node's own tokens (full distribution):
- argmax agreement, and "hard" disagreements: the node picked a token the reference ranks more than
  `hard_margin` nats below its favourite (an honest quantised backend only flips near-ties);
- score deviation: |node logprob - reference logprob| of the chosen tokens (mean and max);
- top-k deviation: |node logprob - reference logprob| of every listed alternative, the reference read at
  the node's own ids (mean and max): fabricated alternatives fail even when the chosen tokens are right;
- missing alternatives: positions where the node left out a token the reference ranks more than
  `hard_margin` above an alternative the node did list;
- EOS agreement: EOS chosen (or refused) where the reference clearly disagrees.
Thresholds (`InferenceThresholds`) come from measured honest runs (llama.cpp Q4_1 and torch nodes vs the
torch reference) and cheats (perturbed, re-quantised, tiny models, fabricated logprobs): see
poai/challenges/inference/CALIBRATION.md.

Sampling (commit, then choose). The node's full answer is its commitment; only after it has arrived does
the verifier pick `checked` answers (`choose_checked`, OS entropy) to re-score. The form checks above run
on every answer. One re-scoring pass over prompt + completion costs ~0.6x the node's decode of that prompt
on this CPU (the vocabulary projection only at the generated positions), so the standard plan answers 16
prompts and re-scores 1: ~3% of the node's work (benchmarks/poai.py). The bound (`survival_bound`): a node
whose answers come from another model on w of n prompts passes with probability C(n-w, m)/C(n, m), i.e.
(16-w)/16 on the standard plan; a node that runs another model throughout never passes, since every cheat
model from 5% weight noise up fails a single answer alone (poai/challenges/inference/CALIBRATION.md, 192 of 192), and
`opening_survival` measures the bound on the verifier itself (thousands of draws, n forward passes).
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from poai.challenges.common import Budget, CheckResult, WireMixin, new_seed, numpy_rng
from poai.challenges.inference.words import WORDS

__all__ = [
    "InferenceAnswer",
    "InferenceSpec",
    "InferenceThresholds",
    "PROMPT_SHAPES",
    "PromptShape",
    "answer",
    "choose_checked",
    "make_prompts",
    "make_spec",
    "opening_survival",
    "prompt_space_bits",
    "survival_bound",
    "verify",
]

NAME = "inference"

# ------------------------------------------------------------------------------------------ prompts


@dataclass(frozen=True)
class PromptShape:
    """An instruction with `words` distinct random words ({w0}, {w1}, ...) and random integers ({n0}, ...)
    drawn uniformly from the inclusive ranges `numbers`."""

    template: str
    words: int
    numbers: tuple[tuple[int, int], ...] = ()

    def size(self, vocabulary: int = len(WORDS)) -> int:
        """How many distinct prompts this shape can produce."""
        count = math.perm(vocabulary, self.words)
        for lo, hi in self.numbers:
            count *= hi - lo + 1
        return count

    def draw(self, rng: np.random.Generator) -> str:
        picks = rng.choice(len(WORDS), self.words, replace=False)
        values = {f"w{i}": WORDS[int(j)] for i, j in enumerate(picks)}
        values.update({f"n{i}": int(rng.integers(lo, hi + 1)) for i, (lo, hi) in enumerate(self.numbers)})
        return self.template.format(**values)


PROMPT_SHAPES: tuple[PromptShape, ...] = (
    PromptShape('Write one sentence that uses the words "{w0}", "{w1}", "{w2}", "{w3}", "{w4}" and "{w5}".',
                6),
    PromptShape("Sort these words in alphabetical order: {w0}, {w1}, {w2}, {w3}, {w4}, {w5}.", 6),
    PromptShape('What is {n0} plus {n1}? Then use the words "{w0}", "{w1}" and "{w2}" in one short sentence.',
                3, ((100, 99_999), (100, 99_999))),
    PromptShape('Write a two-line poem about "{w0}" and "{w1}" that also mentions "{w2}", "{w3}" and the '
                "number {n0}.", 4, ((1000, 999_999),)),
    PromptShape('Suggest a title for a story about "{w0}", "{w1}", "{w2}", "{w3}" and "{w4}" that takes '
                "place in the year {n0}, and explain it in one sentence.", 5, ((1000, 9999),)),
    PromptShape("Here are five words: {w0}, {w1}, {w2}, {w3}, {w4}. Which one is the longest? Also, what is "
                "{n0} times {n1}?", 5, ((2, 999), (2, 999))),
    PromptShape('Write a short story for children that includes the words "{w0}", "{w1}", "{w2}", "{w3}" and '
                '"{w4}", and the number {n0}.', 5, ((10, 99_999),)),
)


def prompt_space_bits() -> tuple[float, float]:
    """(log2 of the smallest shape's size, log2 of the whole space): the precomputation bound."""
    sizes = [s.size() for s in PROMPT_SHAPES]
    return math.log2(min(sizes)), math.log2(sum(sizes))


def make_prompts(rng: np.random.Generator | None, n: int) -> list[str]:
    """`n` fresh user prompts: a random shape, distinct random words, random numbers (>= 2^67.9 prompts per
    shape, see the module docstring). rng None: OS entropy."""
    gen = rng if rng is not None else np.random.default_rng()
    return [PROMPT_SHAPES[int(gen.integers(len(PROMPT_SHAPES)))].draw(gen) for _ in range(n)]


# ----------------------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class InferenceSpec(WireMixin):
    seed: bytes
    model: str
    prompts: tuple[str, ...]
    max_tokens: int
    top_k: int
    system: str = ""

    def __post_init__(self) -> None:
        if not self.prompts or not all(isinstance(p, str) and p for p in self.prompts):
            raise ValueError("invalid inference spec: prompts must be non-empty strings")
        if not (1 <= self.max_tokens <= 4096) or not (0 <= self.top_k <= 50):
            raise ValueError("invalid inference spec: max_tokens in [1, 4096], top_k in [0, 50]")

    def messages(self, i: int) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return msgs + [{"role": "user", "content": self.prompts[i]}]


@dataclass(frozen=True)
class InferenceAnswer(WireMixin):
    """Per prompt: prompt token ids, generated token ids, the chosen tokens' logprobs, the top-k
    alternatives (flattened: position-major, k per position) and the finish reason."""

    prompt_token_ids: tuple[tuple[int, ...], ...]
    token_ids: tuple[tuple[int, ...], ...]
    logprobs: tuple[tuple[float, ...], ...]
    top_ids: tuple[tuple[int, ...], ...]
    top_logprobs: tuple[tuple[float, ...], ...]
    finish_reasons: tuple[str, ...]
    backend: str = ""


@dataclass(frozen=True)
class InferenceThresholds:
    """Pass/fail limits, each set from a measured honest distribution with the margin stated in
    poai/challenges/inference/CALIBRATION.md (honest: llama.cpp Q4_1 and torch nodes vs the torch reference on fresh
    prompts, 2,638 llama.cpp positions / 10,552 alternatives, down to single 8-token answers; cheats:
    perturbed, re-quantised and tiny models, fabricated alternatives, NaN logprobs, burst streaming).
    Comments: the honest worst seen (llama.cpp; torch vs torch is exact) -> the limit."""

    hard_margin: float = 1.0  # nats: a disagreement where the reference prefers its token by more is "hard"
    # honest: no hard disagreement in 2,638 positions (largest gap 0.29 nats, 3.4x below hard_margin)
    max_hard_disagreement: float = 0.05  # fraction of positions
    min_argmax_agreement: float = 0.25  # honest worst 8-token answer 0.625 (a floor: near-ties flip)
    max_mean_deviation: float = 0.2  # nats, chosen tokens, mean; honest worst 8-token answer 0.095 (2.1x)
    max_deviation: float = 1.5  # nats, chosen tokens, one position; honest max 0.39 of 2,638 (3.8x)
    max_top_deviation: float = 0.35  # nats, alternatives at the node's ids, mean; honest worst 8-token
    #                                  answer 0.220 (1.6x), 64+ positions 0.115 (3.0x)
    max_top_deviation_max: float = 2.5  # nats, one alternative; honest max 1.08 of 10,552 (2.3x)
    max_topk_missing: float = 0.25  # fraction of positions; honest 0 of 2,638 (one in 8 tokens passes)
    min_eos_agreement: float = 1.0  # EOS chosen (or refused) where the reference clearly disagrees: none
    # token stream (decided in poai.kinds.InferenceKind.verify): pace = mean central inter-token gap /
    # committed time per token; honest >= 0.27 on every judged stream, idle or beside 2 busy processes
    # (5.4x), bursts over gRPC <= 0.014 (3.6x below). Judged when the stream has >= min_pace_gaps central
    # gaps: not on a single 8-token answer, where a stalled prefill looks like a burst (honest 0.027 seen).
    min_pace_ratio: float = 0.05
    min_pace_gaps: float = 10.0


def make_spec(budget: Budget, rng: np.random.Generator | None = None, model: str = "",
              system: str = "") -> InferenceSpec:
    """Fresh prompts from a fresh seed (rng None: the seed comes from `secrets`)."""
    seed = new_seed(rng)
    return InferenceSpec(
        seed=seed,
        model=model,
        prompts=tuple(make_prompts(numpy_rng(seed, "inference-prompts"), budget.inference_prompts)),
        max_tokens=budget.inference_max_tokens,
        top_k=budget.inference_top_k,
        system=system,
    )


# ---------------------------------------------------------------------------------------- node side


def answer(backend: Any, spec: InferenceSpec, on_token: Callable[[int, int], None] | None = None
           ) -> InferenceAnswer:
    """Greedy decode every prompt on `backend` (an edge_sdk.runtime backend) with top-k logprobs."""
    from edge_sdk.runtime import SamplingParams

    params = SamplingParams(max_tokens=spec.max_tokens, temperature=0.0, logprobs=max(1, spec.top_k))
    pids, toks, lps, tids, tlps, reasons = [], [], [], [], [], []
    for i in range(len(spec.prompts)):
        prompt_ids = backend.chat_prompt_ids(spec.messages(i))
        tokens: list[int] = []
        logprobs: list[float] = []
        top_ids: list[int] = []
        top_lps: list[float] = []
        finish = "length"
        for chunk in backend.stream(prompt_ids, params):
            tokens.append(int(chunk.token_id))
            lp = chunk.logprob
            logprobs.append(float(lp.logprob) if lp is not None else float("nan"))
            alts = list(lp.top)[: spec.top_k] if lp is not None else []
            top_ids.extend(int(a.token_id) for a in alts)
            top_lps.extend(float(a.logprob) for a in alts)
            if on_token is not None:
                on_token(i, len(tokens) - 1)
            if chunk.finish_reason:
                finish = chunk.finish_reason
        pids.append(tuple(int(t) for t in prompt_ids))
        toks.append(tuple(tokens))
        lps.append(tuple(logprobs))
        tids.append(tuple(top_ids))
        tlps.append(tuple(top_lps))
        reasons.append(finish)
    return InferenceAnswer(tuple(pids), tuple(toks), tuple(lps), tuple(tids), tuple(tlps), tuple(reasons),
                           backend=str(getattr(backend, "name", "")))


# ------------------------------------------------------------------------------------ verifier side

# Structural tolerances (not statistics: an honest node computes all of these from one log-softmax row).
LOGPROB_MAX = 1e-6  # a logprob above this is not a log-probability
SAME_LOGPROB = 1e-3  # the chosen token's logprob vs top_logprobs[0] (float32 vs float64 rounding)
MASS_MAX = 1e-3  # log of the listed alternatives' total probability: at most log(1) plus rounding


class Malformed(ValueError):
    """The answer cannot be a greedy decode with logprobs of any model: a failed check, stated."""


def _ints(values: Any, what: str) -> np.ndarray:
    try:
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise Malformed(f"{what}: not all integers")
        return np.asarray([int(v) for v in values], dtype=np.int64).reshape(-1)
    except (TypeError, OverflowError):
        raise Malformed(f"{what}: not a list of integers") from None


def _floats(values: Any, what: str) -> np.ndarray:
    try:
        if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                   for v in values):
            raise Malformed(f"{what}: not all numbers")
        arr = np.asarray([float(v) for v in values], dtype=np.float64).reshape(-1)
    except (TypeError, OverflowError):
        raise Malformed(f"{what}: not a list of numbers") from None
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise Malformed(f"{what}[{bad}] is {arr[bad]} (must be finite)")
    if np.any(arr > LOGPROB_MAX):
        bad = int(np.flatnonzero(arr > LOGPROB_MAX)[0])
        raise Malformed(f"{what}[{bad}] = {arr[bad]:.4g} > 0 is not a log-probability")
    return arr


@dataclass
class _Parsed:
    prompt: list[int]
    tokens: np.ndarray  # (n,)
    logprobs: np.ndarray  # (n,)
    top_ids: np.ndarray  # (n, k)
    top_lps: np.ndarray  # (n, k)


def _parse(spec: InferenceSpec, ans: InferenceAnswer, i: int, reference: Any) -> _Parsed:
    """The answer to prompt `i` as arrays, or Malformed with the reason."""
    want_prompt = [int(t) for t in reference.chat_prompt_ids(spec.messages(i))]
    prompt = _ints(ans.prompt_token_ids[i], "prompt token ids")
    if prompt.tolist() != want_prompt:
        raise Malformed("prompt tokens differ from the reference chat template (wrong model/tokenizer?)")
    k = spec.top_k
    toks = _ints(ans.token_ids[i], "token ids")
    n = len(toks)
    if not (1 <= n <= spec.max_tokens):
        raise Malformed(f"{n} tokens generated, expected 1..{spec.max_tokens}")
    if len(want_prompt) + n > int(getattr(reference, "context_length", 1 << 30)):
        raise Malformed(f"prompt + answer ({len(want_prompt) + n} tokens) exceed the model's context")
    if len(ans.logprobs[i]) != n or len(ans.top_ids[i]) != n * k or len(ans.top_logprobs[i]) != n * k:
        raise Malformed(f"logprob arrays ({len(ans.logprobs[i])}, {len(ans.top_ids[i])} ids, "
                        f"{len(ans.top_logprobs[i])} logprobs) do not match {n} tokens x top {k}")
    vocab = int(getattr(reference, "vocab_size", 0) or len(reference.tokenizer))
    top_ids = _ints(ans.top_ids[i], "top-k ids").reshape(n, k)
    if np.any(toks < 0) or np.any(toks >= vocab) or np.any(top_ids < 0) or np.any(top_ids >= vocab):
        raise Malformed(f"token ids outside the vocabulary [0, {vocab})")
    lps = _floats(ans.logprobs[i], "logprobs")
    top_lps = _floats(ans.top_logprobs[i], "top-k logprobs").reshape(n, k)
    eos = set(reference.eos_token_ids)
    tok_list = toks.tolist()
    if any(t in eos for t in tok_list[:-1]):
        raise Malformed("generation continued after EOS")
    ends_eos = tok_list[-1] in eos
    reason = ans.finish_reasons[i]
    if ends_eos != (reason == "eos") or (not ends_eos and n != spec.max_tokens):
        ending = "with" if ends_eos else "without"
        raise Malformed(f"finish_reason {str(reason)[:32]!r} inconsistent with {n} tokens ending {ending} "
                        "EOS")
    if k:
        srt = np.sort(top_ids, axis=1)
        if np.any(srt[:, 1:] == srt[:, :-1]):
            raise Malformed("top-k ids repeat within a position")
        if np.any(np.diff(top_lps, axis=1) > LOGPROB_MAX):
            raise Malformed("top-k logprobs are not sorted")
        if np.any(top_ids[:, 0] != toks):
            raise Malformed("a chosen token is not the top of the node's own distribution (not greedy)")
        if np.any(np.abs(top_lps[:, 0] - lps) > SAME_LOGPROB):
            j = int(np.argmax(np.abs(top_lps[:, 0] - lps)))
            raise Malformed(f"position {j}: chosen logprob {lps[j]:.4f} differs from its top-1 entry "
                            f"{top_lps[j, 0]:.4f}")
        mass = np.logaddexp.reduce(top_lps, axis=1)
        if np.any(mass > MASS_MAX):
            raise Malformed(f"top-k probabilities sum to {math.exp(float(mass.max())):.4f} > 1")
    return _Parsed(want_prompt, toks, lps, top_ids, top_lps)


@dataclass
class _RefScores:
    chosen: np.ndarray  # (n,) reference logprob of the node's token
    best: np.ndarray  # (n,) reference's highest logprob
    best_id: np.ndarray  # (n,)
    alt: np.ndarray  # (n, k) reference logprob at the node's listed ids
    top_ids: np.ndarray  # (n, kr) reference's own top ids
    top_lps: np.ndarray  # (n, kr)


def _reference_scores(reference: Any, p: _Parsed, kr: int) -> _RefScores:
    """One teacher-forced forward pass of the reference over prompt + the node's tokens, read at the ids
    the node chose and listed, plus the reference's own top `kr`."""
    import torch

    ids = p.prompt + p.tokens.tolist()
    n = len(p.tokens)
    lock = getattr(reference, "_lock", None) or contextlib.nullcontext()
    model = reference.model
    with lock, torch.inference_mode():
        x = torch.tensor([ids], device=reference.device)
        # logits only where they are read (the vocabulary projection is ~20% of a pass over every position)
        logits = model(x, use_cache=False, logits_to_keep=n + 1).logits[0, :-1]
        rows = torch.log_softmax(logits.float(), dim=-1).cpu()
    tok = torch.from_numpy(p.tokens)
    chosen = rows.gather(1, tok[:, None])[:, 0]
    best, best_id = rows.max(dim=1)
    alt = rows.gather(1, torch.from_numpy(p.top_ids)) if p.top_ids.shape[1] else torch.zeros((n, 0))
    top_lps, top_ids = rows.topk(kr, dim=1)
    to = lambda t: t.numpy().astype(np.float64)  # noqa: E731
    return _RefScores(to(chosen), to(best), best_id.numpy(), to(alt), top_ids.numpy(), to(top_lps))


@dataclass
class _Tally:
    positions: int = 0
    agree: int = 0
    hard: int = 0
    dev_sum: float = 0.0
    dev_max: float = 0.0
    top_dev_sum: float = 0.0
    top_dev_max: float = 0.0
    top_dev_n: int = 0
    top_positions: int = 0
    missing: int = 0
    overlap_sum: float = 0.0
    eos_checked: int = 0
    eos_agree: int = 0


def _score(p: _Parsed, r: _RefScores, eos: set[int], th: InferenceThresholds, tally: _Tally) -> None:
    n, k = p.top_ids.shape
    gap = r.best - r.chosen  # >= 0: how far below the reference's favourite the node's token is
    tally.positions += n
    tally.agree += int(np.sum(gap <= 1e-6))
    tally.hard += int(np.sum(gap > th.hard_margin))
    dev = np.abs(p.logprobs - r.chosen)
    tally.dev_sum += float(dev.sum())
    tally.dev_max = max(tally.dev_max, float(dev.max()))
    if k:
        tally.top_positions += n
        if k > 1:  # slot 0 is the chosen token, already compared
            top_dev = np.abs(p.top_lps[:, 1:] - r.alt[:, 1:])
            tally.top_dev_sum += float(top_dev.sum())
            tally.top_dev_max = max(tally.top_dev_max, float(top_dev.max()))
            tally.top_dev_n += top_dev.size
        worst_listed = r.alt.min(axis=1)  # the reference's view of the weakest alternative the node listed
        for j in range(n):
            listed = set(p.top_ids[j].tolist())
            ref_top = r.top_ids[j, :k].tolist()
            tally.overlap_sum += len(listed.intersection(ref_top)) / k
            left_out = [lp for t, lp in zip(ref_top, r.top_lps[j, :k]) if t not in listed]
            if left_out and max(left_out) > worst_listed[j] + th.hard_margin:
                tally.missing += 1
    for j, tok in enumerate(p.tokens.tolist()):
        ref_best = int(r.best_id[j])
        if tok in eos or ref_best in eos:
            tally.eos_checked += 1
            same = (tok in eos) == (ref_best in eos)
            tally.eos_agree += int(same or gap[j] <= th.hard_margin)


def choose_checked(n: int, m: int, rng: random.Random | None = None) -> list[int]:
    """The `m` of `n` answers the verifier re-scores (all when m >= n), drawn after the whole answer has
    arrived, from OS entropy (`secrets`) unless a generator is given: the node cannot know them when it
    commits."""
    gen = rng if rng is not None else secrets.SystemRandom()
    return sorted(gen.sample(range(n), min(max(1, m), n)))


def survival_bound(n: int, wrong: int, m: int) -> float:
    """Probability that none of `wrong` wrong answers among `n` is among the `m` re-scored ones:
    C(n - wrong, m) / C(n, m). An opened wrong answer fails on its own (poai/challenges/inference/CALIBRATION.md: every
    cheat model from 5% weight noise up failed 192 of 192 single 8-token answers), so this bounds the
    pass rate of a node that answers `wrong` prompts with anything but the claimed model."""
    m = min(max(1, m), n)
    return math.comb(n - wrong, m) / math.comb(n, m)


def _reference_passes(reference: Any, spec: InferenceSpec, parsed: list[_Parsed]) -> list[_RefScores]:
    """One reference pass per given answer, with the reference's own top max(top_k, 2) read as well."""
    return [_reference_scores(reference, p, max(spec.top_k, 2)) for p in parsed]


def _judge(parsed: list[_Parsed], scores: list[_RefScores], eos: set[int], th: InferenceThresholds
           ) -> tuple[list[str], dict[str, float]]:
    """The statistics of the re-scored answers (pooled) and the limits they break."""
    tally = _Tally()
    for p, r in zip(parsed, scores):
        _score(p, r, eos, th, tally)
    pos = max(1, tally.positions)
    m = {
        "positions": float(tally.positions),
        "argmax_agreement": tally.agree / pos,
        "hard_disagreement": tally.hard / pos,
        "score_deviation_mean": tally.dev_sum / pos,
        "score_deviation_max": tally.dev_max,
        "top_deviation_mean": tally.top_dev_sum / tally.top_dev_n if tally.top_dev_n else 0.0,
        "top_deviation_max": tally.top_dev_max,
        "topk_missing": tally.missing / tally.top_positions if tally.top_positions else 0.0,
        "topk_overlap": tally.overlap_sum / tally.top_positions if tally.top_positions else 0.0,
        "eos_positions": float(tally.eos_checked),
        "eos_agreement": tally.eos_agree / tally.eos_checked if tally.eos_checked else 1.0,
    }
    if not tally.positions:
        return [], m
    checks = [
        (m["hard_disagreement"] > th.max_hard_disagreement,
         f"hard disagreements {m['hard_disagreement']:.3f} > {th.max_hard_disagreement}"),
        (m["argmax_agreement"] < th.min_argmax_agreement,
         f"argmax agreement {m['argmax_agreement']:.3f} < {th.min_argmax_agreement}"),
        (m["score_deviation_mean"] > th.max_mean_deviation,
         f"score deviation {m['score_deviation_mean']:.3f} > {th.max_mean_deviation} nats"),
        (m["score_deviation_max"] > th.max_deviation,
         f"score deviation at one position {m['score_deviation_max']:.2f} > {th.max_deviation} nats"),
        (m["top_deviation_mean"] > th.max_top_deviation,
         f"top-k deviation {m['top_deviation_mean']:.3f} > {th.max_top_deviation} nats"),
        (m["top_deviation_max"] > th.max_top_deviation_max,
         f"top-k deviation of one alternative {m['top_deviation_max']:.2f} > "
         f"{th.max_top_deviation_max} nats"),
        (m["topk_missing"] > th.max_topk_missing,
         f"top-k lists leave out clearly better tokens at {m['topk_missing']:.3f} of positions > "
         f"{th.max_topk_missing}"),
        (m["eos_agreement"] < th.min_eos_agreement,
         "EOS placed (or refused) where the reference model clearly disagrees"),
    ]
    return [msg for bad, msg in checks if bad], m


def _parse_all(spec: InferenceSpec, answer_: InferenceAnswer, reference: Any
               ) -> tuple[list[_Parsed], list[str]]:
    """Every answer parsed and form-checked (cheap: no forward pass), or the problems found."""
    n = len(spec.prompts)
    lists = (answer_.prompt_token_ids, answer_.token_ids, answer_.logprobs, answer_.top_ids,
             answer_.top_logprobs, answer_.finish_reasons)
    if any(len(x) != n for x in lists):
        return [], [f"answer covers {[len(x) for x in lists]} prompts, expected {n}"]
    parsed: list[_Parsed] = []
    problems: list[str] = []
    for i in range(n):
        try:
            parsed.append(_parse(spec, answer_, i, reference))
        except Malformed as exc:
            problems.append(f"prompt {i}: {exc}")
    return parsed, problems


def verify(spec: InferenceSpec, answer_: InferenceAnswer, reference: Any,
           thresholds: InferenceThresholds | None = None, *,
           node_seconds: float | None = None, checked: int | None = None,
           rng: random.Random | None = None) -> CheckResult:
    """Check the node's answer: the form of every answer, then `checked` answers (None: all) chosen by
    `choose_checked` re-scored with one teacher-forced pass of `reference` (torch backend) each.
    Malformed answers fail with the reason; nothing the node sends makes this raise."""
    th = thresholds or InferenceThresholds()
    t0 = time.perf_counter()
    n = len(spec.prompts)
    eos = set(reference.eos_token_ids)
    parsed, problems = _parse_all(spec, answer_, reference)
    # statistics only for a well-formed answer (and no forward pass on junk)
    picked = [] if problems else choose_checked(n, n if checked is None else checked, rng)
    chosen = [parsed[i] for i in picked]
    stats_problems, metrics = _judge(chosen, _reference_passes(reference, spec, chosen), eos, th)
    problems.extend(stats_problems)
    metrics = {"prompts": float(n), "prompts_checked": float(len(picked)), **metrics}
    verify_seconds = time.perf_counter() - t0
    metrics["verify_seconds"] = verify_seconds
    passed = not problems
    which = f"answer {picked[0]}" if len(picked) == 1 else f"answers {', '.join(map(str, picked))}"
    reason = (f"{len(picked)} of {n} answers re-scored ({which}), {int(metrics['positions'])} tokens: "
              f"agreement {metrics['argmax_agreement']:.3f}, "
              f"deviation {metrics['score_deviation_mean']:.3f} nats" if passed
              else "; ".join(problems[:3]) + (f" (re-scored {which} of {n})" if picked else ""))
    result = CheckResult(NAME, passed, reason, {k: float(v) for k, v in metrics.items()}, verify_seconds)
    if node_seconds is not None:
        result = result.with_node_seconds(node_seconds)
    return result


def opening_survival(spec: InferenceSpec, answer_: InferenceAnswer, reference: Any, checked: int,
                     draws: int, thresholds: InferenceThresholds | None = None,
                     rng: random.Random | None = None) -> tuple[int, int]:
    """(passes, draws): how often `answer_` passes over `draws` fresh choices of the re-scored answers.
    Each answer's reference pass is computed once, so thousands of draws cost n forward passes (for the
    survival statistics in tests and benchmarks/poai.py; the verdict per draw is exactly `verify`'s)."""
    th = thresholds or InferenceThresholds()
    parsed, problems = _parse_all(spec, answer_, reference)
    if problems:
        return 0, draws
    eos = set(reference.eos_token_ids)
    scores = _reference_passes(reference, spec, parsed)
    gen = rng or random.Random()
    passes = 0
    for _ in range(draws):
        picked = choose_checked(len(parsed), checked, gen)
        passes += not _judge([parsed[i] for i in picked], [scores[i] for i in picked], eos, th)[0]
    return passes, draws
