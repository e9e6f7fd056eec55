"""Token selection shared by every backend, so greedy and seeded sampling behave identically everywhere.

Backends only produce next-token logits; this module turns them into a token and, when asked, the
log-probabilities PoAI's inference challenge needs. Logprobs are always reported under the model's own
(untempered) distribution so they are comparable across backends and sampling settings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edge_sdk.runtime.types import SamplingParams, TokenLogprob, TopLogprob


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64, copy=False)
    m = x.max()
    return x - (m + np.log(np.exp(x - m).sum()))


class TokenSampler:
    """Picks tokens from logits according to SamplingParams; one instance per generation (owns the RNG)."""

    def __init__(self, params: SamplingParams) -> None:
        self.params = params
        self._rng = np.random.default_rng(params.seed)

    def choose(self, logits: np.ndarray) -> int:
        p = self.params
        if p.greedy:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / p.temperature
        if p.top_k and p.top_k < scaled.shape[0]:
            kth = np.partition(scaled, -p.top_k)[-p.top_k]
            scaled = np.where(scaled < kth, -np.inf, scaled)
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum()
        if p.top_p < 1.0:
            order = np.argsort(-probs, kind="stable")
            cumulative = np.cumsum(probs[order])
            keep = order[: int(np.searchsorted(cumulative, p.top_p) + 1)]
            mask = np.zeros_like(probs)
            mask[keep] = probs[keep]
            probs = mask / mask.sum()
        return int(self._rng.choice(probs.shape[0], p=probs))

    def logprob(self, logits: np.ndarray, chosen: int, decode: Callable[[int], str]) -> TokenLogprob:
        return token_logprob(logits, chosen, self.params.logprobs, decode)


def token_logprob(logits: np.ndarray, chosen: int, k: int, decode: Callable[[int], str]) -> TokenLogprob:
    """The chosen token's logprob plus the k most likely alternatives (highest first)."""
    lp = log_softmax(np.asarray(logits))
    top: tuple[TopLogprob, ...] = ()
    if k > 0:
        idx = np.argpartition(-lp, k - 1)[:k]
        idx = idx[np.argsort(-lp[idx], kind="stable")]
        top = tuple(TopLogprob(int(i), decode(int(i)), float(lp[i])) for i in idx)
    return TokenLogprob(int(chosen), decode(int(chosen)), float(lp[chosen]), top)
