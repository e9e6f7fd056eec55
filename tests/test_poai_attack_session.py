"""Attacks on the session protocol, end to end against a real challenger on loopback, on the default
`standard` plan sizing (compute + memory; inference has its own tests): delaying messages to shrink the
measured work time, giving up once a check is sure to fail, tiny claims, rate limits, and a challenger
fault that must not strike the node.

The guarantees under test (poai/challenger/session.py): a reply faster than the node's own smallest pong
is a failed check (held-back pongs); compute work time = wall - min(session's smallest ping RTT, 10% of
the wall), so whatever a node delays, its measured work time is >= 90% of the wall time.
"""

from __future__ import annotations

import re

import pytest

from edge_sdk.identity import NodeKey
from poai import kinds
from poai.challenger import ChallengerConfig
from poai.challenger.background import BackgroundChallenger
from poai.claim import NodeClaim
from poai.node import Solver
from poai.node import adversarial_protocol as advp
from poai.node.local import run_local_sessions

# Under this machine's real speed (so the work fits its deadline), above the standard plan's floors.
CLAIM = NodeClaim("cpu", "test cpu", 64 << 20, 0.01, (), "test")


@pytest.fixture(scope="module")
def standard(tmp_path_factory) -> BackgroundChallenger:
    db = tmp_path_factory.mktemp("attack-session") / "poai.sqlite"
    ch = BackgroundChallenger(
        ChallengerConfig(port=0, metrics_port=None, db=str(db), plan="standard:compute,memory")
    )
    ch.start()
    yield ch
    ch.stop()


def _run(ch: BackgroundChallenger, solver: Solver, sessions: int = 1):
    return run_local_sessions(ch, solver, sessions)


def _solver(cls=Solver, claim: NodeClaim = CLAIM) -> Solver:
    return cls(NodeKey.generate(), claim, "cpu", None)


def _check(record, name: str):
    return next(c for c in record.checks if c.name == name)


def test_honest_node_passes_and_its_capacity_is_recorded(standard) -> None:
    (outcome,), history = _run(standard, _solver())
    assert outcome.ok and not history[0].strike, outcome.reasons
    assert history[0].status == "ok"
    cap = history[0].capacity
    assert cap["matmul_tops"] > 0 and cap["verified_memory_bytes"] >= 32 << 20 and "rtt_ms" in cap


def test_delayed_pongs_are_caught(standard) -> None:
    """Every pong held back while the work is answered at full speed: replies come back faster than any
    pong, which no honest node can do: a failed check and a strike."""
    (outcome,), history = _run(standard, _solver(advp.DelayPongs))
    assert history[0].strike and history[0].status == "failed_check"
    assert "faster than any of its pongs" in " ".join(history[0].reasons)
    compute = _check(history[0], "compute")
    # and the cap held: at most 10% of the wall time subtracted (equal at the cap, up to float rounding)
    assert compute.metrics["node_seconds"] >= 0.9 * compute.metrics["wall_seconds"] * (1 - 1e-9)


def test_pongs_delayed_only_near_the_work_gain_nothing_and_are_flagged(standard) -> None:
    """The first round answered at once, later pongs held back: the session's smallest RTT comes from the
    first round, so nothing of the delay is subtracted; the slow rounds are flagged as spikes."""
    (outcome,), history = _run(standard, _solver(advp.DelayPongsAroundWork))
    compute = _check(history[0], "compute")
    assert compute.passed and compute.metrics["rtt_subtracted_ms"] < 50.0
    latency = _check(history[0], "latency")
    assert not latency.passed and "RTT spiked around a challenge" in latency.reason


def test_delaying_every_message_but_commitments_longer_than_the_work_is_caught(standard) -> None:
    """Pongs and openings held back 1 s, commitments sent at once: the compute commitment (~0.3 s of
    work at this claim) beats every pong by far more than the 25% slack."""

    class LongDelay(advp.DelayAllButCommitments):
        delay_s = 1.0

    (outcome,), history = _run(standard, _solver(LongDelay))
    assert history[0].strike and "faster than any of its pongs" in " ".join(history[0].reasons)


def test_delaying_every_message_but_commitments_cuts_at_most_ten_percent(standard) -> None:
    """A delay shorter than the work: no reply beats the pongs, and the RTT subtracted from the compute
    work is capped at 10% of its wall time, whatever the delay."""

    class ShortDelay(advp.DelayAllButCommitments):
        delay_s = 0.1

    (outcome,), history = _run(standard, _solver(ShortDelay))
    assert not history[0].strike, history[0].reasons
    m = _check(history[0], "compute").metrics
    assert m["rtt_subtracted_ms"] <= 0.1 * m["wall_seconds"] * 1e3 + 1e-6
    assert m["node_seconds"] >= 0.9 * m["wall_seconds"] - 1e-9
    assert history[0].capacity["rtt_ms"] >= 0.9 * ShortDelay.delay_s * 1e3  # the delay is reported


def test_refusing_an_opening_after_committing_is_a_strike(standard) -> None:
    (outcome,), history = _run(standard, _solver(advp.RefuseOpening))
    assert outcome.score == 0.0 and history[0].strike and history[0].status == "failed_check"
    assert re.search(r"refused_opening: node committed, then refused to open it", " ".join(history[0].reasons))


def test_partial_result_during_compute_is_recorded_as_malformed(standard) -> None:
    (outcome,), history = _run(standard, _solver(advp.PartialDuringCompute))
    assert history, "the session must be recorded"
    assert history[0].strike and "bad partial result" in " ".join(history[0].reasons)


def test_tiny_claim_is_refused_by_the_standard_plan(standard) -> None:
    tiny = NodeClaim("cpu", "test cpu", 1 << 20, 0.001, (), "test")
    (outcome,), history = _run(standard, _solver(claim=tiny))
    assert outcome.score == 0.0 and "claim too small to measure" in " ".join(outcome.reasons)
    assert history == []


def test_verifier_fault_is_recorded_without_a_strike(standard, monkeypatch) -> None:
    solver = _solver()
    (first,), _ = _run(standard, solver)
    assert first.ok

    def boom(self, state):
        raise MemoryError("reference model ran out of memory")

    monkeypatch.setattr(type(kinds.get("compute")), "verify", boom)
    (second,), history = _run(standard, solver)
    assert history[0].status == "challenger_fault" and not history[0].strike
    assert "compute verifier failed" in " ".join(history[0].reasons)
    assert history[0].smoothed_after == pytest.approx(history[1].smoothed_after)  # history untouched


def test_rate_limit_is_enforced_per_node(standard) -> None:
    cfg = standard.service.config
    old = cfg.rate_limit_sessions
    cfg.rate_limit_sessions = 2
    try:
        results, history = _run(standard, _solver(), sessions=3)
    finally:
        cfg.rate_limit_sessions = old
    assert [getattr(r, "ok", False) for r in results] == [True, True, False]
    assert "rate limited" in " ".join(results[2].reasons)
    assert len(history) == 2  # the refused session is not charged to the node
