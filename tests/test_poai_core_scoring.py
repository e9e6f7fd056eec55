"""Integrity scoring: correctness failures strike, over-claims are capped, history is smoothed."""

from __future__ import annotations

import pytest

from poai.challenges.common import CheckResult, Claim
from poai.scoring import ScoringConfig, score_session, update_history

CLAIM = Claim(device_kind="cuda", gpu_model="RTX 4090", memory_bytes=24 << 30, tflops=80.0)


def compute(tflops: float, passed: bool = True) -> CheckResult:
    return CheckResult("compute", passed, "ok" if passed else "tile mismatch", {"matmul_tops": tflops}, 0.01)


def memory(passed: bool = True) -> CheckResult:
    return CheckResult("memory", passed, "ok" if passed else "block does not follow", {}, 0.01)


def latency(rtt_ms: float, passed: bool = True) -> CheckResult:
    return CheckResult("latency", passed, "ok" if passed else "drift", {"rtt_median_ms": rtt_ms}, 0.0)


def test_honest_session_scores_one() -> None:
    s = score_session(CLAIM, [compute(79.0), memory(), latency(20.0)])
    assert s.score == pytest.approx(1.0) and not s.strike and s.passed
    assert s.reasons == ("all checks passed",)


@pytest.mark.parametrize("failing", ["compute", "memory", "inference"])
def test_failed_correctness_check_zeroes_and_strikes(failing: str) -> None:
    results = [compute(80.0, failing != "compute"), memory(failing != "memory"), latency(10.0)]
    if failing == "inference":
        results.append(CheckResult("inference", False, "argmax agreement 0.2", {}, 0.1))
    s = score_session(CLAIM, results)
    assert s.score == 0.0 and s.strike and not s.passed
    assert any(r.startswith(f"{failing} failed") for r in s.reasons)


def test_over_claim_is_capped_and_under_claim_not_rewarded() -> None:
    full = score_session(CLAIM, [compute(80.0), memory()]).score
    faster = score_session(CLAIM, [compute(200.0), memory()]).score  # did more than claimed
    half = score_session(CLAIM, [compute(40.0), memory()])
    assert full == faster == pytest.approx(1.0)
    assert half.score == pytest.approx((0.5 / 0.9) ** 2)
    assert not half.strike and "measured" in half.reasons[0]
    gross = score_session(CLAIM, [compute(8.0), memory()])  # claims a 4090, measures a laptop
    assert gross.score == 0.0 and gross.strike and "over-claim" in gross.reasons[0]
    # the score is monotone in the measured/claimed ratio
    scores = [score_session(CLAIM, [compute(t), memory()]).score for t in (25, 40, 60, 72, 80)]
    assert scores == sorted(scores)


def test_latency_is_soft_and_scales() -> None:
    slow = score_session(CLAIM, [compute(80.0), memory(), latency(525.0)])
    assert not slow.strike and slow.score == pytest.approx(0.75)
    failed = score_session(CLAIM, [compute(80.0), memory(), latency(20.0, passed=False)])
    assert not failed.strike and failed.score == pytest.approx(0.5)


def test_missing_required_check_or_timing_zeroes_without_strike() -> None:
    s = score_session(CLAIM, [memory()])
    assert s.score == 0.0 and not s.strike and "did not run" in s.reasons[0]
    untimed = CheckResult("compute", True, "ok", {}, 0.01)
    s2 = score_session(CLAIM, [untimed, memory()])
    assert s2.score == 0.0 and not s2.strike


def test_history_ema_strikes_ban_and_decay() -> None:
    cfg = ScoringConfig(ema_alpha=0.5, max_strikes=2, strike_window_s=100.0)
    good = score_session(CLAIM, [compute(80.0), memory()])
    bad = score_session(CLAIM, [compute(80.0, passed=False), memory()])
    n = update_history("n1", None, good, 0.0, [], cfg)
    assert n.smoothed == pytest.approx(0.5) and n.sessions == 1  # starts from 0: trust is earned
    n = update_history("n1", n, good, 1.0, [], cfg)
    assert n.smoothed == pytest.approx(0.75)
    n = update_history("n1", n, bad, 2.0, [], cfg)
    assert n.smoothed == pytest.approx(0.375) and n.recent_strikes == 1 and not n.banned
    n = update_history("n1", n, bad, 3.0, [2.0], cfg)
    assert n.banned and n.effective == 0.0 and n.strikes_total == 2
    # 200 s later the old strikes no longer count
    n = update_history("n1", n, good, 203.0, [2.0, 3.0], cfg)
    assert not n.banned and n.recent_strikes == 0 and n.effective > 0


def test_every_planned_stage_is_required() -> None:
    """A node that skips inference (no backend, or gives up) does not keep a full score."""
    s = score_session(CLAIM, [compute(80.0), memory()], required=("compute", "memory", "inference"))
    assert s.score == 0.0 and not s.strike and s.status == "node_fault"
    assert any("inference did not run" in r for r in s.reasons)


def test_memory_bandwidth_is_scored_against_the_claim() -> None:
    claim = Claim(device_kind="cpu", memory_bytes=1 << 30, tflops=0.05, memory_bandwidth_gbs=10.0)
    ok = CheckResult("memory", True, "ok", {"nonce_bandwidth_gbs": 9.5, "verified_bytes": 2.0**28}, 0.01)
    slow = CheckResult("memory", True, "ok", {"nonce_bandwidth_gbs": 5.0, "verified_bytes": 2.0**28}, 0.01)
    gross = CheckResult("memory", True, "ok", {"nonce_bandwidth_gbs": 1.0, "verified_bytes": 2.0**28}, 0.01)
    c = CheckResult("compute", True, "ok", {"matmul_tops": 0.05}, 0.01)
    assert score_session(claim, [c, ok]).score == pytest.approx(1.0)
    assert score_session(claim, [c, slow]).score == pytest.approx((5.0 / 10.0 / 0.9) ** 2)
    assert score_session(claim, [c, gross]).strike


def test_capacity_is_what_the_checks_proved() -> None:
    """Integrity says the answers were true; capacity says how much was proved (a tiny claim proves little)."""
    mem = CheckResult("memory", True, "ok", {"nonce_bandwidth_gbs": 9.5, "verified_bytes": 2.0**28}, 0.01)
    s = score_session(CLAIM, [compute(79.0), mem, latency(20.0)])
    assert s.capacity == {"matmul_tops": 79.0, "verified_memory_bytes": 2.0**28, "memory_bandwidth_gbs": 9.5,
                          "rtt_ms": 20.0}
    failed = score_session(CLAIM, [compute(79.0, passed=False), mem])
    assert "matmul_tops" not in failed.capacity and failed.status == "failed_check"
