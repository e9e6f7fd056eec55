"""validator.weights: win rates with a head start, EMA, winner-take-all, integrity combination.

Property checks run over seeded random inputs (no hypothesis dependency), so every run sees the same cases."""

from __future__ import annotations

import math
import random

import pytest

from validator.weights import (
    FLOCK_HEAD_START,
    WeightConfig,
    beats,
    combine,
    compute_wins,
    ema,
    integrity_factor,
    select_winner,
    weights_from_losses,
    win_rates,
    winner_take_all,
)

H = 0.04


def _random_round(rng: random.Random, n: int) -> tuple[dict[str, float], dict[str, int]]:
    losses = {f"hk{i:02d}": rng.uniform(1.5, 3.0) for i in range(n)}
    blocks = {k: rng.randint(100, 200) for k in losses}
    return losses, blocks


# ------------------------------------------------------------------------------------------------ win rates


def test_lower_loss_higher_win_rate_same_block() -> None:
    rng = random.Random(1)
    for _ in range(50):
        losses = {f"m{i}": rng.uniform(0.5, 4.0) for i in range(rng.randint(2, 12))}
        blocks = {k: 10 for k in losses}
        rates = win_rates(losses, blocks, head_start=H)
        for a in losses:
            for b in losses:
                if losses[a] < losses[b]:
                    assert rates[a] > rates[b]
        assert all(0.0 <= r <= 1.0 for r in rates.values())


def test_lower_loss_never_lower_win_rate_with_equal_blocks_and_sorted_extremes() -> None:
    # with distinct blocks the head start can reorder close losses, but the clear best beats everyone
    losses = {"a": 1.0, "b": 2.0, "c": 3.0}
    blocks = {"a": 300, "b": 200, "c": 100}  # the best one is the latest, but better by far more than 4%
    rates = win_rates(losses, blocks, head_start=H)
    assert rates == {"a": 1.0, "b": 0.5, "c": 0.0}


def test_head_start_earlier_equal_loss_wins_later_copy_loses() -> None:
    losses = {"orig": 2.0, "copy": 2.0}
    blocks = {"orig": 100, "copy": 101}
    assert win_rates(losses, blocks, head_start=H) == {"copy": 0.0, "orig": 1.0}
    assert beats(2.0, 100, 2.0, 101, H) and not beats(2.0, 101, 2.0, 100, H)


def test_later_wins_only_when_better_by_more_than_margin() -> None:
    early = 2.0
    threshold = early * (1 - H)  # 1.92
    blocks = {"early": 100, "late": 200}
    for late, later_wins in [(1.99, False), (1.93, False), (1.919, True), (1.5, True)]:
        rates = win_rates({"early": early, "late": late}, blocks, head_start=H)
        assert rates["late"] == (1.0 if later_wins else 0.0), late
        assert rates["early"] == (0.0 if later_wins else 1.0), late
    # exactly at the margin the adjusted losses are equal: a draw, a win for neither (strict <)
    assert win_rates({"early": early, "late": threshold}, blocks, head_start=H) == {"early": 0.0, "late": 0.0}
    # without a head start the plain comparison decides
    assert win_rates({"early": 2.0, "late": 1.99}, blocks, head_start=0.0)["late"] == 1.0


def test_margin_rule_matches_formula_on_random_pairs() -> None:
    rng = random.Random(2)
    for _ in range(500):
        la, lb = rng.uniform(1, 3), rng.uniform(1, 3)
        ba, bb = rng.randint(0, 5), rng.randint(0, 5)
        h = rng.choice([0.0, 0.005, 0.04, 0.2])
        a_adj = la * (1 - h) if ba < bb else la
        b_adj = lb * (1 - h) if bb < ba else lb
        assert beats(la, ba, lb, bb, h) == (a_adj < b_adj)
        assert not (beats(la, ba, lb, bb, h) and beats(lb, bb, la, ba, h))


