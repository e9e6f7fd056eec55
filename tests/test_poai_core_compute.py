"""Compute challenge: honest nodes pass bit-exactly, the wire messages have the agreed shape, the stated
bound is what the functions compute, and the verifier's cost stays a small fraction of the node's work.

The attacks on the default plan (zero work, stop at step j, lazy, partial, seed prediction) are in
tests/test_poai_attack_compute.py."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

import numpy as np
import pytest
import torch

from poai.challenges import compute
from poai.challenges.common import Budget, ChallengeError
from poai.merkle import MerkleTree


def small_budget(**kw) -> Budget:
    base = dict(compute_n=128, compute_steps=3, compute_tile_rows=16, compute_tile_cols=16,
                compute_openings=64)
    base.update(kw)
    return dataclasses.replace(Budget.lightweight(), **base)


def run_session(spec, work, rng=None):
    commitment = work.run()
    request = compute.choose_openings(spec, commitment, rng)
    opening = work.open(request)
    return compute.verify(spec, commitment, request, opening, node_seconds=0.5, rng=rng)


def reference_outputs(spec: compute.ComputeSpec) -> list[np.ndarray]:
    """Plain int64 numpy, no floats anywhere: the ground truth the fp32 path must match bit for bit."""
    outs = []
    for k in range(1, spec.steps + 1):
        a = compute.gen_rows(spec, "a", k, 0, spec.n).astype(np.int64)
        b = compute.gen_rows(spec, "b", k, 0, spec.n).astype(np.int64)
        outs.append(((a @ b) % spec.p).astype(np.uint8))
    return outs


def test_wire_messages_have_the_agreed_fields() -> None:
    """The typed .proto messages mirror these, field for field and in this order."""
    names = {cls: [f.name for f in dataclasses.fields(cls)] for cls in (
        compute.ComputeSpec, compute.ComputeCommitment, compute.ComputeRequest, compute.ComputeOpening)}
    assert names[compute.ComputeSpec] == ["seed", "n", "steps", "p", "tile_rows", "tile_cols", "openings",
                                          "claimed_tflops"]
    assert names[compute.ComputeCommitment] == ["root"]
    assert names[compute.ComputeRequest] == ["leaves"]
    assert names[compute.ComputeOpening] == ["tiles", "tile_proofs"]


def test_prime_choice_keeps_fp32_exact() -> None:
    for n in (128, 1024, 4096, 16384, 32768):
        p = compute.choose_prime(n)
        assert n * (p - 1) ** 2 < 2**24 and p < 256
    assert compute.choose_prime(1024) == 127
    assert compute.choose_prime(16384) == 31
    assert compute.choose_prime(16) == 251  # the largest: every input is < 256, exact in bf16/fp16/tf32/uint8


def test_inputs_are_exact_in_low_precision_formats() -> None:
    """What the module doc says about precision: every possible entry survives bf16 and fp16, and a
    bf16 x bf16 product accumulated in fp32 is exact at the largest n for a prime."""
    entries = torch.arange(0, 252, dtype=torch.float32)
    for dtype in (torch.bfloat16, torch.float16):
        assert torch.equal(entries.to(dtype).to(torch.float32), entries)
    spec = compute.make_spec(small_budget(), np.random.default_rng(0))
    a = compute.gen_matrix_torch(spec, "a", 1, torch.device("cpu"))
    b = compute.gen_matrix_torch(spec, "b", 1, torch.device("cpu"))
    via_bf16 = torch.matmul(a.to(torch.bfloat16).to(torch.float32), b.to(torch.bfloat16).to(torch.float32))
    assert np.array_equal(torch.fmod(via_bf16, spec.p).to(torch.uint8).numpy(), reference_outputs(spec)[0])


def test_generation_rows_cols_and_torch_kernel_agree() -> None:
    spec = compute.make_spec(small_budget(), np.random.default_rng(3))
    full = compute.gen_rows(spec, "b", 2, 0, spec.n)
    assert full.max() < spec.p and full.dtype == np.uint8
    assert np.array_equal(compute.gen_rows(spec, "b", 2, 16, 48), full[16:48])
    assert np.array_equal(compute.gen_cols(spec, "b", 2, 32, 48), full[:, 32:48])
    # the int64 kernel used on CUDA gives the same matrix (run here on the CPU device)
    for which in ("a", "b"):
        via_torch = compute.gen_matrix_torch(spec, which, 2, torch.device("cpu"), kernel="torch")
        assert np.array_equal(via_torch.numpy().astype(np.uint8), compute.gen_rows(spec, which, 2, 0, spec.n))
    # A_k and B_k, and different steps, are different matrices
    assert not np.array_equal(compute.gen_rows(spec, "a", 2, 0, 16), full[:16])
    assert not np.array_equal(compute.gen_rows(spec, "b", 1, 0, 16), full[:16])
    with pytest.raises(ValueError):
        compute.gen_rows(spec, "x", 1, 0, 16)


def test_honest_node_passes_and_matches_integer_reference() -> None:
    rng = np.random.default_rng(0)
    spec = compute.make_spec(small_budget(), rng)
    work = compute.NodeWork(spec, "cpu")
    res = run_session(spec, work, rng)
    assert res.passed, res.reason
    for got, want in zip(work.outputs, reference_outputs(spec)):
        assert np.array_equal(got, want)
    for leaf in (0, 17, spec.n_leaves - 1):
        assert compute.reference_tile(spec, leaf).tobytes() == work.tile(leaf)
    m = res.metrics
    assert m["openings"] == 64 and m["bad_openings"] == 0
    assert m["bytes_opened"] > 0 and m["verify_seconds"] > 0
    assert m["node_seconds"] == 0.5 and m["matmul_tops"] == pytest.approx(spec.flops / 0.5 / 1e12)
    assert m["matmul_tops_ratio"] == pytest.approx(m["matmul_tops"] / spec.claimed_tflops)
    assert "verify_node_ratio" in m and "tflops" not in m and "tflops_ratio" not in m


def test_defaults_draw_from_os_entropy() -> None:
    """No generator argument: seeds, openings and checked columns differ from call to call."""
    budget = small_budget()
    seeds = {compute.make_spec(budget).seed for _ in range(8)}
    assert len(seeds) == 8
    spec = compute.make_spec(budget)
    c = compute.ComputeCommitment(bytes(32))
    draws = {compute.choose_openings(spec, c).leaves for _ in range(8)}
    assert len(draws) == 8


def test_checked_columns_are_secret_and_vary() -> None:
    """A tile right on exactly one 4-column group in the tile's 4: it passes only when both checked groups
    fall there (impossible: G = 2 distinct groups), so it always fails; a tile right on 3 of 4 groups passes
    C(3,2)/C(4,2) = 1/2 of the draws, with the verifier's own OS entropy."""
    spec = compute.make_spec(small_budget(), np.random.default_rng(5))
    leaf = 7
    good = compute.reference_tile(spec, leaf)
    assert spec.groups_per_tile == 4 and spec.checked_groups == 2
    one_right = good.copy()
    one_right[:, 4:] = (one_right[:, 4:].astype(int) + 1) % spec.p
    three_right = good.copy()
    three_right[:, 12:] = (three_right[:, 12:].astype(int) + 1) % spec.p
    trials = 1200
    assert not any(compute.check_tiles(spec, [leaf] * 64, [one_right] * 64))
    passed = sum(compute.check_tiles(spec, [leaf] * trials, [three_right] * trials))
    q = compute.tile_pass_probability(3, 4, 2)
    assert q == 0.5
    assert abs(passed / trials - q) < 5 * math.sqrt(q * (1 - q) / trials)


