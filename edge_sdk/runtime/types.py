"""The request and result types shared by every inference backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from edge_sdk.errors import InvalidRequestError

FinishReason = Literal["eos", "length", "stop"]


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. temperature == 0 means greedy (deterministic on every backend)."""

    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = no top-k cut
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: int = 0  # how many top alternatives to return per generated token (0 = no logprobs)

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        problems = []
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            problems.append(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if not (0.0 <= float(self.temperature) <= 10.0):
            problems.append(f"temperature must be between 0 and 10 (0 = greedy), got {self.temperature!r}")
        if not (0.0 < float(self.top_p) <= 1.0):
            problems.append(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            problems.append(f"top_k must be an integer >= 0 (0 disables it), got {self.top_k!r}")
        if not isinstance(self.logprobs, int) or not (0 <= self.logprobs <= 50):
            problems.append(f"logprobs must be an integer from 0 to 50, got {self.logprobs!r}")
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            problems.append(f"seed must be a non-negative integer or None, got {self.seed!r}")
        if any((not isinstance(s, str)) or s == "" for s in self.stop):
            problems.append("stop strings must be non-empty strings")
        if problems:
            raise InvalidRequestError("invalid sampling settings: " + "; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class TopLogprob:
    token_id: int
    token: str
    logprob: float


@dataclass(frozen=True)
class TokenLogprob:
    """The chosen token's log-probability under the model's (untempered) distribution, with alternatives."""

    token_id: int
    token: str
    logprob: float
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class StreamChunk:
    """One generated token as it arrives. `text` is the new text it adds (may be '' mid-character)."""

    token_id: int
    text: str
    logprob: TokenLogprob | None = None
    finish_reason: FinishReason | None = None


@dataclass
class Timings:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    time_to_first_token_s: float = 0.0
    total_s: float = 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        """Tokens per second after the first one (prefill excluded)."""
        decode_time = self.total_s - self.time_to_first_token_s
        if self.generated_tokens <= 1 or decode_time <= 0:
            return 0.0
        return (self.generated_tokens - 1) / decode_time


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    prompt_token_ids: list[int]
    finish_reason: FinishReason
    logprobs: list[TokenLogprob] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    backend: str = ""
