"""Compute challenge: honest nodes pass, and every cheat we can model fails at the library level."""

from __future__ import annotations

import dataclasses

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


def run_session(spec, work, rng):
    commitment = work.run()
    request = compute.choose_openings(spec, commitment, rng)
    opening = work.open(request)
    return compute.verify(spec, commitment, request, opening, node_seconds=0.5, rng=rng)


def reference_outputs(spec: compute.ComputeSpec) -> list[np.ndarray]:
    """Plain int64 numpy, no floats anywhere: the ground truth the fp32 path must match bit for bit."""
    x = compute.gen_rows(spec, 0, 0, spec.n).astype(np.int64)
    outs = []
    for k in range(1, spec.steps + 1):
        x = (x @ compute.gen_rows(spec, k, 0, spec.n).astype(np.int64)) % spec.p
        outs.append(x.astype(np.uint8))
    return outs


def test_prime_choice_keeps_fp32_exact() -> None:
    for n in (128, 1024, 4096, 16384, 32768):
        p = compute.choose_prime(n)
        assert n * (p - 1) ** 2 < 2**24 and p < 256
    assert compute.choose_prime(1024) == 127
    assert compute.choose_prime(16384) == 31


def test_generation_rows_cols_and_torch_kernel_agree() -> None:
    spec = compute.make_spec(small_budget(), np.random.default_rng(3))
    full = compute.gen_rows(spec, 2, 0, spec.n)
    assert full.max() < spec.p and full.dtype == np.uint8
    assert np.array_equal(compute.gen_rows(spec, 2, 16, 48), full[16:48])
    assert np.array_equal(compute.gen_cols(spec, 2, 32, 48), full[:, 32:48])
    # the int64 kernel used on CUDA gives the same matrix (run here on the CPU device)
    via_torch = compute.gen_matrix_torch(spec, 2, torch.device("cpu"), kernel="torch")
    assert np.array_equal(via_torch.numpy().astype(np.uint8), full)
    # different steps and seeds give different matrices
    assert not np.array_equal(compute.gen_rows(spec, 1, 0, 16), full[:16])


def test_honest_node_passes_and_matches_integer_reference() -> None:
    rng = np.random.default_rng(0)
    spec = compute.make_spec(small_budget(), rng)
    work = compute.NodeWork(spec, "cpu")
    res = run_session(spec, work, rng)
    assert res.passed, res.reason
    for got, want in zip(work.outputs, reference_outputs(spec)):
        assert np.array_equal(got, want)
    m = res.metrics
    assert m["openings"] == 64 and m["bad_openings"] == 0
    assert m["bytes_opened"] > 0 and m["verify_seconds"] > 0
    assert m["node_seconds"] == 0.5 and m["tflops"] == pytest.approx(spec.flops / 0.5 / 1e12)
    assert "verify_node_ratio" in m and "tflops_ratio" in m


class FakeFractionNode(compute.NodeWork):
    """Computes most tiles but writes random values into a fraction of them (saving that work)."""

    def __init__(self, spec, fraction: float, seed: int = 7) -> None:
        super().__init__(spec, "cpu")
        self.fraction = fraction
        self.rng = np.random.default_rng(seed)
        self.faked: set[int] = set()

    def _step(self, k, x, b):
        y = super()._step(k, x, b)
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
    assert "is not X_" in res.reason
    assert res.metrics["bad_openings"] >= 1


