"""Latency figures: RTT statistics, net time, TTFT and inter-token gaps, and the soft check."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from poai.challenges import latency


def test_ping_echo() -> None:
    ping = latency.make_ping(np.random.default_rng(0))
    assert latency.check_echo(ping, latency.answer_ping(ping))
    assert not latency.check_echo(ping, latency.PingReply(nonce=b"\0" * 16))
    assert latency.make_ping().nonce != latency.make_ping().nonce


def test_rtt_stats_and_net_time() -> None:
    s = latency.rtt_stats([0.010, 0.012, 0.011, 0.050, float("nan"), -1.0])
    assert s.n == 4 and s.min_s == 0.010 and s.max_s == 0.050
    assert s.median_s == pytest.approx(0.0115)
    assert s.p90_s == 0.050 and s.jitter_s > 0
    after = latency.rtt_stats([0.008, 0.009])
    # the smallest RTT of all samples is subtracted, never going below zero
    assert latency.net_seconds(1.0, s, after) == pytest.approx(0.992)
    assert latency.net_seconds(0.001, s) == 0.0
    assert latency.net_seconds(1.0, s, round_trips=2) == pytest.approx(0.98)
    assert latency.rtt_stats([]).n == 0


def test_stream_stats_from_real_clock() -> None:
    sent = time.perf_counter()
    arrivals = []
    time.sleep(0.02)
    for _ in range(5):
        arrivals.append(time.perf_counter())
        time.sleep(0.005)
    st = latency.stream_stats(sent, arrivals, latency.rtt_stats([0.001]))
    assert st.tokens == 5
    assert st.ttft_s >= 0.02 and st.ttft_net_s == pytest.approx(st.ttft_s - 0.001)
    assert 0.004 <= st.gap_median_s < 0.05 and st.gap_max_s >= st.gap_median_s
    assert 20 < st.tokens_per_s < 250
    with pytest.raises(ValueError):
        latency.stream_stats(sent, [sent + 2, sent + 1])


def test_verify_passes_fails_softly_and_reports() -> None:
    stream = latency.stream_stats(0.0, [0.1, 0.15, 0.2])
    ok = latency.verify([0.01, 0.012, 0.011], [0.012, 0.013], max_rtt_s=0.5, stream=stream)
    assert ok.passed and ok.name == "latency"
    assert ok.metrics["rtt_median_ms"] == pytest.approx(12.0)
    assert ok.metrics["ttft_ms"] == pytest.approx(100.0) and ok.metrics["tokens_per_s"] == pytest.approx(20.0)
    slow = latency.verify([0.8, 0.9], [0.85, 0.9], max_rtt_s=0.5)
    assert not slow.passed and "median RTT" in slow.reason
    drift = latency.verify([0.01, 0.01], [0.2, 0.21])
    assert not drift.passed and "drifted" in drift.reason
    few = latency.verify([0.01], [])
    assert not few.passed and "too few" in few.reason


# ------------------------------------------------------------------------------------------ token stream


def _ticks(prompts: int, tokens: int, prefill: float, step: float, start: float = 0.0):
    """Arrival times and prompt indices of an honest stream: per prompt a prefill, then one tick per step."""
    times, owner, t = [], [], start
    for p in range(prompts):
        t += prefill
        for _ in range(tokens):
            t += step
            times.append(t)
            owner.append(p)
    return times, owner, t


def test_stream_gaps_are_within_prompts() -> None:
    times, owner, end = _ticks(3, 10, prefill=0.2, step=0.01)
    st = latency.stream_stats(0.0, times, prompts=owner, committed_at=end + 0.001)
    # the two prefills between prompts are not inter-token gaps
    assert st.prompts == 3 and st.tokens == 30
    assert st.gap_max_s == pytest.approx(0.01) and st.gap_median_s == pytest.approx(0.01)
    assert st.tokens_per_s == pytest.approx(100.0)
    assert st.ttft_s == pytest.approx(0.21)
    # 9 gaps per prompt, the first and last of each left out: 7 central gaps per prompt
    assert st.central_gaps == 21 and st.central_gap_mean_s == pytest.approx(0.01)
    assert st.commit_s_per_token == pytest.approx((end + 0.001) / 30)
    # pace = decode step / committed time per token = decode share of the work
    assert st.pace_ratio == pytest.approx(0.01 / ((end + 0.001) / 30))
    assert st.tail_fraction == pytest.approx(0.3)  # the last 10% of 0.901 s holds 9 ticks


def test_burst_streams_have_a_pace_near_zero() -> None:
    times, owner, end = _ticks(2, 16, prefill=0.05, step=0.02)
    honest = latency.stream_stats(0.0, times, prompts=owner, committed_at=end + 0.002)
    assert honest.pace_ratio > 0.8
    # the same work, every tick sent in one burst at the end (50 us apart)
    burst = [end + 50e-6 * i for i in range(len(times))]
    st = latency.stream_stats(0.0, burst, prompts=owner, committed_at=burst[-1] + 0.001)
    assert st.pace_ratio < 0.01 and st.tail_fraction == 1.0
    # the first token streamed honestly, the rest in a burst: the central gaps still give it away
    first_honest = [times[0]] + [end + 50e-6 * i for i in range(1, len(times))]
    st = latency.stream_stats(0.0, first_honest, prompts=owner, committed_at=end + 0.01)
    assert st.pace_ratio < 0.01
    # each prompt generated, then its ticks sent at once
    per_prompt = []
    for p in range(2):
        done = (p + 1) * (0.05 + 16 * 0.02)
        per_prompt += [done + 50e-6 * i for i in range(16)]
    st = latency.stream_stats(0.0, per_prompt, prompts=owner, committed_at=per_prompt[-1] + 0.001)
    assert st.pace_ratio < 0.01


def test_stream_pace_is_net_of_rtt_and_unmeasurable_when_short() -> None:
    times, owner, end = _ticks(1, 8, prefill=0.05, step=0.01, start=0.1)
    with_rtt = latency.stream_stats(0.0, times, latency.rtt_stats([0.1]), prompts=owner, committed_at=end)
    assert with_rtt.commit_s_per_token == pytest.approx((end - 0.1) / 8)
    assert with_rtt.ttft_net_s == pytest.approx(with_rtt.ttft_s - 0.1)
    # no commit time, or prompts of <= 3 tokens: no pace (nan), not a verdict
    assert math.isnan(latency.stream_stats(0.0, times).pace_ratio)
    short = latency.stream_stats(0.0, [0.1, 0.2, 0.3], committed_at=0.4)
    assert math.isnan(short.pace_ratio) and short.central_gaps == 0
    with pytest.raises(ValueError):
        latency.stream_stats(0.0, times, prompts=owner[:-1])
    with pytest.raises(ValueError):
        latency.stream_stats(0.0, times, committed_at=times[-1] - 0.01)
    assert latency.stream_stats(0.0, []).tokens == 0
