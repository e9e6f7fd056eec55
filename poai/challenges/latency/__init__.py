"""Latency: round-trip time from pings, net durations, and time-to-first-token / inter-token gaps.

Every number comes from the challenger's clock (`time.perf_counter()` on the challenger); the node only
echoes. How a session uses it:

    ping = latency.make_ping(rng)                      # challenger, before and after the challenges
    reply = latency.answer_ping(ping)                   # node: echo the nonce
    ok = latency.check_echo(ping, reply)                # challenger: drop samples with a wrong echo
    before = latency.rtt_stats(samples_before); after = latency.rtt_stats(samples_after)
    net = latency.net_seconds(wall, before, after)      # node work time without the network
    stream = latency.stream_stats(sent_at, arrival_times)   # TTFT and gaps of a streamed answer
    result = latency.verify(before_samples, after_samples, max_rtt_s=budget.max_rtt_s, stream=stream)

Which RTT is subtracted: the smallest sample of before+after. A node can only make pings slower, never
faster, so the minimum is the figure it cannot inflate for free (inflating every ping also inflates the
latency it is scored on). A large before/after drift is flagged: the network changed under the session.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from poai.challenges.common import CheckResult, WireMixin, new_seed

__all__ = [
    "PingReply",
    "PingRequest",
    "RttStats",
    "StreamStats",
    "answer_ping",
    "check_echo",
    "make_ping",
    "net_seconds",
    "rtt_stats",
    "stream_stats",
    "verify",
]

NAME = "latency"


@dataclass(frozen=True)
class PingRequest(WireMixin):
    nonce: bytes


@dataclass(frozen=True)
class PingReply(WireMixin):
    nonce: bytes


def make_ping(rng: np.random.Generator | None = None) -> PingRequest:
    return PingRequest(nonce=new_seed(rng)[:16])


def answer_ping(request: PingRequest) -> PingReply:
    """Node side: echo the nonce (a reply sent before the ping arrived cannot know it)."""
    return PingReply(nonce=request.nonce)


def check_echo(request: PingRequest, reply: PingReply) -> bool:
    return reply.nonce == request.nonce


def _pct(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[idx])


@dataclass(frozen=True)
class RttStats:
    n: int
    min_s: float
    median_s: float
    mean_s: float
    p90_s: float
    max_s: float
    jitter_s: float  # standard deviation

    @classmethod
    def empty(cls) -> RttStats:
        return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def rtt_stats(samples: Sequence[float]) -> RttStats:
    """Summary of RTT samples in seconds (negative or non-finite samples are ignored)."""
    vals = sorted(float(x) for x in samples if np.isfinite(x) and x >= 0)
    if not vals:
        return RttStats.empty()
    return RttStats(
        n=len(vals),
        min_s=vals[0],
        median_s=float(statistics.median(vals)),
        mean_s=float(statistics.fmean(vals)),
        p90_s=_pct(vals, 0.9),
        max_s=vals[-1],
        jitter_s=float(statistics.pstdev(vals)) if len(vals) > 1 else 0.0,
    )


def net_seconds(wall_seconds: float, *rtts: RttStats | float, round_trips: int = 1) -> float:
    """Wall time of a request/response minus `round_trips` times the smallest RTT seen (never < 0)."""
    mins = [r.min_s if isinstance(r, RttStats) else float(r) for r in rtts]
    mins = [m for m in mins if m > 0]
    rtt = min(mins) if mins else 0.0
    return max(0.0, float(wall_seconds) - round_trips * rtt)


@dataclass(frozen=True)
class StreamStats:
    """Figures of a streamed answer (one tick per generated token), all on the challenger's clock.

    Inter-token gaps are taken between consecutive ticks of the same prompt only (the time between two
    prompts is the next prompt's prefill, not a decode step). `pace_ratio` compares how the ticks are spread
    with the committed decode time: the mean of each prompt's central inter-token gaps (its first and last
    ceil(10%) of gaps left out) divided by the commitment's time per token (commit time net of one RTT /
    tokens). A node that streams each token as it decodes it has a ratio of about decode time / total time
    (measured 0.23-0.95 for llama.cpp and torch nodes here, see poai/challenges/inference/CALIBRATION.md); a node that
    sends its ticks in a burst after generating (all at the end, per prompt, or after the first tick) has
    central gaps of one message each: 0.004-0.014 over gRPC here."""

    tokens: int
    ttft_s: float  # request sent -> first token received, challenger clock
    ttft_net_s: float  # minus one RTT
    gap_mean_s: float
    gap_median_s: float
    gap_p90_s: float
    gap_max_s: float
    tokens_per_s: float  # decode rate from the within-prompt gaps
    prompts: int = 1
    central_gaps: int = 0  # how many gaps pace_ratio is taken over (0: no prompt has >= 4 ticks)
    central_gap_mean_s: float = 0.0
    commit_s_per_token: float = 0.0  # 0.0: no commit time given
    pace_ratio: float = float("nan")  # nan: not measurable (no commit time, or no central gaps)
    tail_fraction: float = float("nan")  # ticks in the last 10% of the commit time (a burst: ~1.0)


def _central(gaps: Sequence[float]) -> Sequence[float]:
    """The gaps without the first and last ceil(10%) (at least one each side)."""
    c = max(1, -(-len(gaps) // 10))
    return gaps[c: len(gaps) - c]


def stream_stats(
    sent_at: float,
    arrivals: Sequence[float],
    rtt: RttStats | None = None,
    *,
    prompts: Sequence[int] | None = None,
    committed_at: float | None = None,
) -> StreamStats:
    """TTFT, inter-token gaps and the stream's pace from challenger timestamps (perf_counter values).

    `arrivals` are the ticks' arrival times in stream order; `prompts` the prompt index of each tick
    (default: all one prompt); `committed_at` the arrival time of the committed answer (enables pace_ratio
    and tail_fraction). TTFT is the first tick's."""
    times = [float(t) for t in arrivals]
    owner = [0] * len(times) if prompts is None else [int(p) for p in prompts]
    if len(owner) != len(times):
        raise ValueError("one prompt index per arrival")
    if not times:
        return StreamStats(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, prompts=0)
    if any(b < a for a, b in zip(times, times[1:])) or times[0] < sent_at:
        raise ValueError("arrival timestamps must be non-decreasing and after the request was sent")
    if committed_at is not None and committed_at < times[-1]:
        raise ValueError("the commitment cannot arrive before the ticks it commits to")
    per_prompt: dict[int, list[float]] = {}
    for t, p in zip(times, owner):
        per_prompt.setdefault(p, []).append(t)
    within = [[b - a for a, b in zip(ts, ts[1:])] for ts in per_prompt.values()]
    gaps = sorted(g for gs in within for g in gs)
    central = [g for gs in within for g in _central(gs)]
    ttft = times[0] - sent_at
    central_mean = float(statistics.fmean(central)) if central else 0.0
    per_token = pace = tail = float("nan")
    if committed_at is not None:
        commit = net_seconds(committed_at - sent_at, rtt) if rtt is not None else committed_at - sent_at
        per_token = commit / len(times)
        if central and per_token > 0:
            pace = central_mean / per_token
        cutoff = committed_at - 0.1 * (committed_at - sent_at)
        tail = sum(t >= cutoff for t in times) / len(times)
    return StreamStats(
        tokens=len(times),
        ttft_s=ttft,
        ttft_net_s=net_seconds(ttft, rtt) if rtt is not None else ttft,
        gap_mean_s=float(statistics.fmean(gaps)) if gaps else 0.0,
        gap_median_s=float(statistics.median(gaps)) if gaps else 0.0,
        gap_p90_s=_pct(gaps, 0.9),
        gap_max_s=gaps[-1] if gaps else 0.0,
        tokens_per_s=len(gaps) / sum(gaps) if gaps and sum(gaps) > 0 else 0.0,
        prompts=len(per_prompt),
        central_gaps=len(central),
        central_gap_mean_s=central_mean,
        commit_s_per_token=0.0 if math.isnan(per_token) else per_token,
        pace_ratio=pace,
        tail_fraction=tail,
    )

