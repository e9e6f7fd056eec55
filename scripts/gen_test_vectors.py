#!/usr/bin/env python
"""Write (or check) proto/test_vectors.json: the values a port of the PoAI node checks itself against.

    python scripts/gen_test_vectors.py           # rewrite proto/test_vectors.json from the code
    python scripts/gen_test_vectors.py --check   # exit 1 when the file differs from what the code gives

Every vector is computed here by the Python reference code (poai.hello, poai.claim, poai.challenges.common,
poai.merkle, poai.challenges.compute) from fixed inputs; tests/test_poai_protocol_vectors.py recomputes them
and also rebuilds them with small independent implementations written from proto/PROTOCOL.md, so the file,
the code and the document cannot drift apart silently. See PROTOCOL.md "Test vectors" for what each covers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "proto" / "test_vectors.json"
sys.path.insert(0, str(ROOT))

# Fixed inputs (never change them: ports hard-code the outputs).
HELLO_KEY_SEED = bytes(range(32))  # ed25519 private key seed (RFC 8032 "secret key")
HELLO_NONCE = bytes(range(0x40, 0x60))
HELLO_CHALLENGER_ID = "challenger@validator.example:50061"
HELLO_CLAIM = dict(
    device_kind="cuda",
    device_model="NVIDIA H100 80GB HBM3",
    memory_bytes=80 * 2**30,
    claimed_tflops=750.5,  # Claim.claimed_matmul_tops on the wire
    memory_bandwidth_gbs=2039.25,
    backends=("torch", "llama.cpp"),
    agent_version="edgeproof-poai-node/0.2",
)
KEY_SEED = bytes.fromhex("a5" * 32)
KEY_LABELS: list[tuple[Any, ...]] = [("compute", "a1"), ("compute", "b1"), ("memory", "key1"), ()]
HASH_KEYS = (0x12345678, 0x9ABCDEF0)
HASH_COUNTERS = [*range(16), 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
MERKLE_SIZES = (1, 2, 3, 5, 8)
COMPUTE_SEED = bytes(range(100, 132))
MEMORY_SEED = bytes(range(200, 232))
MEMORY_NONCE = bytes(range(1, 33))
MEMORY_SPEC = dict(block_bytes=4096, lanes=2, depth=3, openings=2, rounds=2, claimed_bytes=0,
                   claimed_bandwidth_gbs=0.0)
COMPUTE_SPECS = (
    dict(n=16, steps=2, tile_rows=8, tile_cols=8, openings=4),
    dict(n=32, steps=2, tile_rows=16, tile_cols=16, openings=4),
)


def hello_vector() -> dict[str, Any]:
    from edge_sdk.identity import NodeKey
    from poai.claim import NodeClaim
    from poai.hello import hello_bytes

    key = NodeKey.from_seed(HELLO_KEY_SEED, "ed25519")
    claim = NodeClaim(**HELLO_CLAIM)  # type: ignore[arg-type]
    data = hello_bytes(
        nonce=HELLO_NONCE,
        challenger_id=HELLO_CHALLENGER_ID,
        scheme=key.scheme,
        public_key=key.public_key,
        node_id=key.node_id,
        claim=claim,
    )
    return {
        "scheme": "ed25519",
        "private_key_seed_hex": HELLO_KEY_SEED.hex(),
        "public_key_hex": key.public_key.hex(),
        "node_id": key.node_id,
        "nonce_hex": HELLO_NONCE.hex(),
        "challenger_id": HELLO_CHALLENGER_ID,
        "claim": {
            "device_kind": claim.device_kind,
            "device_model": claim.device_model,
            "memory_bytes": claim.memory_bytes,
            "claimed_matmul_tops": claim.claimed_tflops,
            "memory_bandwidth_gbs": claim.memory_bandwidth_gbs,
            "backends": list(claim.backends),
            "agent_version": claim.agent_version,
        },
        "canonical_bytes_hex": data.hex(),
        "signature_hex": key.sign(data).hex(),
    }


def derive_key_vectors() -> list[dict[str, Any]]:
    from poai.challenges.common import derive_key, derive_u32_pair

    out = []
    for labels in KEY_LABELS:
        k1, k2 = derive_u32_pair(KEY_SEED, *labels)
        out.append(
            {
                "seed_hex": KEY_SEED.hex(),
                "labels": list(labels),
                "digest_hex": derive_key(KEY_SEED, *labels).hex(),
                "k1": k1,
                "k2": k2,
            }
        )
    return out


def hash_words_vector() -> dict[str, Any]:
    import numpy as np

    from poai.challenges.common import hash_words_np

    k1, k2 = HASH_KEYS
    words = hash_words_np(np.array(HASH_COUNTERS, dtype=np.uint32), k1, k2)
    return {"k1": k1, "k2": k2, "counters": HASH_COUNTERS, "words": [int(w) for w in words]}


def merkle_vectors() -> list[dict[str, Any]]:
    from poai.merkle import MerkleTree, pack_proof

    out = []
    for size in MERKLE_SIZES:
        leaves = [bytes([i]) * (i + 1) for i in range(size)]  # leaf i: i+1 bytes of value i
        tree = MerkleTree(leaves)
        out.append(
            {
                "leaves_hex": [x.hex() for x in leaves],
                "leaf_hashes_hex": [tree.leaf(i).hex() for i in range(size)],
                "root_hex": tree.root.hex(),
                "proofs_hex": [pack_proof(tree.proof(i)).hex() for i in range(size)],
            }
        )
    return out


def compute_vectors() -> list[dict[str, Any]]:
    import numpy as np

    from poai.challenges import compute
    from poai.challenges.compute import ComputeSpec, choose_prime
    from poai.challenges.common import derive_u32_pair
    from poai.merkle import MerkleTree, leaf_hash, pack_proof

    out = []
    for sizes in COMPUTE_SPECS:
        n = sizes["n"]
        spec = ComputeSpec(seed=COMPUTE_SEED, p=choose_prime(n), claimed_tflops=1.0, **sizes)
        keys = {f"{m}{k}": list(derive_u32_pair(spec.seed, "compute", f"{m}{k}"))
                for k in range(1, spec.steps + 1) for m in ("a", "b")}
        a1 = compute.gen_rows(spec, "a", 1, 0, 2)
        b1 = compute.gen_rows(spec, "b", 1, 0, 2)
        products = []
        for k in range(1, spec.steps + 1):
            a = compute.gen_rows(spec, "a", k, 0, n).astype(np.int64)
            b = compute.gen_rows(spec, "b", k, 0, n).astype(np.int64)
            products.append(((a @ b) % spec.p).astype(np.uint8))
        tiles = []
        for leaf in range(spec.n_leaves):
            k, i, j = spec.tile_of(leaf)
            x = products[k - 1]
            tile = x[i * spec.tile_rows:(i + 1) * spec.tile_rows, j * spec.tile_cols:(j + 1) * spec.tile_cols]
            tiles.append(np.ascontiguousarray(tile).tobytes())
        tree = MerkleTree(tiles)
        last = spec.n_leaves - 1
        out.append(
            {
                "spec": {
                    "seed_hex": spec.seed.hex(),
                    "n": spec.n,
                    "steps": spec.steps,
                    "p": spec.p,
                    "tile_rows": spec.tile_rows,
                    "tile_cols": spec.tile_cols,
                    "openings": spec.openings,
                    "claimed_matmul_tops": spec.claimed_tflops,
                },
                "keys": keys,
                "a1_rows_0_1": a1.tolist(),
                "b1_rows_0_1": b1.tolist(),
                "x1_row_0": products[0][0].tolist(),
                "x2_row_last": products[-1][-1].tolist(),
                "n_leaves": spec.n_leaves,
                "leaf_hashes_hex_first": [leaf_hash(t).hex() for t in tiles[:2]],
                "root_hex": tree.root.hex(),
                "opening": {
                    "leaf": last,
                    "tile_hex": tiles[last].hex(),
                    "proof_hex": pack_proof(tree.proof(last)).hex(),
                },
            }
        )
    return out


def memory_vector() -> dict[str, Any]:
    import numpy as np

    from poai.challenges import memory
    from poai.challenges.common import derive_u32_pair
    from poai.merkle import MerkleTree

    spec = memory.MemorySpec(seed=MEMORY_SEED, **MEMORY_SPEC)  # type: ignore[arg-type]
    keys = {name: list(derive_u32_pair(spec.seed, "memory", name)) for name in ("key1", "key2", "digest")}
    blocks: dict[tuple[int, int], bytes] = {}
    for lane in range(spec.lanes):
        prev = None
        for step in range(spec.depth):
            words = memory.expected_block(spec, lane, step, prev)
            blocks[(lane, step)] = words.astype("<u4").tobytes()
            prev = words
    ordered = [blocks[spec.block_of(leaf)] for leaf in range(spec.n_blocks)]
    work = memory.NodeWork(spec, "cpu")
    root = work.run().root
    assert root == MerkleTree(ordered).root
    nonce_root = work.nonce_pass(memory.NonceRequest(MEMORY_NONCE)).root
    work.close() if hasattr(work, "close") else None
    coeff_keys = {str(k): list(derive_u32_pair(MEMORY_NONCE, "memory-fp", k)) for k in range(2)}

    def first_words(b: bytes) -> list[int]:
        return np.frombuffer(b, dtype="<u4")[:8].tolist()

    return {
        "spec": {"seed_hex": spec.seed.hex(), **MEMORY_SPEC},
        "keys": keys,
        "block_lane0_step0_words_first8": first_words(blocks[(0, 0)]),
        "block_lane1_step2_words_first8": first_words(blocks[(1, spec.depth - 1)]),
        "block_lane1_step2_words_last2": np.frombuffer(blocks[(1, spec.depth - 1)], dtype="<u4")[-2:].tolist(),
        "fill_root_hex": root.hex(),
        "nonce_hex": MEMORY_NONCE.hex(),
        "fingerprint_keys": coeff_keys,
        "nonce_leaf_0_hex": memory.fingerprint(spec, MEMORY_NONCE, ordered[0]).hex(),
        "nonce_root_hex": nonce_root.hex(),
    }


def build() -> dict[str, Any]:
    return {
        "about": (
            "Test vectors for proto/PROTOCOL.md (PoAI protocol v2). Generated by scripts/gen_test_vectors.py; "
            "checked by tests/test_poai_protocol_vectors.py. Byte strings are lowercase hex; integers are "
            "decimal; floats are IEEE-754 binary64 values written exactly."
        ),
        "protocol_version": 2,
        "hello": hello_vector(),
        "derive_key": derive_key_vectors(),
        "hash_words": hash_words_vector(),
        "merkle": merkle_vectors(),
        "compute": compute_vectors(),
        "memory": memory_vector(),
    }


def render(doc: dict[str, Any]) -> str:
    """Indented JSON with every list of scalars on one line."""
    text = json.dumps(doc, indent=1)
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]", lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 when stale")
    args = parser.parse_args(argv)
    from generated_file import write_or_check

    return write_or_check(VECTORS, render(build()), args.check, ROOT, "python scripts/gen_test_vectors.py")


if __name__ == "__main__":
    sys.exit(main())
