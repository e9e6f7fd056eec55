"""Inference correctness: fresh prompts, greedy decoding on the node, one teacher-forced pass to verify.

Session flow:

    spec   = inference.make_spec(budget, rng, model="smollm2-135m-instruct")  # challenger: fresh prompts
    answer = inference.answer(node_backend, spec, on_token=cb)    # node: greedy decode + top-k logprobs
    result = inference.verify(spec, answer, reference_backend)    # challenger: one forward pass per prompt

`node_backend` is any edge_sdk.runtime backend (llama.cpp, ONNX Runtime, torch); `reference_backend` must
be the torch backend on the reference model (it provides `teacher_forced_logprobs`). `on_token(prompt_index,
token_index)` is called as each token is produced, so the node agent can stream progress and the
challenger can time TTFT and inter-token gaps (see latency.stream_stats).

What is checked, per generated position, against the reference model evaluated on the node's own tokens:
- the node's prompt tokens equal the reference chat template's (same tokenizer and template);
- greedy: the node's token is the top of its own reported distribution; EOS only as the last token, and
  finish_reason consistent with it;
- argmax agreement with the reference, and "hard" disagreements: the node picked a token the reference
  ranks more than `hard_margin` nats below its favourite (an honest quantised backend only flips near-ties);
- score deviation: |node logprob - reference logprob| of the chosen tokens (mean and max) and over the
  top-k alternatives both report.
Thresholds (`InferenceThresholds`) come from measured honest runs (llama.cpp Q4_1 vs torch) and cheats
(perturbed, re-quantised, random models): see poai/challenges/INFERENCE_CALIBRATION.md.

The verifier's cost is one forward pass over prompt + completion per prompt, against the node's
`max_tokens` sequential decode steps; both times are in the metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poai.challenges.common import Budget, CheckResult, WireMixin, new_seed, numpy_rng

__all__ = [
    "InferenceAnswer",
    "InferenceSpec",
    "InferenceThresholds",
    "answer",
    "make_prompts",
    "make_spec",
    "verify",
]

NAME = "inference"

# ------------------------------------------------------------------------------------------ prompts

_ADJ = ["quiet", "ancient", "bright", "curious", "tiny", "enormous", "rusty", "golden", "clever", "sleepy",
        "noisy", "gentle", "frozen", "hidden", "lonely", "brave", "wooden", "purple", "silver", "busy",
        "patient", "broken", "friendly", "strange", "shiny", "humble", "fierce", "soft", "dusty", "modern"]
_NOUN = ["robot", "garden", "lighthouse", "teapot", "river", "library", "fox", "bicycle", "mountain",
         "violin", "bakery", "owl", "train", "castle", "lantern", "notebook", "whale", "market", "kite",
         "forest", "clock", "island", "bridge", "dragon", "cactus", "submarine", "village", "piano", "comet",
         "umbrella"]
_PLACE = ["harbour", "desert", "city square", "old mill", "school", "train station", "beach", "museum",
          "farm", "space station", "cave", "rooftop", "kitchen", "park", "museum basement", "snowy valley"]
_JOB = ["baker", "nurse", "pilot", "gardener", "teacher", "astronaut", "plumber", "painter", "chef", "farmer",
        "librarian", "mechanic", "firefighter", "scientist", "musician", "tailor", "carpenter", "doctor"]
_THING = ["a box", "a backpack", "a drawer", "a pocket", "a toolbox", "a basket", "a suitcase", "a fridge"]
_TOPIC = ["rain", "friendship", "the moon", "coffee", "winter", "music", "the ocean", "trees", "cities",
          "sleep", "volcanoes", "bees", "maps", "bread", "clouds", "stars", "rivers", "sports"]
_COLOR = ["red", "blue", "green", "yellow", "orange", "purple", "white", "black", "brown", "pink"]

_TEMPLATES: tuple[Callable[[np.random.Generator], str], ...] = (
    lambda r: f"Write one sentence about a {_pick(r, _ADJ)} {_pick(r, _NOUN)} near the {_pick(r, _PLACE)}.",
    lambda r: f"List three things a {_pick(r, _JOB)} might keep in {_pick(r, _THING)}.",
    lambda r: (lambda a, b: f"What is {a} plus {b}? Answer with the number first.")(
        int(r.integers(10, 999)), int(r.integers(10, 999))),
    lambda r: (lambda a, b: f"What is {a} times {b}?")(int(r.integers(2, 40)), int(r.integers(2, 40))),
    lambda r: (f"Give a short title for a story about a {_pick(r, _ADJ)} {_pick(r, _NOUN)} "
               f"and a {_pick(r, _NOUN)}."),
    lambda r: f"Describe the colour {_pick(r, _COLOR)} to someone who loves {_pick(r, _TOPIC)}.",
    lambda r: f"Write a two-line poem about {_pick(r, _TOPIC)} and a {_pick(r, _NOUN)}.",
    lambda r: f"Why might a {_pick(r, _JOB)} visit the {_pick(r, _PLACE)}? Answer briefly.",
    lambda r: f"Continue this list with two more words: {', '.join(_pick(r, _NOUN) for _ in range(3))},",
    lambda r: f"Explain in one sentence what a {_pick(r, _NOUN)} is used for.",
    lambda r: f"Name a {_pick(r, _COLOR)} object you could find in a {_pick(r, _PLACE)}.",
    lambda r: (f"Give one tip for a {_pick(r, _ADJ)} {_pick(r, _JOB)} who is learning about "
               f"{_pick(r, _TOPIC)}."),
)


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(len(words)))]


def make_prompts(rng: np.random.Generator | None, n: int) -> list[str]:
    """`n` fresh user prompts: random templates filled with random words and numbers (millions of
    combinations; never a fixed list a node could precompute). rng None: OS entropy."""
    gen = rng if rng is not None else np.random.default_rng()
    return [_TEMPLATES[int(gen.integers(len(_TEMPLATES)))](gen) for _ in range(n)]


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
    """Pass/fail limits. Defaults are calibrated in INFERENCE_CALIBRATION.md (honest llama.cpp Q4_1 vs the
    torch reference, and cheating models)."""

    hard_margin: float = 1.0  # nats: a disagreement where the reference prefers its token by more is "hard"
    max_hard_disagreement: float = 0.05  # fraction of positions (honest llama.cpp: 0.000)
    min_argmax_agreement: float = 0.5  # honest llama.cpp 0.95-0.97 but 0.83 on one 12-token answer
    max_mean_deviation: float = 0.15  # nats, chosen tokens (honest llama.cpp: 0.042)
    max_top_deviation: float = 0.25  # nats, mean over shared top-k alternatives (honest: 0.079)
    min_eos_agreement: float = 1.0  # EOS chosen (or refused) where the reference clearly disagrees: none


def make_spec(budget: Budget, rng: np.random.Generator | None = None, model: str = "",
              system: str = "") -> InferenceSpec:
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


@dataclass
class _Tally:
    positions: int = 0
    agree: int = 0
    hard: int = 0
    dev_sum: float = 0.0
    dev_max: float = 0.0
    top_dev_sum: float = 0.0
    top_dev_n: int = 0
    overlap_sum: float = 0.0
    eos_checked: int = 0
    eos_agree: int = 0


def _check_prompt(spec: InferenceSpec, ans: InferenceAnswer, i: int, reference: Any,
                  th: InferenceThresholds, tally: _Tally) -> str | None:
    """Structural checks (any failure is returned) and the statistics, added to `tally`."""
    want_prompt = [int(t) for t in reference.chat_prompt_ids(spec.messages(i))]
    if list(ans.prompt_token_ids[i]) != want_prompt:
        return f"prompt {i}: prompt tokens differ from the reference chat template (wrong model/tokenizer?)"
    toks = list(ans.token_ids[i])
    k = spec.top_k
    n = len(toks)
    if not (1 <= n <= spec.max_tokens):
        return f"prompt {i}: {n} tokens generated, expected 1..{spec.max_tokens}"
    if len(ans.logprobs[i]) != n or len(ans.top_ids[i]) != n * k or len(ans.top_logprobs[i]) != n * k:
        return f"prompt {i}: logprob arrays do not match {n} tokens x top {k}"
    lps = np.asarray(ans.logprobs[i], dtype=np.float64)
    if not np.all(np.isfinite(lps)) or np.any(lps > 1e-6):
        return f"prompt {i}: logprobs missing or not log-probabilities"
    vocab = len(reference.tokenizer)
    if any(t < 0 or t >= vocab for t in toks):
        return f"prompt {i}: token ids outside the vocabulary"
    eos = set(reference.eos_token_ids)
    if any(t in eos for t in toks[:-1]):
        return f"prompt {i}: generation continued after EOS"
    ends_eos = toks[-1] in eos
    reason = ans.finish_reasons[i] if i < len(ans.finish_reasons) else ""
    if ends_eos != (reason == "eos") or (not ends_eos and n != spec.max_tokens):
        ending = "with" if ends_eos else "without"
        return f"prompt {i}: finish_reason {reason!r} inconsistent with {n} tokens ending {ending} EOS"
    top_ids = np.asarray(ans.top_ids[i], dtype=np.int64).reshape(n, k)
    top_lps = np.asarray(ans.top_logprobs[i], dtype=np.float64).reshape(n, k)
    if k:
        if np.any(top_ids[:, 0] != np.asarray(toks)):
            return f"prompt {i}: a chosen token is not the top of the node's own distribution (not greedy)"
        if np.any(np.diff(top_lps, axis=1) > 1e-6):
            return f"prompt {i}: top-k logprobs are not sorted"
    ref = reference.teacher_forced_logprobs(want_prompt, toks, max(k, 2))
    for j, (tok, r) in enumerate(zip(toks, ref)):
        ref_top = [a.token_id for a in r.top]
        ref_lp = {a.token_id: a.logprob for a in r.top}
        best_lp = r.top[0].logprob
        tally.positions += 1
        if ref_top[0] == tok:
            tally.agree += 1
        elif best_lp - r.logprob > th.hard_margin:
            tally.hard += 1
        dev = abs(float(lps[j]) - r.logprob)
        tally.dev_sum += dev
        tally.dev_max = max(tally.dev_max, dev)
        if k:
            node_ids = top_ids[j].tolist()
            shared = [(t, top_lps[j][m]) for m, t in enumerate(node_ids) if t in ref_lp]
            tally.overlap_sum += len(shared) / k
            for t, lp in shared:
                tally.top_dev_sum += abs(lp - ref_lp[t])
                tally.top_dev_n += 1
        if tok in eos or ref_top[0] in eos:
            tally.eos_checked += 1
            same = (tok in eos) == (ref_top[0] in eos)
            tally.eos_agree += int(same or best_lp - r.logprob <= th.hard_margin)
    return None


def verify(spec: InferenceSpec, answer_: InferenceAnswer, reference: Any,
           thresholds: InferenceThresholds | None = None, *,
           node_seconds: float | None = None) -> CheckResult:
    """Check the node's answer with one teacher-forced pass of `reference` (torch backend) per prompt."""
    th = thresholds or InferenceThresholds()
    t0 = time.perf_counter()
    problems: list[str] = []
    tally = _Tally()
    n = len(spec.prompts)
    lists = (answer_.prompt_token_ids, answer_.token_ids, answer_.logprobs, answer_.top_ids,
             answer_.top_logprobs, answer_.finish_reasons)
    if any(len(x) != n for x in lists):
        problems.append(f"answer covers {[len(x) for x in lists]} prompts, expected {n}")
    else:
        for i in range(n):
            err = _check_prompt(spec, answer_, i, reference, th, tally)
            if err:
                problems.append(err)
    pos = max(1, tally.positions)
    metrics = {
        "prompts": float(n),
        "positions": float(tally.positions),
        "argmax_agreement": tally.agree / pos,
        "hard_disagreement": tally.hard / pos,
        "score_deviation_mean": tally.dev_sum / pos,
        "score_deviation_max": tally.dev_max,
        "top_deviation_mean": tally.top_dev_sum / tally.top_dev_n if tally.top_dev_n else 0.0,
        "topk_overlap": tally.overlap_sum / pos,
        "eos_positions": float(tally.eos_checked),
        "eos_agreement": tally.eos_agree / tally.eos_checked if tally.eos_checked else 1.0,
    }
    if not problems and tally.positions:
        checks = [
            (metrics["hard_disagreement"] > th.max_hard_disagreement,
             f"hard disagreements {metrics['hard_disagreement']:.3f} > {th.max_hard_disagreement}"),
            (metrics["argmax_agreement"] < th.min_argmax_agreement,
             f"argmax agreement {metrics['argmax_agreement']:.3f} < {th.min_argmax_agreement}"),
            (metrics["score_deviation_mean"] > th.max_mean_deviation,
             f"score deviation {metrics['score_deviation_mean']:.3f} > {th.max_mean_deviation} nats"),
            (metrics["top_deviation_mean"] > th.max_top_deviation,
             f"top-k deviation {metrics['top_deviation_mean']:.3f} > {th.max_top_deviation} nats"),
            (metrics["eos_agreement"] < th.min_eos_agreement,
             "EOS placed (or refused) where the reference model clearly disagrees"),
        ]
        problems.extend(msg for bad, msg in checks if bad)
    verify_seconds = time.perf_counter() - t0
    metrics["verify_seconds"] = verify_seconds
    passed = not problems
    reason = (f"{tally.positions} tokens: agreement {metrics['argmax_agreement']:.3f}, "
              f"deviation {metrics['score_deviation_mean']:.3f} nats" if passed
              else "; ".join(problems[:3]))
    result = CheckResult(NAME, passed, reason, {k: float(v) for k, v in metrics.items()}, verify_seconds)
    if node_seconds is not None:
        result = result.with_node_seconds(node_seconds)
    if math.isnan(metrics["score_deviation_mean"]):
        result = CheckResult(NAME, False, "non-finite deviation", result.metrics, verify_seconds)
    return result
