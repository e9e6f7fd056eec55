"""Latency figures: RTT statistics, net time, TTFT and inter-token gaps, and the soft check."""

from __future__ import annotations

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
