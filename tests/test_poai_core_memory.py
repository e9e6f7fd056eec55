"""Memory challenge: honest nodes pass; dropped, stale or faked blocks and wrong nonce hashes fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from poai.challenges import memory
from poai.challenges.common import Budget


def spec_for(rng, *, mib: int = 8, lanes: int = 8, openings: int = 16, **kw) -> memory.MemorySpec:
    budget = dataclasses.replace(
        Budget.lightweight(), memory_bytes=mib << 20, memory_block_bytes=64 << 10, memory_lanes=lanes,
        memory_openings=openings, memory_open_base_s=0.05, memory_nonce_base_s=0.01)
    return dataclasses.replace(memory.make_spec(budget, rng), **kw)


def session(spec, node, rng, *, stale_nonce: bytes | None = None):
    return memory.run_local_session(spec, node, rng,
                                    node_nonce=memory.NonceRequest(stale_nonce) if stale_nonce else None)


def test_chain_definition_and_torch_kernel_match() -> None:
    spec = spec_for(np.random.default_rng(0), mib=1, lanes=4)
    a = memory.NodeWork(spec, "cpu")
    a.run()
    b = memory.NodeWork(spec, "cpu", kernel="torch")  # the CUDA code path, run on the CPU
    b.run()
    assert a.tree.root == b.tree.root
    # block (lane 2, step 3) follows from (lane 2, step 2) by the verifier's f
    prev = a._get_block(2, 2)
    assert np.array_equal(memory.expected_block(spec, 2, 3, prev), a._get_block(2, 3))
    assert np.array_equal(memory.expected_block(spec, 1, 0, None), a._get_block(1, 0))
    # every word of the previous block matters (the digest reads it all)
    bent = prev.copy()
    bent[-1] ^= np.uint32(1)
    assert np.mean(memory.expected_block(spec, 2, 3, bent) == a._get_block(2, 3)) < 0.01
    nonce = bytes(range(32))
    host = a._host_step_u8(1)
    np_f = memory._fingerprints_np(spec, *memory._nonce_params(spec, nonce), host)
    import torch

    t_f = memory._fingerprints_torch(spec, nonce, torch.from_numpy(host))
    assert np.array_equal(np_f, t_f)


def test_fingerprint_separates_blocks_and_nonces() -> None:
    spec = spec_for(np.random.default_rng(1), mib=1, lanes=4)
    block = np.random.default_rng(2).integers(0, 256, spec.block_bytes, dtype=np.uint8).tobytes()
    other = bytearray(block)
    other[12345] ^= 0x80
    n1, n2 = b"\x01" * 32, b"\x02" * 32
    assert memory.fingerprint(spec, n1, block) != memory.fingerprint(spec, n1, bytes(other))
    assert memory.fingerprint(spec, n1, block)[32:] != memory.fingerprint(spec, n2, block)[32:]


def test_honest_node_passes_with_metrics() -> None:
    rng = np.random.default_rng(3)
    spec = spec_for(rng)
    res = session(spec, memory.NodeWork(spec, "cpu"), rng)
    assert res.passed, res.reason
    m = res.metrics
    assert m["memory_bytes"] == 8 << 20 and m["bad_openings"] == 0
    assert m["bytes_opened"] >= 2 * 15 * spec.block_bytes
    assert m["nonce_bandwidth_gbs"] > 0 and m["node_seconds"] > 0 and "verify_node_ratio" in m
    assert m["nonce_fill_ratio"] < spec.nonce_fill_ratio


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


def test_node_that_keeps_nothing_exceeds_the_latency_bounds() -> None:
    rng = np.random.default_rng(4)
    spec = spec_for(rng, mib=8, lanes=4)  # 32 steps deep: regenerating is a long chain
    res = session(spec, RegeneratingNode(spec, keep=0), rng)
    assert not res.passed
    assert res.metrics["bad_openings"] == 0  # the data is right: only the time gives it away
    assert res.metrics["open_seconds"] > res.metrics["open_bound_seconds"]
    assert "latency bound" in res.reason or "nonce pass" in res.reason


def test_node_that_keeps_a_quarter_fails_the_nonce_bound() -> None:
    rng = np.random.default_rng(5)
    spec = spec_for(rng, mib=16, lanes=4)
    res = session(spec, RegeneratingNode(spec, keep=4), rng)
    assert not res.passed
    assert res.metrics["bad_openings"] == 0
    assert res.metrics["nonce_seconds"] > res.metrics["nonce_bound_seconds"], res.metrics


def test_wrong_nonce_hashes_fail() -> None:
    rng = np.random.default_rng(6)
    spec = spec_for(rng, mib=2, lanes=4)
    # precomputed with an old nonce (or any nonce other than the challenger's)
    res = session(spec, memory.NodeWork(spec, "cpu"), rng, stale_nonce=b"\x07" * 32)
    assert not res.passed and "nonce hash does not match" in res.reason
    assert res.metrics["bad_openings"] == spec.openings


class RandomNonceNode(memory.NodeWork):
    def nonce_pass(self, request):
        from poai.merkle import MerkleTree

        self.nonce_tree = MerkleTree([np.random.bytes(32) for _ in range(self.spec.n_blocks)])
        return memory.NonceCommitment(self.nonce_tree.root)


def test_random_nonce_leaves_fail() -> None:
    rng = np.random.default_rng(7)
    spec = spec_for(rng, mib=2, lanes=4)
    res = session(spec, RandomNonceNode(spec, "cpu"), rng)
    assert not res.passed and "nonce hash" in res.reason


def test_stale_blocks_from_another_seed_fail() -> None:
    rng = np.random.default_rng(8)
    spec = spec_for(rng, mib=2, lanes=4)
    old = memory.NodeWork(dataclasses.replace(spec, seed=b"\x09" * 32), "cpu")
    res = session(spec, old, rng)
    assert not res.passed and "does not follow" in res.reason


class HollowNode(memory.NodeWork):
    """Fills only the first half of each lane honestly and pads the rest with random blocks."""

    def _next_step(self, step, prev):
        if step >= self.spec.depth // 2:
            return np.random.default_rng(step).integers(0, 2**32, (self.spec.lanes, self.spec.words),
                                                        dtype=np.uint32)
        return super()._next_step(step, prev)


def test_padding_with_random_blocks_fails() -> None:
    rng = np.random.default_rng(9)
    spec = spec_for(rng, mib=2, lanes=4, openings=16)
    res = session(spec, HollowNode(spec, "cpu"), rng)
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
    ok = memory.verify(spec, c, req, op, nonce_request=nreq, nonce_commitment=nc, timings=t)
    assert ok.passed, ok.reason
    short = dataclasses.replace(op, blocks=op.blocks[:-1])
    assert not memory.verify(spec, c, req, short, nonce_request=nreq, nonce_commitment=nc, timings=t).passed
    cut = dataclasses.replace(op, blocks=(op.blocks[0][:-4],) + op.blocks[1:])
    assert not memory.verify(spec, c, req, cut, nonce_request=nreq, nonce_commitment=nc, timings=t).passed
    slow = memory.MemoryTimings(spec.max_fill_s + 1, 0.01, 0.01)
    res = memory.verify(spec, c, req, op, nonce_request=nreq, nonce_commitment=nc, timings=slow)
    assert not res.passed and "fill took" in res.reason
    assert memory.MemoryOpening.from_dict(op.to_dict()) == op
    assert memory.MemorySpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError):
        dataclasses.replace(spec, block_bytes=1000)