def test_head_start_still_favours_the_earlier_miner_for_a_negative_loss() -> None:
    assert beats(-1.0, 1, -1.0, 2, H) and not beats(-1.0, 2, -1.0, 1, H)
    assert beats(-1.05, 2, -1.0, 1, H)  # later, better by more than 4% of |loss|


def test_same_block_equal_loss_is_a_draw_for_both() -> None:
    rates = win_rates({"a": 2.0, "b": 2.0, "c": 3.0}, {"a": 5, "b": 5, "c": 5}, head_start=H)
    assert rates == {"a": 0.5, "b": 0.5, "c": 0.0}


def test_win_rate_denominator_is_all_others_and_nan_loses_to_everyone() -> None:
    losses = {"a": 2.0, "b": float("nan"), "c": float("inf"), "d": 2.5}
    blocks = {"a": 1, "b": 0, "c": 0, "d": 2}
    wins, rates = compute_wins(losses, blocks, H)
    assert wins == {"a": 3, "b": 0, "c": 0, "d": 2}
    assert rates == {"a": 1.0, "b": 0.0, "c": 0.0, "d": pytest.approx(2 / 3)}


def test_single_and_empty_and_missing_block() -> None:
    assert win_rates({}, {}) == {}
    assert win_rates({"a": 1.0}, {}) == {"a": 1.0}
    assert win_rates({"a": float("nan")}, {}) == {"a": 0.0}
    # a miner without a commitment block never has the head start
    assert win_rates({"a": 2.0, "b": 2.0}, {"a": 7}, head_start=H) == {"a": 1.0, "b": 0.0}


def test_head_start_validation() -> None:
    with pytest.raises(ValueError):
        win_rates({"a": 1.0}, {}, head_start=1.0)
    with pytest.raises(ValueError):
        win_rates({"a": 1.0}, {}, head_start=-0.1)


def test_default_head_start_is_flock() -> None:
    assert FLOCK_HEAD_START == 0.04
    assert win_rates({"e": 2.0, "l": 1.95}, {"e": 1, "l": 2}) == {"e": 1.0, "l": 0.0}


# ------------------------------------------------------------------------------------------------ EMA


def test_ema_converges_to_constant_and_stays_in_unit_interval() -> None:
    rng = random.Random(3)
    for alpha in (0.1, 0.2, 0.5, 1.0):
        state: dict[str, float] = {"x": rng.random(), "y": 1.0, "z": 0.0}
        target = {"x": 0.3, "y": 0.0, "z": 1.0}
        for _ in range(400):
            state = ema(state, target, alpha)
            assert all(0.0 <= v <= 1.0 for v in state.values())
        assert state == pytest.approx(target, abs=1e-9)


def test_ema_random_inputs_stay_in_unit_interval() -> None:
    rng = random.Random(4)
    state: dict[str, float] = {}
    for _ in range(200):
        current = {f"m{i}": rng.choice([rng.random(), 0.0, 1.0, float("nan"), 5.0, -1.0])
                   for i in range(rng.randint(0, 6))}
        state = ema(state, current, 0.3)
        assert all(0.0 <= v <= 1.0 for v in state.values())


def test_ema_missing_decays_and_new_starts_from_alpha_times_current() -> None:
    out = ema({"old": 0.8}, {"new": 0.5}, alpha=0.1)
    assert out == {"new": pytest.approx(0.05), "old": pytest.approx(0.72)}
    assert ema({"old": 1e-7}, {}, alpha=0.5, drop_below=1e-6) == {}
    assert ema({"old": 1e-7}, {}, alpha=0.5) == {"old": pytest.approx(5e-8)}
    with pytest.raises(ValueError):
        ema({}, {}, alpha=0.0)


# ------------------------------------------------------------------------------------------------ WTA


