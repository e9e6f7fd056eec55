"""Attacks on the memory challenge's stated bounds, on the DEFAULT `standard` plan for a CPU claim of 256 MiB
(230 MiB in 14720 blocks of 16 KiB, 128 openings, rounds 16) with the bandwidth the honest agent claims for
itself (poai.node.agent.build_claim) and the challenger's own bounds (poai.kinds.MemoryKind().bounds).

Each test runs the node strategies of poai/node/adversarial.py in process against memory.verify (the wire
path is exercised by the end-to-end session tests); survival statistics are measured on the verifier's
per-opening decision (memory.check_openings) over every leaf of one commitment, then thousands of draws.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from poai import kinds
from poai.challenges import memory
from poai.challenger.plan import PlanSpec
from poai.claim import NodeClaim
from poai.node import adversarial as adv
from poai.node.agent import HONEST_CLAIM_MARGIN
from poai.node.device import measure_memory_bandwidth_gbs

CLAIM_BYTES = 256 << 20


@pytest.fixture(scope="module")
def plan():
    """(spec factory, bounds, claimed GB/s) for the standard plan of an honest 256 MiB CPU claim."""
    bw = round(HONEST_CLAIM_MARGIN * measure_memory_bandwidth_gbs("cpu", CLAIM_BYTES), 4)
    claim = NodeClaim(device_kind="cpu", device_model="test cpu", memory_bytes=CLAIM_BYTES, claimed_tflops=0.05,
                      memory_bandwidth_gbs=bw)
    budget = PlanSpec.parse("standard").budget_for(claim)
    bounds = kinds.get("memory").bounds
    spec0 = memory.make_spec(budget)
    assert (spec0.total_bytes, spec0.block_bytes, spec0.openings, spec0.rounds) == (230 << 20, 16 << 10, 128, 16)
    return (lambda: memory.make_spec(budget)), bounds, bw


def _pass_time(work, nonce=None) -> float:
    t = time.perf_counter()
    work.nonce_pass(memory.NonceRequest(nonce or memory.choose_nonce(work.spec, None).nonce))
    return time.perf_counter() - t


def _binomial_ceiling(trials: int, p: float) -> float:
    """Survivors we accept before calling the stated bound wrong: mean + 4 sd + 1."""
    return trials * p + 4 * math.sqrt(trials * p * (1 - p)) + 1


def test_honest_standard_plan_passes_reliably(plan) -> None:
    make, bounds, bw = plan
    for _ in range(3):
        spec = make()
        res = memory.run_local_session(spec, memory.NodeWork(spec, "cpu"), bounds=bounds)
        m = res.metrics
        assert res.passed, res.reason
        assert m["verified_bytes"] == spec.total_bytes and m["claimed_bandwidth_gbs"] == bw
        assert m["verify_node_ratio"] < 0.05, m  # ~1.5-4% here
        assert m["bytes_opened"] < 5 << 20 and m["fill_seconds"] < 10.0


def test_slow_fill_partial_memory_fails(plan) -> None:
    """Fills 2 s slower on purpose and keeps half the blocks: the v1 bounds (fractions of the fill time) grew
    with the fill; these do not, so recomputing the missing half in the nonce pass blows the bound, and not
    recomputing it leaves wrong nonce leaves that the openings find."""
    make, bounds, _ = plan
    spec = make()
    work = adv.memory_cheat_work(spec, drop_fraction=0.5, fill_delay_s=2.0)
    res = memory.run_local_session(spec, work, bounds=bounds)
    assert not res.passed and "nonce pass took" in res.reason, res.reason
    assert res.metrics["bad_openings"] == 0 and res.metrics["verified_bytes"] == 0
    assert res.metrics["nonce_bound_seconds"] == memory.nonce_bound_seconds(spec, bounds)  # not the fill's
    assert res.metrics["fill_seconds"] > 2.0
    # the same node, not recomputing: wrong nonce leaves for half its blocks
    work.regenerate_in_pass = False
    c = memory.MemoryCommitment(work.tree.root)
    nreq = memory.choose_nonce(spec, c)
    nc = work.nonce_pass(nreq)
    req = memory.choose_openings(spec, c)
    res2 = memory.verify(spec, c, req, work.open(req), nonce_request=nreq, nonce_commitment=nc, bounds=bounds,
                         timings=memory.MemoryTimings(res.metrics["fill_seconds"], 0.1, 0.1))
    assert not res2.passed and res2.metrics["bad_openings"] > 40, res2.reason


def test_block_dropping_survival_is_within_the_stated_bound(plan) -> None:
    """Dropping 5/10/25% of the blocks without recomputing them: the verifier's decision on every leaf of one
    commitment, then 4000 draws of 128 openings (from `secrets`, as the challenger draws them). Survival must
    stay within (1-d)^128 plus a binomial margin: 0.14% / 1.4e-6 / 1e-16."""
    make, bounds, _ = plan
    spec = make()
    work = adv.memory_cheat_work(spec, drop_fraction=0.0)  # stores everything for now
    c = work.run()
    order = np.random.default_rng(12).permutation(spec.n_blocks)  # nested drop sets: 5% within 10% within 25%
    draws = [np.fromiter(memory.choose_openings(spec, c).leaves, dtype=np.int64) for _ in range(4000)]
    for d in (0.05, 0.10, 0.25):
        gone = order[: int(round(d * spec.n_blocks))]
        mask = np.zeros(spec.n_blocks, dtype=bool)
        mask[gone] = True
        work.dropped = mask.reshape(spec.depth, spec.lanes)
        for leaf in gone:  # the node no longer holds them
            lane, step = spec.block_of(int(leaf))
            work.stored[step][lane] = 0
        work._cache.clear()
        work.regenerate_in_pass = False
        nreq = memory.choose_nonce(spec, c)
        nc = work.nonce_pass(nreq)
        ok = np.zeros(spec.n_blocks, dtype=bool)
        for lo in range(0, spec.n_blocks, 2048):
            req = memory.MemoryRequest(tuple(range(lo, min(spec.n_blocks, lo + 2048))))
            verdicts = memory.check_openings(spec, c, req, work.open(req), nonce_request=nreq, nonce_commitment=nc)
            ok[lo:lo + len(verdicts)] = [v is None for v in verdicts]
            assert all(v is None or "nonce hash does not match" in v for v in verdicts)
        assert np.array_equal(~ok, mask)  # exactly the dropped blocks are caught when opened
        survived = sum(bool(ok[x].all()) for x in draws)
        bound = (1 - d) ** spec.openings
        print(f"drop {d:.0%}: survived {survived}/{len(draws)} = {survived / len(draws):.2e}, bound {bound:.2e}")
        assert survived <= _binomial_ceiling(len(draws), bound), (d, survived)


@pytest.mark.parametrize("d", [0.05, 0.10, 0.25])
def test_recomputing_dropped_blocks_in_the_nonce_pass_costs_bandwidth(plan, d) -> None:
    """Dropping d of the blocks and recomputing each inside the nonce pass (one chain step from its parent, the
    cheapest way): every answer is right, so only time can show it. The pass must fail the bound or be slower
    than the same node's honest pass by >= 1 + 8 d (the recompute/read ratio R is ~18 here; 8 leaves margin)."""
    make, bounds, bw = plan
    spec = make()
    work = adv.memory_cheat_work(spec, drop_fraction=0.0)
    fill_t = time.perf_counter()
    c = work.run()
    fill_s = time.perf_counter() - fill_t
    honest = min(_pass_time(work) for _ in range(3))
    gone = np.random.default_rng(13).choice(spec.n_blocks, size=int(round(d * spec.n_blocks)), replace=False)
    work.dropped.reshape(-1)[gone] = True
    for leaf in gone:
        lane, step = spec.block_of(int(leaf))
        work.stored[step][lane] = 0
    cheat = [_pass_time(work) for _ in range(2)]
    nreq = memory.choose_nonce(spec, c)
    t = time.perf_counter()
    nc = work.nonce_pass(nreq)
    nonce_s = time.perf_counter() - t
    req = memory.choose_openings(spec, c)
    t = time.perf_counter()
    op = work.open(req)
    open_s = time.perf_counter() - t
    res = memory.verify(spec, c, req, op, nonce_request=nreq, nonce_commitment=nc, bounds=bounds,
                        timings=memory.MemoryTimings(fill_s, nonce_s, open_s))
    slowdown = min(cheat + [nonce_s]) / honest
    print(f"drop+recompute {d:.0%}: honest pass {honest:.3f}s, cheat {min(cheat + [nonce_s]):.3f}s "
          f"(x{slowdown:.2f}), ratio {res.metrics['bandwidth_ratio']:.2f}, bound {res.metrics['nonce_bound_seconds']:.3f}s,"
          f" passed={res.passed}")
    assert res.metrics["bad_openings"] == 0
    assert (not res.passed and "nonce pass took" in res.reason) or slowdown >= 1 + 8 * d, (slowdown, res.reason)
    assert slowdown >= 1 + 8 * d or not res.passed


