"""Run the same request on several backends and compare: the quickstart's main job and the agreement check.

Greedy decoding on different engines (Q4_1 GGUF in llama.cpp vs the dequantised fp32 weights in ONNX/torch)
is not bit-identical; how often their first tokens agree is a measured property, reported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from edge_sdk.errors import EdgeProofError
from edge_sdk.runtime.chat import DEFAULT_SYSTEM_PROMPT
from edge_sdk.runtime.select import load_backend
from edge_sdk.runtime.types import Generation, SamplingParams

DEFAULT_BACKENDS = ("llamacpp", "onnx", "onnx-int8", "torch")

# The system prompt for demos and agreement checks. A 135M model is unsure how to start many answers: with
# SmolLM2's template default, or "You are a helpful assistant.", the France answer's first token is a near tie
# ("The" vs "La", 0.05-0.1 nats apart) that llama.cpp's Q4_1 kernels or the int8 export flip into a list of
# French words. This prompt gives a 1.3-1.4 nat margin on every backend (measured, see tests).


def user_messages(prompt: str, system: str | None = DEFAULT_SYSTEM_PROMPT) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]


# Fixed prompts for the cross-backend agreement check (tests and benchmarks/inference.py share them).
AGREEMENT_PROMPTS = (
    "What is the capital of France?",
    "Name three primary colours.",
    "What is 12 times 12?",
    "Give me a synonym for happy.",
    "Who wrote Romeo and Juliet?",
    "What is the boiling point of water in Celsius?",
    "Translate 'good morning' into Spanish.",
    "What planet is known as the Red Planet?",
    "List two fruits that are yellow.",
    "What is the opposite of cold?",
    "How many days are in a week?",
    "What gas do plants absorb from the air?",
)


@dataclass
class BackendAnswer:
    backend: str
    load_s: float = 0.0
    generation: Generation | None = None
    error: str | None = None


@dataclass
class Comparison:
    prompt: str
    answers: list[BackendAnswer] = field(default_factory=list)


def answer_on_backends(messages: Sequence[Mapping[str, str]], backends: Sequence[str] = DEFAULT_BACKENDS,
                       params: SamplingParams | None = None, model=None,
                       on_progress: Callable[[str], None] | None = None) -> list[BackendAnswer]:
    """Load each backend in turn, answer `messages`, free it. A backend that fails is reported, not raised."""
    params = params or SamplingParams(max_tokens=64)
    answers = []
    for name in backends:
        if on_progress:
            on_progress(name)
        answer = BackendAnswer(name)
        t0 = time.perf_counter()
        try:
            backend = load_backend(name, model)
            answer.load_s = time.perf_counter() - t0
            answer.generation = backend.chat(messages, params)
            backend.close()
        except EdgeProofError as exc:
            answer.error = str(exc)
        answers.append(answer)
    return answers


def prefix_agreement(a: Sequence[int], b: Sequence[int], n: int) -> bool:
    """Do two greedy outputs agree on their first n tokens (or on all of the shorter one, if it ended)?"""
    a, b = list(a[:n]), list(b[:n])
    m = min(len(a), len(b))
    return a[:m] == b[:m] and (m == n or len(a) == len(b))