def test_wta_all_weight_to_best_earliest_among_ties() -> None:
    scores = {"a": 0.9, "b": 0.9, "c": 0.5, "d": 0.0}
    blocks = {"a": 200, "b": 100, "c": 50, "d": 1}
    assert winner_take_all(scores, blocks, top_k=1) == {"a": 0.0, "b": 1.0, "c": 0.0, "d": 0.0}
    # 5% of 4 miners -> a band of 1 (FLock: max(int(n * 0.05), 1))
    assert select_winner(scores, blocks) == "b"
    # a larger band: the earliest commitment in it wins even with a lower score (FLock's select_winner)
    assert select_winner(scores, blocks, top_k=3) == "c"
    assert select_winner(scores, blocks, top_fraction=0.05, population=60) == "c"  # int(60*0.05) = 3
    # identical score and block: hotkey order decides, deterministically
    assert select_winner({"y": 1.0, "x": 1.0}, {"x": 1, "y": 1}, top_k=1) == "x"


def test_wta_nobody_when_all_zero_and_respects_eligible() -> None:
    assert winner_take_all({"a": 0.0, "b": float("nan")}, {}) == {"a": 0.0, "b": 0.0}
    assert select_winner({"a": 0.9, "b": 0.5}, {}, top_k=1, eligible={"b"}) == "b"


# ------------------------------------------------------------------------------------------------ combine


def test_gate_zeroes_low_integrity() -> None:
    w = combine({"a": 0.6, "b": 0.4}, {"a": 0.49, "b": 0.5}, mode="gate", gate_threshold=0.5)
    assert w == {"a": 0.0, "b": 1.0}
    # the gate does not scale: both pass -> proportional to scores
    w = combine({"a": 0.6, "b": 0.4}, {"a": 0.5, "b": 1.0}, mode="gate")
    assert w == pytest.approx({"a": 0.6, "b": 0.4})