class FakeFractionNode(compute.NodeWork):
    """Computes every tile but writes random values into a fraction of them (a wholly-wrong-tile node)."""

    def __init__(self, spec, fraction: float, seed: int = 7) -> None:
        super().__init__(spec, "cpu")
        self.fraction = fraction
        self.rng = np.random.default_rng(seed)
        self.faked: set[int] = set()

    def _step(self, k, a, b):
        y = super()._step(k, a, b)
        s = self.spec
        for leaf in range(s.leaf_index(k, 0, 0), s.leaf_index(k, 0, 0) + s.leaves_per_step):
            if self.rng.random() < self.fraction:
                _, i, j = s.tile_of(leaf)
                rows = slice(i * s.tile_rows, (i + 1) * s.tile_rows)
                cols = slice(j * s.tile_cols, (j + 1) * s.tile_cols)
                y[rows, cols] = torch.from_numpy(
                    self.rng.integers(0, s.p, (s.tile_rows, s.tile_cols)).astype(np.float32))
                self.faked.add(leaf)
        return y


def test_faked_ten_percent_of_tiles_is_caught() -> None:
    rng = np.random.default_rng(1)
    spec = compute.make_spec(small_budget(compute_steps=4), rng)  # 256 leaves, 64 openings
    node = FakeFractionNode(spec, 0.10)
    res = run_session(spec, node, rng)
    assert not res.passed
    assert "is not A_" in res.reason
    assert res.metrics["bad_openings"] >= 1


