"""Attacks on the compute challenge's stated property, on the DEFAULT plan sizes.

The property (poai/challenges/compute/__init__.py): whatever a node commits, if its tiles are right on a fraction w
of their 4-column groups (at most the fraction of the work it did), it passes m = 64 distinct openings with
probability at most w^m (`compute.survival_bound`); for nodes whose tiles are wholly right or wholly
wrong the pass probability is exactly hypergeometric (`compute.survival_probability`).

The spec is the one the challenger's `standard` plan gives an honest CPU claim on a machine of this kind
(Budget.from_claim(Claim("cpu", "", 256 MiB, 0.1)): n = 2048, 12 steps, 32 x 64 tiles, 24576 leaves, 64
openings, 2 of the 16 column groups of each tile checked). Each attack runs as the real node strategy of
poai/node/adversarial.py and is verified by the real verifier; survival statistics are measured on the
verifier itself: one commitment, then many opening draws (the real `verify` on a few hundred, the
verifier's per-tile decision or the opened set on thousands), compared with the bound with a binomial
margin of 5 standard deviations.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from poai import kinds
from poai.challenges import compute
from poai.challenges.common import Budget, Claim, numpy_rng, rng_sample
from poai.kinds import ChallengeState
from poai.node import adversarial as adv

CLAIM_TFLOPS = 0.1  # an honest figure for a 2-core CPU of this kind (the node measures 0.08-0.18 here)
REAL_DRAWS = 120  # opening draws verified by the real `verify` on one commitment
MAP_DRAWS = 20_000  # opening draws scored against the known correctness of every committed tile


@pytest.fixture(scope="module")
def budget() -> Budget:
    return Budget.from_claim(Claim("cpu", "", 256 << 20, CLAIM_TFLOPS))


@pytest.fixture()
def spec(budget: Budget) -> compute.ComputeSpec:
    return compute.make_spec(budget)


def _margin(p: float, trials: int) -> float:
    """5 binomial standard deviations (at least 5 / trials, for p near 0)."""
    return 5 * math.sqrt(max(p * (1 - p), 1.0 / trials) / trials)


def _assert_within_bound(survived: int, trials: int, bound: float, exact: float | None = None) -> None:
    rate = survived / trials
    if bound == 0.0:
        assert survived == 0, f"{survived} of {trials} passed against a bound of 0"
    assert rate <= bound + _margin(bound, trials), (rate, bound)
    if exact is not None:  # and the model behind the bound predicts the rate
        assert abs(rate - exact) <= _margin(exact, trials), (rate, exact)


def _real_draws(spec, work, commitment, wrong: np.ndarray | None, draws: int = REAL_DRAWS) -> int:
    """Fresh openings (OS entropy) on one commitment, each verified in full. When the correctness of every
    tile is known (`wrong`), the verdict must be exactly "no wrong tile opened". Returns the passes."""
    passed = 0
    for _ in range(draws):
        req = compute.choose_openings(spec, commitment)
        res = compute.verify(spec, commitment, req, work.open(req))
        if wrong is not None:
            assert res.passed == (not wrong[list(req.leaves)].any()), res.reason
        passed += res.passed
    return passed


def _map_survival(spec, wrong: np.ndarray, draws: int = MAP_DRAWS, seed: int = 0) -> int:
    """Opening draws scored against the known wrong tiles (reproducible generator: no flaky statistics)."""
    rng = np.random.default_rng(seed)
    c = compute.ComputeCommitment(bytes(32))
    return sum(not wrong[list(compute.choose_openings(spec, c, rng).leaves)].any() for _ in range(draws))


def _steps_of_leaves(spec) -> np.ndarray:
    return np.arange(spec.n_leaves) // spec.leaves_per_step + 1


def test_default_plan_sizes(spec) -> None:
    assert (spec.n, spec.steps, spec.tile_rows, spec.tile_cols, spec.openings) == (2048, 12, 32, 64, 64)
    assert spec.n_leaves == 24576 and spec.groups_per_tile == 16 and spec.checked_groups == 2
    assert compute.survival_bound(0.9, spec.openings) < 0.0012
    assert compute.survival_bound(0.5, spec.openings) < 1e-19


def test_zero_work_node_fails_every_opening(spec) -> None:
    """All-zero tiles: the old chained design let this pass ~36% of sessions (zero was a fixed point).
    Now every tile, of every step, is checked against A_k @ B_k from the seed: w = 0, bound 0."""
    work = adv.zero_work(spec)
    c = work.run()
    req = compute.choose_openings(spec, c)
    res = compute.verify(spec, c, req, work.open(req))
    assert not res.passed and res.metrics["bad_openings"] == spec.openings
    assert "is not A_" in res.reason
    # the verifier's per-tile decision on zero tiles drawn over all steps (step 1 and later alike)
    leaves = rng_sample(None, spec.n_leaves, 3000)
    zero = bytes(spec.tile_rows * spec.tile_cols)
    assert not any(compute.check_tiles(spec, leaves, [zero] * len(leaves)))
    _assert_within_bound(_real_draws(spec, work, c, np.ones(spec.n_leaves, bool), 40), 40, 0.0)


@pytest.mark.parametrize("after", ["zeros", "repeat"])
def test_stop_at_step_j_node(spec, after: str) -> None:
    """Honest for steps k < j, then zeros or the last honest result repeated. With j = K (the cheapest
    cheat to miss: it skips only the last step, w = 11/12) it passes about C(N - N/K, 64) / C(N, 64) of
    the sessions, below (11/12)^64 = 0.38%. The old design let a node stopping anywhere pass ~(1-1/K)^64
    whatever it committed after the stop (zeros too)."""
    j = spec.steps
    work = adv.stop_at_step_work(spec, stop_at=j, after=after)
    c = work.run()
    wrong = _steps_of_leaves(spec) >= j
    w = 1 - wrong.mean()
    # the real verifier's verdict is exactly "no wrong tile opened", on every draw
    _real_draws(spec, work, c, wrong)
    survived = _map_survival(spec, wrong)
    exact = compute.survival_probability(spec.n_leaves, int(wrong.sum()), spec.openings)
    _assert_within_bound(survived, MAP_DRAWS, compute.survival_bound(w, spec.openings), exact)
    assert survived > 0  # the statistic is informative: 0.38% of 20000 draws is ~70


def test_stop_at_step_j_bound_for_every_j(spec) -> None:
    """Survival against the bound for every stopping step (the map of wrong tiles is exact by
    construction: steps >= j wrong; the previous test checks the verifier agrees with such a map)."""
    steps = _steps_of_leaves(spec)
    for j in range(1, spec.steps + 1):
        wrong = steps >= j
        survived = _map_survival(spec, wrong, draws=2000, seed=j)
        w = 1 - wrong.mean()
        exact = compute.survival_probability(spec.n_leaves, int(wrong.sum()), spec.openings)
        _assert_within_bound(survived, 2000, compute.survival_bound(w, spec.openings), exact)
    # and a node stopped at step 2 fails end to end
    work = adv.stop_at_step_work(spec, stop_at=2)
    c = work.run()
    req = compute.choose_openings(spec, c)
    res = compute.verify(spec, c, req, work.open(req))
    assert not res.passed and res.metrics["bad_openings"] >= spec.openings * 0.7


def test_lazy_compute_after_commit_fails_the_merkle_check(spec) -> None:
    """Commits a random root, computes exactly the opened tiles after the reveal: the tiles are right,
    but the root does not bind them."""
    work = adv.lazy_after_commit_work(spec)
    c = work.run()
    req = compute.choose_openings(spec, c)
    op = work.open(req)
    assert all(compute.check_tiles(spec, req.leaves, op.tiles))  # the late tiles are correct...
    res = compute.verify(spec, c, req, op)
    assert not res.passed and res.metrics["bad_openings"] == spec.openings  # ...and all rejected
    assert "not in the committed tree" in res.reason
    _assert_within_bound(_real_draws(spec, work, c, None, 20), 20, 0.0)


def test_partial_node_by_tiles(spec) -> None:
    """Computes the first 90% of the rows of every step: 57 of 64 row blocks of tiles right, w = 0.89."""
    work = adv.partial_work(spec, fraction=0.9, by="rows")
    c = work.run()
    rows_done = int(spec.n * 0.9)
    row_block = (np.arange(spec.n_leaves) % spec.leaves_per_step) // spec.col_blocks
    wrong = (row_block + 1) * spec.tile_rows > rows_done
    w = 1 - wrong.mean()
    assert w == pytest.approx(57 / 64)
    _real_draws(spec, work, c, wrong)
    survived = _map_survival(spec, wrong, seed=1)
    exact = compute.survival_probability(spec.n_leaves, int(wrong.sum()), spec.openings)
    _assert_within_bound(survived, MAP_DRAWS, compute.survival_bound(w, spec.openings), exact)


def test_partial_node_by_columns(spec) -> None:
    """Computes 14 of the 16 column groups of every tile (w = 0.875): every tile is partly right. One
    opened tile passes C(14,2)/C(16,2) = 0.758 <= w of the verifier's secret column draws; 64 openings
    pass with 0.758^64 ~ 2e-8 <= 0.875^64 = 1.9e-4."""
    work = adv.partial_work(spec, fraction=0.875, by="columns")
    c = work.run()
    w = 14 / 16
    q = compute.tile_pass_probability(14, 16, spec.checked_groups)
    req = compute.choose_openings(spec, c)
    res = compute.verify(spec, c, req, work.open(req))
    assert not res.passed
    # the verifier's per-tile decision, on tiles of the one commitment, fresh secret columns each time
    leaves = rng_sample(None, spec.n_leaves, 3000)
    passes = sum(compute.check_tiles(spec, leaves, [work.tile(x) for x in leaves]))
    _assert_within_bound(passes, len(leaves), w, q)
    # full sessions with m = 4 openings on the same commitment (measurable: q^4 = 0.33 <= w^4 = 0.59)
    spec4 = dataclasses.replace(spec, openings=4)
    trials = 1500
    survived = _real_draws(spec4, work, c, None, trials)
    _assert_within_bound(survived, trials, compute.survival_bound(w, 4), q**4)


def test_random_tiles_node(spec) -> None:
    work = adv._compute_work_class(adv._random_step)(spec, "cpu")
    c = work.run()
    req = compute.choose_openings(spec, c)
    res = compute.verify(spec, c, req, work.open(req))
    assert not res.passed and res.metrics["bad_openings"] == spec.openings


def test_seed_stream_prediction_gains_nothing(spec, budget: Budget) -> None:
    """A node knows the seed. Reseeding PCG64 with it (the old challenger drew seed and openings from one
    PCG64 stream) predicts neither the opened leaves nor the checked columns."""
    m, n_leaves = spec.openings, spec.n_leaves
    expected_overlap = m * m / n_leaves  # mean overlap of two independent uniform m-subsets
    overlaps = []
    for _ in range(300):
        s = compute.make_spec(budget)  # seed from `secrets`
        c = compute.ComputeCommitment(bytes(32))
        actual = set(compute.choose_openings(s, c).leaves)
        for guess in (np.random.Generator(np.random.PCG64(int.from_bytes(s.seed, "little"))),
                      numpy_rng(s.seed), np.random.default_rng(list(s.seed))):
            overlaps.append(len(actual & set(rng_sample(guess, n_leaves, m))))
    var = expected_overlap * (1 - m / n_leaves) ** 2  # hypergeometric variance (upper bound here)
    assert abs(np.mean(overlaps) - expected_overlap) <= 5 * math.sqrt(var / len(overlaps))
    assert max(overlaps) <= 5

    # columns: a node that computes, in every tile, only the 2 groups a seeded PCG64 would check
    guess = numpy_rng(spec.seed, "columns")
    leaves = rng_sample(None, n_leaves, 1200)
    tiles = []
    for leaf in leaves:
        honest = compute.reference_tile(spec, leaf)
        tile = (honest.astype(np.int32) + 1) % spec.p  # all wrong...
        for g in guess.choice(spec.groups_per_tile, size=spec.checked_groups, replace=False):
            tile[:, 4 * g:4 * g + 4] = honest[:, 4 * g:4 * g + 4]  # ...but the predicted groups
        tiles.append(tile.astype(np.uint8))
    passes = sum(compute.check_tiles(spec, leaves, tiles))
    q = compute.tile_pass_probability(2, 16, 2)  # 1/120: as good as a blind guess
    _assert_within_bound(passes, len(leaves), 2 / 16, q)

    # the challenge kind never uses the session's generator for anything secret
    kind = kinds.get("compute")
    a = kind.make_spec(budget, np.random.default_rng(0))
    b = kind.make_spec(budget, np.random.default_rng(0))
    assert a.seed != b.seed
    state = ChallengeState(spec=a, commitment=compute.ComputeCommitment(bytes(32)))
    r1 = kind.next_request(state, np.random.default_rng(0)).request
    r2 = kind.next_request(state, np.random.default_rng(0)).request
    assert r1.leaves != r2.leaves


@pytest.mark.parametrize(
    "cls", [adv.RandomTiles, adv.StaleTiles, adv.PartialTiles, adv.ZeroWork, adv.StopAtStep,
            adv.StopAtStep.at(2, "repeat"), adv.LazyAfterCommit],
    ids=lambda c: c.__name__,
)
def test_solver_strategies_fail_on_the_lightweight_plan(cls) -> None:
    """The Solver wrappers the cheat sessions and the benchmark run build the strategies above."""
    spec = compute.make_spec(Budget.lightweight())
    work = cls(None, None, "cpu", None).make_work("compute", spec)
    c = work.run()
    req = compute.choose_openings(spec, c)
    res = compute.verify(spec, c, req, work.open(req))
    assert not res.passed, cls.__name__
