"""proto/test_vectors.json agrees with the code AND with proto/PROTOCOL.md.

Two checks per vector: the Python reference code recomputes the file exactly (the code did not drift), and
a small independent implementation written from PROTOCOL.md alone (plain Python: hashlib, struct, ints; no
numpy, no poai) rebuilds the same values, as a Kotlin/Swift/Rust port would (the document did not drift).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "proto" / "test_vectors.json").read_text())


def _script():
    spec = importlib.util.spec_from_file_location("gen_test_vectors", ROOT / "scripts" / "gen_test_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_code_reproduces_the_file_exactly() -> None:
    gen = _script()
    fresh = gen.build()
    for section in fresh:
        assert fresh[section] == VECTORS[section], f"{section}: run python scripts/gen_test_vectors.py"
    assert gen.render(fresh) == (ROOT / "proto" / "test_vectors.json").read_text()


# ------------------------------------------------------------- independent implementations (PROTOCOL.md)

M32 = 0xFFFFFFFF


def lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def port_hello_bytes(v: dict) -> bytes:
    c = v["claim"]
    out = b"edgeproof-poai-hello/v2"
    out += lp(bytes.fromhex(v["nonce_hex"])) + lp(v["challenger_id"].encode())
    out += lp(v["scheme"].encode()) + lp(bytes.fromhex(v["public_key_hex"])) + lp(v["node_id"].encode())
    out += lp(c["device_kind"].encode()) + lp(c["device_model"].encode())
    out += struct.pack(">Q", c["memory_bytes"])
    out += struct.pack(">d", c["claimed_matmul_tops"]) + struct.pack(">d", c["memory_bandwidth_gbs"])
    out += struct.pack(">I", len(c["backends"])) + b"".join(lp(b.encode()) for b in c["backends"])
    return out + lp(c["agent_version"].encode())


def port_derive_key(seed: bytes, labels: list) -> bytes:
    h = hashlib.sha256(b"edgeproof/poai/v1")
    for part in [seed, *[str(x).encode() for x in labels]]:
        h.update(struct.pack("<Q", len(part)) + part)
    return h.digest()


def port_mix(x: int) -> int:
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x5BD1E995) & M32
    return x ^ (x >> 16)


def port_hash_word(counter: int, k1: int, k2: int) -> int:
    return port_mix(port_mix(counter ^ k1) ^ k2)


def port_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def port_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def port_levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [[port_leaf(x) for x in leaves]]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        nxt = [port_node(cur[i], cur[i + 1]) for i in range(0, len(cur) - 1, 2)]
        if len(cur) % 2:
            nxt.append(cur[-1])  # an odd last node moves up unchanged
        levels.append(nxt)
    return levels


def port_proof(levels: list[list[bytes]], index: int) -> bytes:
    out = b""
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            out += level[sibling]
        index //= 2
    return out


def port_verify(root: bytes, leaf_data: bytes, index: int, n_leaves: int, proof: bytes) -> bool:
    if len(proof) % 32:
        return False
    hashes = [proof[i : i + 32] for i in range(0, len(proof), 32)]
    node, m = port_leaf(leaf_data), n_leaves
    try:
        while m > 1:
            if index % 2 == 1:
                node = port_node(hashes.pop(0), node)
            elif index + 1 < m:
                node = port_node(node, hashes.pop(0))
            index //= 2
            m = (m + 1) // 2
    except IndexError:  # proof too short
        return False
    return not hashes and node == root


def port_entry(seed: bytes, matrix: str, k: int, n: int, p: int, r: int, c: int) -> int:
    d = port_derive_key(seed, ["compute", f"{matrix}{k}"])
    k1, k2 = int.from_bytes(d[0:4], "little"), int.from_bytes(d[4:8], "little")
    word = port_hash_word(r * (n // 4) + c // 4, k1, k2)
    byte = (word >> (8 * (c % 4))) & 0xFF
    return (byte * p) >> 8


# --------------------------------------------------------------------------------------------- vectors


def test_hello_vector() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from edge_sdk.identity import NodeKey, verify_signature
    from poai.claim import NodeClaim
    from poai.hello import hello_bytes

    v = VECTORS["hello"]
    data = bytes.fromhex(v["canonical_bytes_hex"])
    assert port_hello_bytes(v) == data
    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["private_key_seed_hex"]))
    pub = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert pub.hex() == v["public_key_hex"] and v["node_id"] == "ed25519:" + pub.hex()
    assert sk.sign(data).hex() == v["signature_hex"]  # ed25519 is deterministic (RFC 8032)
    Ed25519PublicKey.from_public_bytes(pub).verify(bytes.fromhex(v["signature_hex"]), data)
    # and the reference code agrees
    c = v["claim"]
    claim = NodeClaim(c["device_kind"], c["device_model"], c["memory_bytes"], c["claimed_matmul_tops"],
                      tuple(c["backends"]), c["agent_version"], c["memory_bandwidth_gbs"])
    key = NodeKey.from_seed(bytes.fromhex(v["private_key_seed_hex"]))
    nonce = bytes.fromhex(v["nonce_hex"])
    assert hello_bytes(nonce=nonce, challenger_id=v["challenger_id"], scheme=key.scheme,
                       public_key=key.public_key, node_id=key.node_id, claim=claim) == data
    assert verify_signature("ed25519", pub, data, bytes.fromhex(v["signature_hex"]))


@pytest.mark.parametrize("v", VECTORS["derive_key"], ids=lambda v: "/".join(v["labels"]) or "no-labels")
def test_derive_key_vectors(v: dict) -> None:
    from poai.challenges.common import derive_u32_pair

    digest = port_derive_key(bytes.fromhex(v["seed_hex"]), v["labels"])
    assert digest.hex() == v["digest_hex"]
    assert (int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")) == (v["k1"], v["k2"])
    assert derive_u32_pair(bytes.fromhex(v["seed_hex"]), *v["labels"]) == (v["k1"], v["k2"])


def test_hash_words_vector() -> None:
    import numpy as np

    from poai.challenges.common import hash_words_np, hash_words_torch

    v = VECTORS["hash_words"]
    assert [port_hash_word(c, v["k1"], v["k2"]) for c in v["counters"]] == v["words"]
    assert hash_words_np(np.array(v["counters"], dtype=np.uint32), v["k1"], v["k2"]).tolist() == v["words"]
    torch = pytest.importorskip("torch")
    got = hash_words_torch(torch.tensor(v["counters"], dtype=torch.int64), v["k1"], v["k2"])
    assert got.tolist() == v["words"]


@pytest.mark.parametrize("v", VECTORS["merkle"], ids=lambda v: f"{len(v['leaves_hex'])}-leaves")
def test_merkle_vectors(v: dict) -> None:
    from poai.merkle import verify_proof

    leaves = [bytes.fromhex(x) for x in v["leaves_hex"]]
    levels = port_levels(leaves)
    assert [h.hex() for h in levels[0]] == v["leaf_hashes_hex"]
    root = bytes.fromhex(v["root_hex"])
    assert levels[-1][0] == root
    for i, proof_hex in enumerate(v["proofs_hex"]):
        proof = bytes.fromhex(proof_hex)
        assert port_proof(levels, i) == proof
        assert port_verify(root, leaves[i], i, len(leaves), proof)
        hashes = [proof[j : j + 32] for j in range(0, len(proof), 32)]
        assert verify_proof(root, leaves[i], i, hashes, len(leaves))
        if len(leaves) > 1:
            assert not port_verify(root, leaves[i] + b"x", i, len(leaves), proof)
            assert not verify_proof(root, leaves[i] + b"x", i, hashes, len(leaves))


@pytest.mark.parametrize("v", VECTORS["compute"], ids=lambda v: f"n{v['spec']['n']}")
def test_compute_vectors(v: dict) -> None:
    from poai.challenges import compute

    s = v["spec"]
    seed, n, p = bytes.fromhex(s["seed_hex"]), s["n"], s["p"]
    assert p == compute.choose_prime(n)
    for name, (k1, k2) in v["keys"].items():
        d = port_derive_key(seed, ["compute", name])
        assert (int.from_bytes(d[:4], "little"), int.from_bytes(d[4:8], "little")) == (k1, k2)
    for matrix, rows in (("a", v["a1_rows_0_1"]), ("b", v["b1_rows_0_1"])):
        assert rows == [[port_entry(seed, matrix, 1, n, p, r, c) for c in range(n)] for r in range(2)]

    def product_row(k: int, r: int) -> list[int]:
        a = [port_entry(seed, "a", k, n, p, r, c) for c in range(n)]
        b = [[port_entry(seed, "b", k, n, p, rr, c) for c in range(n)] for rr in range(n)]
        return [sum(a[t] * b[t][c] for t in range(n)) % p for c in range(n)]

    assert product_row(1, 0) == v["x1_row_0"]
    assert product_row(s["steps"], n - 1) == v["x2_row_last"]
    # the honest node's commitment, computed by the reference node code
    spec = compute.ComputeSpec(
        seed=seed, n=n, steps=s["steps"], p=p, tile_rows=s["tile_rows"], tile_cols=s["tile_cols"],
        openings=s["openings"], claimed_tflops=s["claimed_matmul_tops"],
    )
    work = compute.NodeWork(spec, "cpu")
    assert work.run().root.hex() == v["root_hex"]
    assert spec.n_leaves == v["n_leaves"]
    op = v["opening"]
    opening = work.open(compute.ComputeRequest((op["leaf"],)))
    assert opening.tiles[0].hex() == op["tile_hex"] and opening.tile_proofs[0].hex() == op["proof_hex"]
    root = bytes.fromhex(v["root_hex"])
    assert port_verify(root, bytes.fromhex(op["tile_hex"]), op["leaf"], v["n_leaves"], bytes.fromhex(op["proof_hex"]))
    # the opened tile by hand: leaf -> (step, row block, col block), rows x cols of X_k, row-major
    k0, rest = divmod(op["leaf"], (n // s["tile_rows"]) * (n // s["tile_cols"]))
    i, j = divmod(rest, n // s["tile_cols"])
    assert (k0 + 1, i, j) == spec.tile_of(op["leaf"])
    last_row = product_row(k0 + 1, (i + 1) * s["tile_rows"] - 1)
    tile = bytes.fromhex(op["tile_hex"])
    assert list(tile[-s["tile_cols"]:]) == last_row[j * s["tile_cols"] : (j + 1) * s["tile_cols"]]
    checked = compute.verify(spec, compute.ComputeCommitment(root), compute.ComputeRequest((op["leaf"],)), opening)
    assert checked.passed, checked.reason


def port_memory_blocks(seed: bytes, block_bytes: int, lanes: int, depth: int, rounds: int) -> dict:
    """{(lane, step): words} of the memory fill, as PROTOCOL.md "Memory data" describes it."""

    def keys(name: str) -> tuple[int, int]:
        d = port_derive_key(seed, ["memory", name])
        return int.from_bytes(d[0:4], "little"), int.from_bytes(d[4:8], "little")

    (a1, a2), (b1, b2), (d1, d2) = keys("key1"), keys("key2"), keys("digest")
    w = block_bytes // 4
    mult = [(port_hash_word(j, d1, d2) >> 1) | 1 for j in range(w)]
    blocks = {}
    for lane in range(lanes):
        prev = [0] * w
        for step in range(depth):
            digest = sum(x * m for x, m in zip(prev, mult)) & M32
            ctr = (step * lanes + lane) & M32
            k1 = port_hash_word(ctr, digest ^ a1, a2)
            k2 = port_hash_word(ctr, b1, digest ^ b2)
            out = []
            for j in range(w):
                x = j
                for _ in range(rounds):
                    x = port_hash_word(x, k1, k2)
                out.append(x ^ prev[j - 1])  # prev[-1] for j = 0: roll by one word
            blocks[(lane, step)] = out
            prev = out
    return blocks


def port_nonce_leaf(nonce: bytes, words: list[int]) -> bytes:
    out = nonce
    for k in range(2):
        d = port_derive_key(nonce, ["memory-fp", k])
        k1, k2 = int.from_bytes(d[0:4], "little"), int.from_bytes(d[4:8], "little")
        f = 0
        for j, x in enumerate(words):
            c = (port_hash_word(2 * j, k1, k2) << 32) | port_hash_word(2 * j + 1, k1, k2)
            f = (f + c * x) & 0xFFFFFFFFFFFFFFFF
        out += struct.pack("<Q", f)
    return out


def test_memory_vector() -> None:
    v = VECTORS["memory"]
    s = v["spec"]
    seed = bytes.fromhex(s["seed_hex"])
    blocks = port_memory_blocks(seed, s["block_bytes"], s["lanes"], s["depth"], s["rounds"])
    assert blocks[(0, 0)][:8] == v["block_lane0_step0_words_first8"]
    last = blocks[(1, s["depth"] - 1)]
    assert last[:8] == v["block_lane1_step2_words_first8"] and last[-2:] == v["block_lane1_step2_words_last2"]
    ordered = [blocks[(leaf % s["lanes"], leaf // s["lanes"])] for leaf in range(s["lanes"] * s["depth"])]
    data = [struct.pack(f"<{len(b)}I", *b) for b in ordered]
    assert port_levels(data)[-1][0].hex() == v["fill_root_hex"]
    nonce = bytes.fromhex(v["nonce_hex"])
    leaves = [port_nonce_leaf(nonce, b) for b in ordered]
    assert leaves[0].hex() == v["nonce_leaf_0_hex"]
    assert port_levels(leaves)[-1][0].hex() == v["nonce_root_hex"]