def test_detection_rate_matches_hypergeometric() -> None:
    """Wholly wrong tiles are caught exactly when opened: the pass rate over fresh openings is the
    hypergeometric `survival_probability`, below `survival_bound`."""
    rng = np.random.default_rng(2)
    spec = compute.make_spec(small_budget(compute_steps=2, compute_openings=8), rng)
    node = FakeFractionNode(spec, 0.10, seed=3)
    commitment = node.run()
    faked = len(node.faked)
    assert faked > 0
    trials, passed = 200, 0
    for _ in range(trials):
        req = compute.choose_openings(spec, commitment)
        hit = any(leaf in node.faked for leaf in req.leaves)
        res = compute.verify(spec, commitment, req, node.open(req))
        assert res.passed == (not hit), res.reason  # caught exactly when a faked tile is opened
        passed += res.passed
    exact = compute.survival_probability(spec.n_leaves, faked, spec.openings)
    assert exact <= compute.survival_bound(1 - faked / spec.n_leaves, spec.openings)
    assert abs(passed / trials - exact) < 5 * math.sqrt(exact * (1 - exact) / trials)


def test_bound_numbers_in_the_module_doc() -> None:
    assert compute.survival_bound(0.9, 64) == pytest.approx(0.00118, rel=0.01)
    assert compute.survival_bound(0.5, 64) == pytest.approx(5.42e-20, rel=0.01)
    assert compute.survival_bound(0.95, 64) == pytest.approx(0.0375, rel=0.01)
    assert compute.survival_bound(1.0, 64) == 1.0 and compute.survival_bound(0.0, 64) == 0.0
    d = compute.make_spec(Budget.default())
    assert d.openings == 64
    assert compute.survival_probability(d.n_leaves, d.n_leaves // 10, 64) < compute.survival_bound(0.9, 64)
    for g, big_g in ((8, 2), (16, 2), (4, 1)):
        for a in range(g + 1):
            q = compute.tile_pass_probability(a, g, big_g)
            assert q <= (a / g) ** big_g + 1e-12 <= a / g + 1e-12


def _elementary_symmetric(q: np.ndarray, m: int) -> float:
    e = np.zeros(m + 1)
    e[0] = 1.0
    for x in q:
        e[1:] = e[1:] + x * e[:-1]
    return float(e[m])


def test_sampling_without_replacement_bound_holds_for_any_spread() -> None:
    """The proof's step P(pass) = e_m(q) / C(N, m) <= mean(q)^m (Maclaurin), checked on adversarial spreads
    of per-tile pass probabilities, and against brute force on a tiny case."""
    rng = np.random.default_rng(11)
    for n_leaves, m in ((20, 5), (64, 16), (300, 64)):
        for _ in range(50):
            q = rng.random(n_leaves) ** rng.uniform(0.1, 5)
            q[rng.random(n_leaves) < rng.random()] = 0.0  # some tiles all wrong
            q[rng.random(n_leaves) < rng.random()] = 1.0  # some all right
            exact = _elementary_symmetric(q, m) / math.comb(n_leaves, m)
            assert exact <= compute.survival_bound(q.mean(), m) * (1 + 1e-9)
    q = rng.random(10)
    brute = np.mean([np.prod(q[list(s)]) for s in itertools.combinations(range(10), 4)])
    assert brute == pytest.approx(_elementary_symmetric(q, 4) / math.comb(10, 4))


class RandomTilesNode(compute.NodeWork):
    def _step(self, k, a, b):
        return torch.randint(0, self.spec.p, a.shape).to(torch.float32)


def test_random_tiles_fail() -> None:
    spec = compute.make_spec(small_budget())
    res = run_session(spec, RandomTilesNode(spec, "cpu"))
    assert not res.passed and res.metrics["bad_openings"] >= 60


class PartialTilesNode(compute.NodeWork):
    """Computes every tile but only its first half of columns; the rest is left at zero."""

    def _step(self, k, a, b):
        y = super()._step(k, a, b)
        s = self.spec
        y = y.reshape(s.n, s.col_blocks, s.tile_cols)
        y[:, :, s.tile_cols // 2:] = 0
        return y.reshape(s.n, s.n)


def test_partly_computed_tiles_fail() -> None:
    spec = compute.make_spec(small_budget())
    res = run_session(spec, PartialTilesNode(spec, "cpu"))
    # an opening passes only when both checked groups fall in the computed half: C(2,2)/C(4,2) = 1 in 6
    assert not res.passed and res.metrics["bad_openings"] >= 40


def test_stale_result_from_another_seed_fails() -> None:
    rng = np.random.default_rng(5)
    old_spec = compute.make_spec(small_budget(), rng)
    new_spec = dataclasses.replace(old_spec, seed=bytes(32))
    stale = compute.NodeWork(old_spec, "cpu")  # did the work for an earlier challenge
    commitment = stale.run()
    req = compute.choose_openings(new_spec, commitment)
    res = compute.verify(new_spec, commitment, req, stale.open(req))
    assert not res.passed and res.metrics["bad_openings"] == len(req.leaves)


def test_commit_garbage_then_compute_on_demand_fails() -> None:
    """A node that commits before doing the work cannot open tiles consistent with its root."""
    spec = compute.make_spec(small_budget())
    honest = compute.NodeWork(spec, "cpu")
    honest.run()
    lazy = compute.NodeWork(spec, "cpu")
    lazy.outputs = honest.outputs
    lazy.tree = MerkleTree([b"garbage"] * spec.n_leaves)
    commitment = compute.ComputeCommitment(root=lazy.tree.root)
    req = compute.choose_openings(spec, commitment)
    res = compute.verify(spec, commitment, req, lazy.open(req))
    assert not res.passed and "not in the committed tree" in res.reason
    assert res.metrics["bad_openings"] == len(req.leaves)


def test_malformed_openings_fail_cleanly() -> None:
    spec = compute.make_spec(small_budget())
    work = compute.NodeWork(spec, "cpu")
    c = work.run()
    req = compute.choose_openings(spec, c)
    op = work.open(req)
    short = dataclasses.replace(op, tiles=op.tiles[:-1])
    assert not compute.verify(spec, c, req, short).passed
    bad_proof = dataclasses.replace(op, tile_proofs=(b"\x00" * 5,) + op.tile_proofs[1:])
    assert not compute.verify(spec, c, req, bad_proof).passed
    big = dataclasses.replace(op, tiles=(bytes([255]) * len(op.tiles[0]),) + op.tiles[1:])
    assert not compute.verify(spec, c, req, big).passed
    wrong_size = dataclasses.replace(op, tiles=(op.tiles[0][:-1],) + op.tiles[1:])
    assert "bytes, expected" in compute.verify(spec, c, req, wrong_size).reason
    repeated = compute.ComputeRequest(leaves=(req.leaves[0],) * len(req.leaves))
    assert not compute.verify(spec, c, repeated, op).passed
    # a root of the wrong size
    assert not compute.verify(spec, compute.ComputeCommitment(b"x"), req, op).passed
    with pytest.raises(ChallengeError):
        compute.NodeWork(spec, "cpu").open(req)
    with pytest.raises(ValueError):
        dataclasses.replace(spec, p=128)
    with pytest.raises(ValueError):
        dataclasses.replace(spec, claimed_tflops=float("nan"))


def test_wire_dict_roundtrip() -> None:
    spec = compute.make_spec(small_budget())
    assert compute.ComputeSpec.from_dict(spec.to_dict()) == spec
    work = compute.NodeWork(spec, "cpu")
    c = work.run()
    req = compute.choose_openings(spec, c)
    op = work.open(req)
    assert compute.ComputeOpening.from_dict(op.to_dict()) == op
    assert compute.ComputeRequest.from_dict(req.to_dict()) == req
    assert compute.verify(spec, compute.ComputeCommitment.from_dict(c.to_dict()), req, op).passed


def test_verifier_cost_is_small_on_the_default_plan() -> None:
    """Budget.default() (n=1024, 64 steps, 32x32 tiles, 64 openings): the verifier needs well under 5% of
    the node's time (measured here: node ~1 s, verify ~7 ms, ~1%). The verifier is single-threaded numpy
    and its cost is fixed per opening, so a machine slower or faster in proportion keeps the ratio."""
    spec = compute.make_spec(Budget.default())
    assert (spec.n, spec.steps, spec.tile_rows, spec.tile_cols, spec.openings) == (1024, 64, 32, 32, 64)
    work = compute.NodeWork(spec, "cpu")
    t0 = time.perf_counter()
    c = work.run()
    node_s = time.perf_counter() - t0
    req = compute.choose_openings(spec, c)
    op = work.open(req)
    res = min((compute.verify(spec, c, req, op, node_seconds=node_s) for _ in range(3)),
              key=lambda r: r.verify_seconds)
    assert res.passed, res.reason
    assert res.metrics["verify_node_ratio"] < 0.05, (node_s, res.verify_seconds)
