"""Memory challenge: honest nodes pass; dropped, stale or faked blocks and wrong nonce hashes fail; the time
bounds follow only from the spec (claimed bandwidth) and the verifier's constants."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from poai.challenges import memory
from poai.challenges.common import Budget


def spec_for(rng, *, mib: int = 8, lanes: int = 16, block_kib: int = 16, openings: int = 32,
             **kw) -> memory.MemorySpec:
    budget = dataclasses.replace(
        Budget.lightweight(), memory_bytes=mib << 20, memory_block_bytes=block_kib << 10, memory_lanes=lanes,
        memory_openings=openings)
    return dataclasses.replace(memory.make_spec(budget, rng), **kw)


def session(spec, node, rng=None, *, stale_nonce: bytes | None = None, bounds=None):
    return memory.run_local_session(spec, node, rng, bounds=bounds,
                                    node_nonce=memory.NonceRequest(stale_nonce) if stale_nonce else None)


def test_wire_fields_are_the_protocol_ones() -> None:
    names = lambda cls: [f.name for f in dataclasses.fields(cls)]  # noqa: E731
    assert names(memory.MemorySpec) == ["seed", "block_bytes", "lanes", "depth", "openings", "rounds",
                                        "claimed_bytes", "claimed_bandwidth_gbs"]
    assert names(memory.MemoryCommitment) == ["root"] and names(memory.NonceCommitment) == ["root"]
    assert names(memory.NonceRequest) == ["nonce"] and names(memory.MemoryRequest) == ["leaves"]
    assert names(memory.MemoryOpening) == ["blocks", "block_proofs", "prev_blocks", "prev_proofs",
                                           "nonce_proofs"]
    spec = spec_for(np.random.default_rng(0), mib=1)
    assert memory.MemorySpec.from_dict(spec.to_dict()) == spec
    for bad in (dict(block_bytes=1000), dict(claimed_bandwidth_gbs=math.nan), dict(claimed_bandwidth_gbs=-1.0),
                dict(claimed_bandwidth_gbs=math.inf), dict(rounds=0), dict(openings=0), dict(seed=b"x")):
        with pytest.raises(ValueError):
            dataclasses.replace(spec, **bad)


def test_chain_definition_and_torch_kernel_match() -> None:
    spec = spec_for(np.random.default_rng(0), mib=1, lanes=4, block_kib=64, rounds=5)
    a = memory.NodeWork(spec, "cpu")
    a.run()
    b = memory.NodeWork(spec, "cpu", kernel="torch")  # the CUDA code path, run on the CPU
    b.run()
    assert a.tree.root == b.tree.root
    # block (lane 2, step 3) follows from (lane 2, step 2) by the verifier's f
    prev = a._get_block(2, 2)
    assert np.array_equal(memory.expected_block(spec, 2, 3, prev), a._get_block(2, 3))
    assert np.array_equal(memory.expected_block(spec, 1, 0, None), a._get_block(1, 0))
    # the definition in the module docstring, written out with common.hash_words_np
    from poai.challenges.common import hash_words_np

    mult = memory._digest_multipliers_np(spec)
    a1, a2, b1, b2, _, _ = memory._chain_keys(spec)
    digest = np.array([int((prev.astype(np.uint64) * mult % 2**32).sum()) % 2**32], dtype=np.uint32)
    ctr = np.array([3 * spec.lanes + 2], dtype=np.uint32)
    k1, k2 = hash_words_np(ctr, digest ^ np.uint32(a1), a2), hash_words_np(ctr, b1, digest ^ np.uint32(b2))
    x = np.arange(spec.words, dtype=np.uint32)
    k1, k2 = k1[0], k2[0]
    for _ in range(spec.rounds):
        x = hash_words_np(x, k1, k2)
    assert np.array_equal(x ^ np.roll(prev, 1), a._get_block(2, 3))
    # every word of the previous block matters (the digest reads it all)
    bent = prev.copy()
    bent[-1] ^= np.uint32(1)
    assert np.mean(memory.expected_block(spec, 2, 3, bent) == a._get_block(2, 3)) < 0.01
    # fingerprints: numpy == torch == the definition
    import torch

    nonce = bytes(range(32))
    coeffs = memory._nonce_coeffs(spec, nonce)
    words = a._get_step(1)
    np_f = memory._fingerprints_np(coeffs, words)
    t_f = memory._fingerprints_torch(torch.from_numpy(coeffs.view(np.int64)), torch.from_numpy(words.view(np.int32)))
    assert np.array_equal(np_f, t_f)
    want = [sum(int(c) * int(w) for c, w in zip(coeffs[:, k], words[0])) % 2**64 for k in range(memory.FP_K)]
    assert [int(v) for v in np_f[0]] == want
    nw = memory.NodeWork(spec, "cpu", kernel="torch")
    nw.run()
    assert nw.nonce_pass(memory.NonceRequest(nonce)).root == (a.nonce_pass(memory.NonceRequest(nonce)).root)


def test_fingerprint_separates_blocks_and_nonces() -> None:
    spec = spec_for(np.random.default_rng(1), mib=1, lanes=4)
    block = np.random.default_rng(2).integers(0, 256, spec.block_bytes, dtype=np.uint8).tobytes()
    n1, n2 = b"\x01" * 32, b"\x02" * 32
    for pos, bit in ((12345, 0x80), (0, 0x01), (spec.block_bytes - 1, 0x80)):
        other = bytearray(block)
        other[pos] ^= bit
        assert memory.fingerprint(spec, n1, block) != memory.fingerprint(spec, n1, bytes(other))
    assert memory.fingerprint(spec, n1, block)[32:] != memory.fingerprint(spec, n2, block)[32:]


def test_honest_node_passes_against_its_self_measured_bandwidth() -> None:
    spec = spec_for(np.random.default_rng(3))
    bw = memory.measure_nonce_bandwidth_gbs(spec, "cpu")
    spec = dataclasses.replace(spec, claimed_bandwidth_gbs=bw)
    res = session(spec, memory.NodeWork(spec, "cpu"))
    assert res.passed, res.reason
    m = res.metrics
    assert m["memory_bytes"] == m["verified_bytes"] == 8 << 20 and m["bad_openings"] == 0
    assert m["bytes_opened"] >= 2 * (spec.openings - 4) * spec.block_bytes
    assert m["claimed_bandwidth_gbs"] == bw and m["bound_bandwidth_gbs"] == max(bw, memory.MemoryBounds().floor_gbs)
    assert m["bandwidth_ratio"] == pytest.approx(m["nonce_bandwidth_gbs"] / m["bound_bandwidth_gbs"])
    assert m["fill_bandwidth_gbs"] > 0 and m["node_seconds"] > 0 and "verify_node_ratio" in m
    assert m["nonce_seconds"] <= m["nonce_bound_seconds"]


def test_bounds_follow_the_claim_not_the_node() -> None:
    spec = spec_for(np.random.default_rng(4), mib=64, lanes=64, claimed_bandwidth_gbs=8.0)
    b = memory.MemoryBounds(nonce_slack=2.0, nonce_base_s=0.1, floor_gbs=1.0)
    assert memory.nonce_bound_seconds(spec, b) == pytest.approx(0.1 + 2.0 * (64 << 20) / 8e9)
    # a claim below the floor (or none) is planned at the floor: it cannot buy a longer pass
    for low in (0.0, 1e-9, 0.5):
        assert memory.nonce_bound_seconds(dataclasses.replace(spec, claimed_bandwidth_gbs=low), b) == \
            pytest.approx(0.1 + 2.0 * (64 << 20) / 1e9)
    # nothing in the bounds depends on the measured timings: a slow fill changes no limit
    node = memory.NodeWork(dataclasses.replace(spec, depth=1), "cpu")
    c = node.run()
    nreq = memory.choose_nonce(node.spec, c)
    nc = node.nonce_pass(nreq)
    req = memory.choose_openings(node.spec, c)
    op = node.open(req)
    fast, slow = (memory.verify(node.spec, c, req, op, nonce_request=nreq, nonce_commitment=nc, bounds=b,
                                timings=memory.MemoryTimings(fill, 0.01, 0.01)) for fill in (0.1, 5.0))
    keys = ("nonce_bound_seconds", "open_bound_seconds", "fill_bound_seconds")
    assert [fast.metrics[k] for k in keys] == [slow.metrics[k] for k in keys]
    assert fast.passed and slow.passed and slow.metrics["fill_bandwidth_gbs"] < fast.metrics["fill_bandwidth_gbs"]
    late = memory.verify(node.spec, c, req, op, nonce_request=nreq, nonce_commitment=nc, bounds=b,
                         timings=memory.MemoryTimings(0.1, memory.nonce_bound_seconds(node.spec, b) + 0.01, 0.01))
    assert not late.passed and "nonce pass took" in late.reason and late.metrics["verified_bytes"] == 0


class RegeneratingNode(memory.NodeWork):
    """Commits honestly, then keeps only every `keep`-th step of each lane (keep=0: keeps nothing) and
    re-runs the chain from the last kept step whenever a block is needed."""

    def __init__(self, spec, keep: int) -> None:
        super().__init__(spec, "cpu")
        self.keep = keep
        self.kept: dict[int, np.ndarray] = {}
        self._cache: tuple[int, np.ndarray] | None = None

    def run(self):
        c = super().run()
        self.kept = {s: self.blocks[s].copy() for s in range(self.spec.depth)
                     if self.keep and s % self.keep == 0}
        self.blocks = None  # memory released
        return c

    def _get_step(self, step):
        if self._cache and self._cache[0] == step:
            return self._cache[1]
        if self._cache and self._cache[0] == step - 1:  # sequential pass: one generation per step
            start, prev = step, self._cache[1]
        else:
            base = max((s for s in self.kept if s <= step), default=None)
            start, prev = (0, None) if base is None else (base + 1, self.kept[base])
            if base == step:
                self._cache = (step, prev)
                return prev
        mult = memory._digest_multipliers_np(self.spec)
        lanes = np.arange(self.spec.lanes)
        for s in range(start, step + 1):
            prev = memory._step_np(self.spec, mult, lanes, s, prev)
        self._cache = (step, prev)
        return prev

    def open(self, request):
        self._cache = None
        return super().open(request)


@pytest.mark.parametrize("keep", [0, 2])
def test_node_that_recomputes_blocks_fails_the_nonce_bound(keep) -> None:
    spec = spec_for(np.random.default_rng(5), mib=16, lanes=64)
    honest = memory.NodeWork(spec, "cpu")
    honest.run()
    honest.nonce_pass(memory.NonceRequest(b"\x05" * 32))
    bw = spec.total_bytes / honest.phase_seconds["nonce"] / 1e9  # its own speed, claimed honestly
    spec = dataclasses.replace(spec, claimed_bandwidth_gbs=bw)
    bounds = memory.MemoryBounds(nonce_base_s=0.0)  # 16 MiB is a short pass: judge the slack alone
    res = session(spec, RegeneratingNode(spec, keep=keep), bounds=bounds)
    assert not res.passed
    assert res.metrics["bad_openings"] == 0  # the data is right: only the time gives it away
    assert res.metrics["nonce_seconds"] > res.metrics["nonce_bound_seconds"], res.metrics


def test_wrong_nonce_hashes_fail() -> None:
    rng = np.random.default_rng(6)
    spec = spec_for(rng, mib=2, lanes=4)
    # precomputed with an old nonce (or any nonce other than the challenger's)
    res = session(spec, memory.NodeWork(spec, "cpu"), rng, stale_nonce=b"\x07" * 32)
    assert not res.passed and "nonce hash does not match" in res.reason
    assert res.metrics["bad_openings"] == spec.openings and res.metrics["verified_bytes"] == 0


class RandomNonceNode(memory.NodeWork):
    def nonce_pass(self, request):
        from poai.merkle import MerkleTree

        self.nonce_tree = MerkleTree([np.random.bytes(32) for _ in range(self.spec.n_blocks)])
        return memory.NonceCommitment(self.nonce_tree.root)


def test_random_nonce_leaves_fail() -> None:
    spec = spec_for(np.random.default_rng(7), mib=2, lanes=4)
    res = session(spec, RandomNonceNode(spec, "cpu"))
    assert not res.passed and "nonce hash" in res.reason


def test_stale_blocks_from_another_seed_fail() -> None:
    spec = spec_for(np.random.default_rng(8), mib=2, lanes=4)
    old = memory.NodeWork(dataclasses.replace(spec, seed=b"\x09" * 32), "cpu")
    res = session(spec, old)
    assert not res.passed and "does not follow" in res.reason


class HollowNode(memory.NodeWork):
    """Fills only the first half of each lane honestly and pads the rest with random blocks."""

    def _next_step(self, step, prev):
        if step >= self.spec.depth // 2:
            return np.random.default_rng(step).integers(0, 2**32, (self.spec.lanes, self.spec.words),
                                                        dtype=np.uint32)
        return super()._next_step(step, prev)


def test_padding_with_random_blocks_fails() -> None:
    spec = spec_for(np.random.default_rng(9), mib=2, lanes=4, openings=16)
    res = session(spec, HollowNode(spec, "cpu"))
    assert not res.passed and "does not follow" in res.reason


def test_malformed_and_out_of_order_calls() -> None:
    rng = np.random.default_rng(10)
    spec = spec_for(rng, mib=1, lanes=4)
    node = memory.NodeWork(spec, "cpu")
    with pytest.raises(memory.ChallengeError):
        node.open(memory.MemoryRequest((0,)))
    c = node.run()
    nreq = memory.choose_nonce(spec, c, rng)
    nc = node.nonce_pass(nreq)
    req = memory.choose_openings(spec, c, rng)
    op = node.open(req)
    t = memory.MemoryTimings(0.1, 0.01, 0.01)

    def check(opening=op, timings=t, request=req):
        return memory.verify(spec, c, request, opening, nonce_request=nreq, nonce_commitment=nc, timings=timings)

    assert check().passed, check().reason
    assert not check(dataclasses.replace(op, blocks=op.blocks[:-1])).passed
    assert not check(dataclasses.replace(op, blocks=(op.blocks[0][:-4],) + op.blocks[1:])).passed
    assert not check(dataclasses.replace(op, nonce_proofs=(b"\x00" * 33,) + op.nonce_proofs[1:])).passed
    assert not check(request=memory.MemoryRequest(req.leaves[:-1]),
                     opening=dataclasses.replace(op, **{k: getattr(op, k)[:-1] for k in
                                                        ("blocks", "block_proofs", "prev_blocks",
                                                         "prev_proofs", "nonce_proofs")})).passed
    slow = check(timings=memory.MemoryTimings(memory.fill_bound_seconds(spec) + 1, 0.01, 0.01))
    assert not slow.passed and "fill took" in slow.reason
    nan = check(timings=memory.MemoryTimings(0.1, math.nan, 0.01))
    assert not nan.passed
    assert memory.MemoryOpening.from_dict(op.to_dict()) == op


def test_secret_choices_come_from_os_entropy() -> None:
    spec = spec_for(np.random.default_rng(11), mib=4, lanes=16)
    c = memory.MemoryCommitment(b"\x00" * 32)
    seeds = {memory.make_spec(Budget.lightweight()).seed for _ in range(8)}
    nonces = {memory.choose_nonce(spec, c).nonce for _ in range(8)}
    draws = {memory.choose_openings(spec, c).leaves for _ in range(8)}
    assert len(seeds) == len(nonces) == len(draws) == 8
    # with an rng (tests only) the same generator gives the same choices
    assert memory.choose_openings(spec, c, np.random.default_rng(1)) == \
        memory.choose_openings(spec, c, np.random.default_rng(1))


def test_default_budget_passes_with_a_small_verifier_share() -> None:
    spec = memory.make_spec(Budget.default())
    spec = dataclasses.replace(spec, claimed_bandwidth_gbs=memory.measure_nonce_bandwidth_gbs(spec, "cpu"))
    res = session(spec, memory.NodeWork(spec, "cpu"))
    assert res.passed, res.reason
    assert res.metrics["openings"] == 128 and res.metrics["bytes_opened"] < 5 << 20
    assert res.metrics["verify_node_ratio"] < 0.05, res.metrics