def test_multiplier_scales() -> None:
    w = combine({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": 0.25}, mode="multiplier")
    assert w == pytest.approx({"a": 0.8, "b": 0.2})
    # "both" gates first, then scales
    w = combine({"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 1.0, "b": 0.6, "c": 0.4}, mode="both")
    assert w == pytest.approx({"a": 1 / 1.6, "b": 0.6 / 1.6, "c": 0.0})
    assert integrity_factor(0.7, "both", 0.5) == 0.7 and integrity_factor(0.4, "both", 0.5) == 0.0


def test_missing_integrity_is_zero_and_failed_is_exactly_zero() -> None:
    w = combine({"a": 1.0, "b": 0.1, "c": 0.1}, {"a": 1.0, "b": 1.0}, mode="multiplier", failed={"a"})
    assert w["a"] == 0.0 and w["c"] == 0.0 and w["b"] == 1.0


def test_all_zero_gives_all_zero() -> None:
    assert combine({"a": 0.0, "b": 0.0}, {"a": 1.0, "b": 1.0}) == {"a": 0.0, "b": 0.0}
    assert combine({"a": 1.0}, {"a": 1.0}, failed={"a"}) == {"a": 0.0}
    assert combine({}, {}) == {}


def test_capacity_blend_formula() -> None:
    scores = {"a": 0.5, "b": 0.5, "c": 0.0}
    integ = {"a": 1.0, "b": 1.0, "c": 1.0}
    cap = {"a": 3.0, "b": 1.0, "c": 100.0}  # c has capacity but no score: earns nothing
    w = combine(scores, integ, mode="gate", capacity=cap, capacity_weight=0.5)
    assert w == pytest.approx({"a": 0.5 * 0.5 + 0.5 * 0.75, "b": 0.5 * 0.5 + 0.5 * 0.25, "c": 0.0})
    assert combine(scores, integ, capacity=cap, capacity_weight=0.0) == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
    with pytest.raises(ValueError):
        combine(scores, integ, capacity_weight=1.5)
    with pytest.raises(ValueError):
        combine(scores, integ, mode="bogus")  # type: ignore[arg-type]


def test_combine_sums_to_one_random() -> None:
    rng = random.Random(5)
    for _ in range(300):
        keys = [f"m{i}" for i in range(rng.randint(0, 10))]
        scores = {k: rng.choice([0.0, rng.random(), float("nan")]) for k in keys}
        integ = {k: rng.random() for k in keys if rng.random() < 0.8}
        failed = {k for k in keys if rng.random() < 0.2}
        cap = {k: rng.uniform(0, 10) for k in keys}
        mode = rng.choice(["gate", "multiplier", "both"])
        w = combine(scores, integ, mode=mode, failed=failed, capacity=cap, capacity_weight=rng.random())
        total = math.fsum(w.values())
        assert total == pytest.approx(1.0) or total == 0.0
        assert all(v >= 0.0 for v in w.values())
        assert all(w[k] == 0.0 for k in failed)


# ------------------------------------------------------------------------------------------------ chain


def _full_integrity(keys) -> dict[str, float]:
    return {k: 1.0 for k in keys}


def test_chain_weights_sum_to_one_and_nan_gets_zero() -> None:
    rng = random.Random(6)
    ema_state: dict[str, float] = {}
    for rnd in range(30):
        losses, blocks = _random_round(rng, rng.randint(1, 12))
        nan_key = next(iter(losses))
        losses[nan_key] = float("nan")
        integ = {k: rng.uniform(0.3, 1.0) for k in losses}
        failed = {k for k in losses if rng.random() < 0.1}
        cfg = WeightConfig(mode=rng.choice(["gate", "multiplier", "both"]), winner_take_all=rnd % 2 == 0)
        weights, ema_state, details = weights_from_losses(losses, blocks, ema_state, integ, failed, cfg)
        total = math.fsum(weights.values())
        assert total == pytest.approx(1.0) or total == 0.0
        assert weights[nan_key] == 0.0
        assert details[nan_key].reason in ("invalid_loss", "failed_poai")
        assert all(weights[k] == 0.0 for k in failed)
        assert all(0.0 <= v <= 1.0 for v in ema_state.values())
        assert set(weights) == set(ema_state) == set(details)


def test_chain_failed_is_exactly_zero_even_with_best_loss() -> None:
    losses = {"best": 1.0, "mid": 2.0, "worst": 3.0}
    blocks = {"best": 1, "mid": 2, "worst": 3}
    for wta in (False, True):
        cfg = WeightConfig(mode="multiplier", winner_take_all=wta, top_k=1)
        weights, new_ema, details = weights_from_losses(losses, blocks, {}, _full_integrity(losses), {"best"}, cfg)
        assert weights["best"] == 0.0
        assert details["best"].reason == "failed_poai" and details["best"].failed
        assert math.fsum(weights.values()) == pytest.approx(1.0)
        # the failed node takes no wins from the others: "mid" beats everyone left in the pool
        assert details["mid"].win_rate == 1.0
        if wta:
            assert weights == {"best": 0.0, "mid": 1.0, "worst": 0.0}
            assert details["worst"].reason == "not_winner"


def test_chain_wta_gives_all_to_best_and_earliest_among_equal() -> None:
    losses = {"copy": 2.0, "orig": 2.0, "bad": 3.0}
    blocks = {"copy": 50, "orig": 10, "bad": 1}
    cfg = WeightConfig(winner_take_all=True, top_k=1, mode="gate")
    weights, _, details = weights_from_losses(losses, blocks, {}, _full_integrity(losses), set(), cfg)
    assert weights == {"bad": 0.0, "copy": 0.0, "orig": 1.0}
    assert details["orig"].wta_winner is True and details["orig"].reason is None


def test_chain_gate_zeroes_low_integrity_and_reports_why() -> None:
    losses = {"a": 1.0, "b": 2.0, "c": 2.5}
    blocks = {"a": 1, "b": 2, "c": 3}
    cfg = WeightConfig(mode="gate", gate_threshold=0.5)
    weights, _, details = weights_from_losses(losses, blocks, {}, {"a": 0.2, "b": 0.9}, set(), cfg)
    assert weights["a"] == 0.0 and details["a"].reason == "integrity_below_gate"
    assert weights["c"] == 0.0 and details["c"].reason == "no_integrity"
    assert weights["b"] == 1.0
    assert details["a"].win_rate == 1.0 and details["a"].ema == pytest.approx(0.1)


def test_chain_ema_over_rounds_and_unevaluated_decay() -> None:
    losses = {"a": 1.0, "b": 2.0}
    blocks = {"a": 1, "b": 2}
    state: dict[str, float] = {}
    cfg = WeightConfig(alpha=0.2)
    for _ in range(200):
        _, state, _ = weights_from_losses(losses, blocks, state, _full_integrity(losses), set(), cfg)
    assert state == pytest.approx({"a": 1.0, "b": 0.0}, abs=1e-9)
    weights, state2, details = weights_from_losses({"b": 2.0}, blocks, state, _full_integrity(losses), set(), cfg)
    assert state2["a"] == pytest.approx(0.8) and details["a"].evaluated is False and details["a"].loss is None
    assert state2["b"] == pytest.approx(0.2)  # alone in the round: win rate 1 (SN9's no-match default)
    assert weights == pytest.approx({"a": 0.8, "b": 0.2})


def test_chain_previous_good_ema_still_zero_on_nan_this_round() -> None:
    cfg = WeightConfig(mode="gate")
    weights, state, details = weights_from_losses(
        {"a": float("nan"), "b": 2.0}, {"a": 1, "b": 2}, {"a": 1.0, "b": 0.1}, {"a": 1.0, "b": 1.0}, set(), cfg)
    assert weights == {"a": 0.0, "b": 1.0}
    assert state["a"] == pytest.approx(0.9)  # the EMA itself only decays
    assert details["a"].reason == "invalid_loss"


def test_chain_all_zero() -> None:
    weights, _, details = weights_from_losses({"a": float("nan")}, {}, {}, {"a": 1.0}, set(), WeightConfig())
    assert weights == {"a": 0.0}
    weights, _, details = weights_from_losses({"a": 1.0, "b": 2.0}, {}, {}, {}, set(), WeightConfig())
    assert weights == {"a": 0.0, "b": 0.0}
    assert {d.reason for d in details.values()} == {"no_integrity"}


def test_deterministic_and_order_independent() -> None:
    rng = random.Random(7)
    losses, blocks = _random_round(rng, 15)
    losses["hk03"] = losses["hk04"]  # a tie
    blocks["hk03"] = blocks["hk04"]
    integ = {k: rng.random() for k in losses}
    prev = {k: rng.random() for k in list(losses)[:5]}
    cfg = WeightConfig(mode="both", winner_take_all=True, top_fraction=0.2, capacity_weight=0.3)
    cap = {k: rng.uniform(1, 5) for k in losses}
    first = weights_from_losses(losses, blocks, prev, integ, {"hk01"}, cfg, capacity=cap)
    rev = dict(reversed(list(losses.items())))
    second = weights_from_losses(rev, dict(reversed(list(blocks.items()))), prev, integ, {"hk01"}, cfg, capacity=cap)
    assert first[0] == second[0] and first[1] == second[1]
    assert {k: v.to_dict() for k, v in first[2].items()} == {k: v.to_dict() for k, v in second[2].items()}
    assert list(first[0]) == sorted(first[0])


def test_config_validation() -> None:
    for bad in (dict(mode="x"), dict(alpha=0.0), dict(head_start=1.0), dict(top_fraction=0.0), dict(top_k=0),
                dict(capacity_weight=-0.1), dict(gate_threshold=2.0)):
        with pytest.raises(ValueError):
            WeightConfig(**bad)  # type: ignore[arg-type]