def test_detection_rate_matches_hypergeometric_bound() -> None:
    """Over many fresh opening choices the catch rate is what `survival_probability` predicts."""
    rng = np.random.default_rng(2)
    spec = compute.make_spec(small_budget(compute_steps=2, compute_openings=8), rng)
    node = FakeFractionNode(spec, 0.10, seed=3)
    commitment = node.run()
    faked = len(node.faked)
    assert faked > 0
    trials, caught = 150, 0
    for _ in range(trials):
        req = compute.choose_openings(spec, commitment, rng)
        hit = any(leaf in node.faked for leaf in req.leaves)
        res = compute.verify(spec, commitment, req, node.open(req), rng=rng)
        assert res.passed == (not hit), res.reason  # caught exactly when a faked tile is opened
        caught += not res.passed
    expected = 1 - compute.survival_probability(spec.n_leaves, faked, spec.openings)
    assert abs(caught / trials - expected) < 0.15
    # and at the default size a 10% faker survives 64 openings with ~0.1% probability
    d = compute.make_spec(Budget.default())
    assert compute.survival_probability(d.n_leaves, d.n_leaves // 10, 64) < 0.0013


class RandomTilesNode(compute.NodeWork):
    def _step(self, k, x, b):
        return torch.randint(0, self.spec.p, x.shape).to(torch.float32)


def test_random_tiles_fail() -> None:
    rng = np.random.default_rng(4)
    spec = compute.make_spec(small_budget(), rng)
    res = run_session(spec, RandomTilesNode(spec, "cpu"), rng)
    assert not res.passed and res.metrics["bad_openings"] >= 60


class PartialTilesNode(compute.NodeWork):
    """Computes every tile but only its first half of columns; the rest is left at zero."""

    def _step(self, k, x, b):
        y = super()._step(k, x, b)
        s = self.spec
        y = y.reshape(s.n, s.col_blocks, s.tile_cols)
        y[:, :, s.tile_cols // 2:] = 0
        return y.reshape(s.n, s.n)


def test_partly_computed_tiles_fail() -> None:
    rng = np.random.default_rng(12)
    spec = compute.make_spec(small_budget(), rng)
    res = run_session(spec, PartialTilesNode(spec, "cpu"), rng)
    # each opening is missed only when both checked 4-column groups fall in the computed half: 1 in 6
    assert not res.passed and res.metrics["bad_openings"] >= 40


def test_stale_result_from_another_seed_fails() -> None:
    rng = np.random.default_rng(5)
    old_spec = compute.make_spec(small_budget(), rng)
    new_spec = dataclasses.replace(old_spec, seed=bytes(32))
    stale = compute.NodeWork(old_spec, "cpu")  # did the work for an earlier challenge
    commitment = stale.run()
    req = compute.choose_openings(new_spec, commitment, rng)
    res = compute.verify(new_spec, commitment, req, stale.open(req), rng=rng)
    assert not res.passed and res.metrics["bad_openings"] == len(req.leaves)


def test_commit_garbage_then_compute_on_demand_fails() -> None:
    """A node that commits before doing the work cannot open tiles consistent with its root."""
    rng = np.random.default_rng(6)
    spec = compute.make_spec(small_budget(), rng)
    honest = compute.NodeWork(spec, "cpu")
    honest.run()
    lazy = compute.NodeWork(spec, "cpu")
    lazy.outputs = honest.outputs
    lazy.tree = MerkleTree([b"garbage"] * spec.n_leaves)
    commitment = compute.ComputeCommitment(root=lazy.tree.root)
    req = compute.choose_openings(spec, commitment, rng)
    res = compute.verify(spec, commitment, req, lazy.open(req), rng=rng)
    assert not res.passed and "not in the committed tree" in res.reason


def test_malformed_openings_fail_cleanly() -> None:
    rng = np.random.default_rng(8)
    spec = compute.make_spec(small_budget(), rng)
    work = compute.NodeWork(spec, "cpu")
    c = work.run()
    req = compute.choose_openings(spec, c, rng)
    op = work.open(req)
    short = dataclasses.replace(op, tiles=op.tiles[:-1])
    assert not compute.verify(spec, c, req, short).passed
    bad_proof = dataclasses.replace(op, tile_proofs=(b"\x00" * 5,) + op.tile_proofs[1:])
    assert not compute.verify(spec, c, req, bad_proof).passed
    # a root of the wrong size
    assert not compute.verify(spec, compute.ComputeCommitment(b"x"), req, op).passed
    with pytest.raises(ChallengeError):
        compute.NodeWork(spec, "cpu").open(req)
    with pytest.raises(ValueError):
        dataclasses.replace(spec, p=128)


def test_wire_dict_roundtrip() -> None:
    rng = np.random.default_rng(9)
    spec = compute.make_spec(small_budget(), rng)
    assert compute.ComputeSpec.from_dict(spec.to_dict()) == spec
    work = compute.NodeWork(spec, "cpu")
    c = work.run()
    req = compute.choose_openings(spec, c, rng)
    op = work.open(req)
    assert compute.ComputeOpening.from_dict(op.to_dict()) == op
    assert compute.ComputeRequest.from_dict(req.to_dict()) == req
    assert compute.verify(spec, compute.ComputeCommitment.from_dict(c.to_dict()), req, op).passed