def verify(
    before: Sequence[float],
    after: Sequence[float],
    *,
    max_rtt_s: float = 1.0,
    min_samples: int = 2,
    max_drift_ratio: float = 3.0,
    drift_slack_s: float = 0.02,
    stream: StreamStats | None = None,
    spikes: Sequence[str] = (),
) -> CheckResult:
    """Latency figures for scoring. Fails (softly: no strike, see scoring) when there are too few valid
    pings, the median RTT exceeds `max_rtt_s`, or the RTT moved by more than `max_drift_ratio` (plus
    `drift_slack_s`) between the start and the end of the session."""
    t0 = time.perf_counter()
    b, a = rtt_stats(before), rtt_stats(after)
    both = rtt_stats([*before, *after])
    problems = []
    if b.n < min_samples or a.n < min_samples:
        problems.append(f"too few valid pings ({b.n} before, {a.n} after; need {min_samples} each)")
    else:
        if both.median_s > max_rtt_s:
            problems.append(f"median RTT {both.median_s * 1e3:.1f} ms above {max_rtt_s * 1e3:.0f} ms")
        lo, hi = sorted((b.median_s, a.median_s))
        if hi > max_drift_ratio * lo + drift_slack_s:
            problems.append(f"RTT drifted from {b.median_s * 1e3:.1f} ms to {a.median_s * 1e3:.1f} ms")
    if spikes:
        # ping rounds around a challenge far slower than the session's: delayed pongs (see session.py)
        problems.append("RTT spiked around a challenge: " + "; ".join(spikes))
    metrics = {
        "rtt_min_ms": both.min_s * 1e3,
        "rtt_median_ms": both.median_s * 1e3,
        "rtt_p90_ms": both.p90_s * 1e3,
        "rtt_jitter_ms": both.jitter_s * 1e3,
        "rtt_before_median_ms": b.median_s * 1e3,
        "rtt_after_median_ms": a.median_s * 1e3,
        "pings": float(both.n),
        "rtt_spikes": float(len(spikes)),
    }
    if stream is not None and stream.tokens:
        metrics.update({
            "ttft_ms": stream.ttft_s * 1e3,
            "ttft_net_ms": stream.ttft_net_s * 1e3,
            "inter_token_mean_ms": stream.gap_mean_s * 1e3,
            "inter_token_p90_ms": stream.gap_p90_s * 1e3,
            "inter_token_max_ms": stream.gap_max_s * 1e3,
            "tokens_per_s": stream.tokens_per_s,
        })
    verify_seconds = time.perf_counter() - t0
    metrics["verify_seconds"] = verify_seconds
    passed = not problems
    reason = (f"median RTT {both.median_s * 1e3:.1f} ms over {both.n} pings" if passed
              else "; ".join(problems))
    return CheckResult(NAME, passed, reason, metrics, verify_seconds)