@pytest.mark.parametrize("strategy", ["nothing", "keep-every-16"])
def test_recomputing_everything_fails(plan, strategy) -> None:
    """Stores nothing (claims no bandwidth: planned at the floor, the longest pass any claim gets) or every 16th
    step (RegenerateMemory): the nonce pass re-runs (nearly) the whole fill."""
    make, bounds, _ = plan
    spec = make()
    if strategy == "nothing":
        spec = dataclasses.replace(spec, claimed_bandwidth_gbs=0.0)
        work = adv.memory_cheat_work(spec, keep_nothing=True)
    else:
        work = adv.dropping_memory_work(spec, "cpu", keep_every=adv.RegenerateMemory.keep_every)
    res = memory.run_local_session(spec, work, bounds=bounds)
    assert not res.passed and "nonce pass took" in res.reason, res.reason
    assert res.metrics["bad_openings"] == 0 and res.metrics["verified_bytes"] == 0
    assert res.metrics["nonce_seconds"] > 1.5 * res.metrics["nonce_bound_seconds"], res.metrics


def test_openings_do_not_follow_the_seed_stream(plan) -> None:
    """The seed the node sees says nothing about which blocks are opened: a PCG64 seeded from the spec seed
    (what a node predicting a seeded challenger would run) overlaps the real draws like any independent
    draw (128^2 / 14720 = 1.1 blocks on average), and a node that keeps only its predictions fails."""
    make, bounds, _ = plan
    overlaps = []
    for _ in range(300):
        spec = make()
        c = memory.MemoryCommitment(b"\x00" * 32)
        overlaps.append(len(set(adv.predicted_openings(spec)) & set(memory.choose_openings(spec, c).leaves)))
    expected = 128 * 128 / 14720
    assert abs(np.mean(overlaps) - expected) < 0.5 and max(overlaps) <= 10, (np.mean(overlaps), max(overlaps))
    spec = make()
    # the predictor itself is right when the challenger really uses that stream (so the test has teeth)
    gen = np.random.Generator(np.random.PCG64(int.from_bytes(spec.seed, "little")))
    assert adv.predicted_openings(spec) == sorted(memory.choose_openings(spec, None, gen).leaves)
    work = adv.memory_cheat_work(spec, keep_leaves=set(adv.predicted_openings(spec)) |
                                 {x - spec.lanes for x in adv.predicted_openings(spec) if x >= spec.lanes},
                                 regenerate_in_pass=False)
    res = memory.run_local_session(spec, work, bounds=bounds)
    assert not res.passed and res.metrics["bad_openings"] >= 100, res.reason
