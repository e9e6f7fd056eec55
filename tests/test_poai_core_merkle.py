"""Merkle commitments and the shared challenge helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poai.challenges.common import (
    Budget,
    CheckResult,
    Claim,
    derive_key,
    derive_u32_pair,
    hash_words_np,
    hash_words_torch,
    new_seed,
    rng_sample,
)
from poai.merkle import (
    MerkleTree,
    leaf_hash,
    pack_proof,
    unpack_proof,
    verify_proof,
    verify_range,
)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100])
def test_every_leaf_proves_and_wrong_things_do_not(n: int) -> None:
    leaves = [f"leaf-{i}".encode() for i in range(n)]
    tree = MerkleTree(leaves)
    for i, leaf in enumerate(leaves):
        proof = tree.proof(i)
        assert verify_proof(tree.root, leaf, i, proof, n)
        assert not verify_proof(tree.root, leaf + b"x", i, proof, n)
        if n > 1:
            assert not verify_proof(tree.root, leaf, (i + 1) % n, proof, n)
        assert not verify_proof(tree.root, leaf, i, proof + [b"\0" * 32], n)


@pytest.mark.parametrize("n", [1, 2, 7, 16, 33])
def test_range_proofs_for_every_range(n: int) -> None:
    leaves = [bytes([i]) * 3 for i in range(n)]
    tree = MerkleTree(leaves)
    hashes = [leaf_hash(x) for x in leaves]
    for start in range(n):
        for end in range(start + 1, n + 1):
            proof = tree.range_proof(start, end)
            assert verify_range(tree.root, hashes[start:end], start, n, proof)
            if end - start < n:
                # shifted position or a changed leaf must fail
                shifted = start + 1 if end < n else start - 1
                assert not verify_range(tree.root, hashes[start:end], shifted, n, proof)
            bad = list(hashes[start:end])
            bad[-1] = leaf_hash(b"evil")
            assert not verify_range(tree.root, bad, start, n, proof)


def test_domain_separation_leaf_is_not_a_node() -> None:
    a, b = b"a", b"b"
    tree = MerkleTree([a, b])
    # presenting the concatenation of the two leaf hashes as a single leaf must not match the root
    fake = leaf_hash(a) + leaf_hash(b)
    assert not verify_proof(tree.root, fake, 0, [], 1)
    assert MerkleTree.from_leaf_hashes([leaf_hash(a), leaf_hash(b)]).root == tree.root


def test_pack_roundtrip_and_bad_length() -> None:
    proof = MerkleTree([b"x", b"y", b"z"]).proof(2)
    assert unpack_proof(pack_proof(proof)) == proof
    with pytest.raises(ValueError):
        unpack_proof(b"\0" * 31)


def test_counter_hash_numpy_and_torch_agree() -> None:
    ctr = np.arange(0, 1 << 14, dtype=np.uint32) * np.uint32(2654435761 % (1 << 32))
    k1, k2 = derive_u32_pair(b"seed", "test")
    a = hash_words_np(ctr, k1, k2)
    b = hash_words_torch(torch.from_numpy(ctr.astype(np.int64)), k1, k2).numpy().astype(np.uint32)
    assert np.array_equal(a, b)
    # different keys give unrelated output; counter changes avalanche
    c = hash_words_np(ctr, k1 ^ 1, k2)
    assert np.mean(a == c) < 0.01
    assert 0.45 < np.unpackbits(a.view(np.uint8)).mean() < 0.55


def test_seeds_and_keys() -> None:
    assert new_seed() != new_seed()
    rng = np.random.default_rng(1)
    assert new_seed(np.random.default_rng(1)) == new_seed(rng)
    assert derive_key(b"s", "a", "b") != derive_key(b"s", "ab")
    assert rng_sample(None, 10, 20) == list(range(10))
    assert len(set(rng_sample(rng, 1000, 64))) == 64


def test_budget_presets_and_claim_sizing() -> None:
    light, default = Budget.lightweight(), Budget.default()
    assert light.compute_n < default.compute_n and light.memory_bytes < default.memory_bytes
    h100 = Budget.from_claim(Claim(device_kind="cuda", gpu_model="H100", memory_bytes=80 << 30, tflops=60.0))
    flops = h100.compute_steps * 2 * h100.compute_n**3
    # a device that really does 60 TFLOPS needs ~2 s
    assert 1.0 <= flops / 60e12 <= 3.5, (h100.compute_n, h100.compute_steps)
    assert h100.memory_bytes <= 0.9 * (80 << 30)
    cpu = Budget.from_claim(Claim(device_kind="cpu", memory_bytes=1 << 30, tflops=0.05))
    assert 1.0 <= cpu.compute_steps * 2 * cpu.compute_n**3 / 0.05e12 <= 3.5  # the same ~2 s target
    with pytest.raises(ValueError):
        Claim(device_kind="toaster")


def test_check_result_node_seconds_and_dict() -> None:
    r = CheckResult("compute", True, "ok", {"bytes_opened": 10.0}, verify_seconds=0.5)
    r2 = r.with_node_seconds(10.0)
    assert r2.metrics["verify_node_ratio"] == pytest.approx(0.05)
    assert "node_seconds" not in r.metrics
    assert CheckResult.from_dict(r2.to_dict()) == r2
