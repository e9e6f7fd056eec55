"""The one inference interface, and the generation loop every backend shares.

A backend implements only two primitives: `_prefill(prompt_ids) -> logits` for the last prompt position
and `_decode(token_id) -> logits` for the next position. Sampling, stop strings, EOS handling, logprobs,
streaming and timings live here once, so the backends cannot drift apart.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.runtime.chat import DEFAULT_SYSTEM_PROMPT, chat_prompt_ids, completion_prompt_ids, with_default_system
from edge_sdk.runtime.detokenize import IncrementalDetokenizer
from edge_sdk.runtime.sampler import TokenSampler
from edge_sdk.runtime.types import Generation, SamplingParams, StreamChunk

Prompt = str | Sequence[int]
Messages = Sequence[Mapping[str, str]]


class InferenceBackend(ABC):
    """A loaded model on one engine. Not thread-safe per generation; calls are serialised with a lock."""

    name: str = "base"
    default_system: str | None = DEFAULT_SYSTEM_PROMPT  # what chat() adds to a chat without a system message

    def __init__(self, tokenizer, context_length: int, model_name: str) -> None:
        self.tokenizer = tokenizer
        self.context_length = int(context_length)
        self.model_name = model_name
        self._lock = threading.Lock()
        eos = tokenizer.eos_token_id
        self.eos_token_ids: set[int] = {eos} if isinstance(eos, int) else set(eos or [])
        self.vocab_size = len(tokenizer)  # ~30 ms on a fast tokenizer: once, not per request

    # -- engine primitives -------------------------------------------------------------------------
    @abstractmethod
    def _prefill(self, prompt_ids: list[int]) -> np.ndarray:
        """Reset state, run the prompt, return logits (vocab,) for the next token."""

    @abstractmethod
    def _decode(self, token_id: int) -> np.ndarray:
        """Append one token, return logits (vocab,) for the next token."""

    def close(self) -> None:
        """Release engine resources (optional)."""

    # -- prompts -----------------------------------------------------------------------------------
    def chat_prompt_ids(self, messages: Messages) -> list[int]:
        """The prompt of exactly these messages (no default system message: PoAI's challenges use this)."""
        return chat_prompt_ids(self.tokenizer, messages)

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        if isinstance(prompt, str):
            return completion_prompt_ids(self.tokenizer, prompt)
        ids = [int(t) for t in prompt]
        if not ids:
            raise InvalidRequestError("prompt token list is empty")
        vocab = self.vocab_size
        bad = [t for t in ids if t < 0 or t >= vocab]
        if bad:
            raise InvalidRequestError(f"prompt has token ids outside the vocabulary (size {vocab}): {bad[:5]}")
        return ids

    def decode_token(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)

    # -- generation --------------------------------------------------------------------------------
    def stream(self, prompt: Prompt, params: SamplingParams | None = None) -> Iterator[StreamChunk]:
        """Yield tokens as they are generated. The last chunk carries finish_reason."""
        for chunk, _ in self._run(prompt, params or SamplingParams()):
            yield chunk

    def generate(self, prompt: Prompt, params: SamplingParams | None = None) -> Generation:
        params = params or SamplingParams()
        result: Generation | None = None
        for _, gen in self._run(prompt, params):
            result = gen
        assert result is not None
        # The returned text is decoded from all tokens at once (not glued from stream chunks), so tests can
        # check that streaming reproduces it exactly.
        text = self.tokenizer.decode(result.token_ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        if result.finish_reason == "stop":
            cut = _find_stop(text, params.stop, 0)
            text = text[:cut] if cut is not None else text
        result.text = text
        return result

    def chat(self, messages: Messages, params: SamplingParams | None = None) -> Generation:
        """Answer a chat; without a system message it gets `default_system` (set None to send none)."""
        return self.generate(self.chat_prompt_ids(with_default_system(messages, self.default_system)), params)

    def stream_chat(self, messages: Messages, params: SamplingParams | None = None) -> Iterator[StreamChunk]:
        return self.stream(self.chat_prompt_ids(with_default_system(messages, self.default_system)), params)

    def _run(self, prompt: Prompt, params: SamplingParams) -> Iterator[tuple[StreamChunk, Generation]]:
        if not isinstance(params, SamplingParams):
            raise InvalidRequestError("params must be an edge_sdk.runtime.SamplingParams")
        ids = self.prompt_ids(prompt)
        if len(ids) >= self.context_length:
            raise InvalidRequestError(
                f"prompt is {len(ids)} tokens but the model's context is {self.context_length}: "
                "shorten the prompt or drop earlier messages"
            )
        max_new = min(params.max_tokens, self.context_length - len(ids))
        sampler = TokenSampler(params)
        detok = IncrementalDetokenizer(self.tokenizer)
        gen = Generation(text="", token_ids=[], prompt_token_ids=ids, finish_reason="length", backend=self.name)
        timings = gen.timings
        timings.prompt_tokens = len(ids)
        max_stop = max((len(s) for s in params.stop), default=0)
        with self._lock:
            t0 = time.perf_counter()
            logits = self._prefill(ids)
            pending = ""  # text held back because it may be the start of a stop string
            for step in range(max_new):
                tok = sampler.choose(logits)
                lp = sampler.logprob(logits, tok, self.decode_token) if params.logprobs else None
                if step == 0:
                    timings.time_to_first_token_s = time.perf_counter() - t0
                timings.generated_tokens += 1
                gen.token_ids.append(tok)
                if lp is not None:
                    gen.logprobs.append(lp)
                if tok in self.eos_token_ids:
                    gen.finish_reason = "eos"
                    text = pending + detok.flush()
                    gen.text += text
                    timings.total_s = time.perf_counter() - t0
                    yield StreamChunk(tok, text, lp, "eos"), gen
                    return
                new_text = pending + detok.push(tok)
                stop_at = _find_stop(gen.text + new_text, params.stop, len(gen.text))
                if stop_at is not None:
                    text = (gen.text + new_text)[len(gen.text):stop_at]
                    gen.text += text
                    gen.finish_reason = "stop"
                    timings.total_s = time.perf_counter() - t0
                    yield StreamChunk(tok, text, lp, "stop"), gen
                    return
                # hold back a suffix that could still grow into a stop string
                hold = _stop_prefix_len(gen.text + new_text, params.stop, max_stop)
                emit = new_text[: len(new_text) - hold] if hold else new_text
                pending = new_text[len(emit):]
                gen.text += emit
                last = step == max_new - 1
                if last:
                    tail = pending + detok.flush()
                    gen.text += tail
                    emit += tail
                    timings.total_s = time.perf_counter() - t0
                    yield StreamChunk(tok, emit, lp, "length"), gen
                    return
                yield StreamChunk(tok, emit, lp, None), gen
                logits = self._decode(tok)


def _find_stop(text: str, stops: tuple[str, ...], search_from: int) -> int | None:
    """Index where the earliest stop string starts in text (looking only at the new part), or None."""
    best = None
    for s in stops:
        i = text.find(s, max(0, search_from - len(s) + 1))
        if i != -1 and (best is None or i < best):
            best = i
    return best


def _stop_prefix_len(text: str, stops: tuple[str, ...], max_stop: int) -> int:
    """Length of the longest suffix of text that is a proper prefix of some stop string."""
    if not stops:
        return 0
    for n in range(min(max_stop - 1, len(text)), 0, -1):
        suffix = text[-n:]
        if any(s.startswith(suffix) for s in stops):
            return n
    return 0
