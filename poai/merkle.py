"""SHA-256 Merkle trees: how a node commits to a large result before it knows which parts are checked.

In a session the node builds `MerkleTree(leaves)` over its result (compute tiles, memory blocks, nonce
hashes), sends `tree.root` as its commitment, and later answers an opening of leaf i with `tree.proof(i)`
(or a contiguous run of leaves with `tree.range_proof(start, end)`). The challenger checks with
`verify_proof` / `verify_range`, knowing only the root and the number of leaves from the spec.

Hashing is domain separated (leaf = H(0x00 || data), inner node = H(0x01 || left || right)) so a leaf can
never pass for an inner node. A level with an odd number of nodes carries its last node up unchanged
(no duplication, which avoids the Bitcoin-style duplicate-leaf ambiguity). Proofs are lists of 32-byte
sibling hashes, bottom-up; `pack_proof`/`unpack_proof` turn them into one `bytes` for the wire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "HASH_SIZE",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "pack_proof",
    "unpack_proof",
    "verify_proof",
    "verify_range",
]

HASH_SIZE = 32
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes | bytearray | memoryview) -> bytes:
    h = hashlib.sha256(_LEAF)
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    out = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        out.append(level[-1])
    return out


class MerkleTree:
    """All levels of the tree are kept so proofs are O(log n) lookups."""

    def __init__(self, leaves: Iterable[bytes | bytearray | memoryview]) -> None:
        self._init_levels([leaf_hash(x) for x in leaves])

    @classmethod
    def from_leaf_hashes(cls, hashes: Sequence[bytes]) -> MerkleTree:
        """Build from leaves already hashed with `leaf_hash` (e.g. hashed in worker threads)."""
        tree = cls.__new__(cls)
        tree._init_levels(list(hashes))
        return tree

    def _init_levels(self, hashes: list[bytes]) -> None:
        if not hashes:
            raise ValueError("a Merkle tree needs at least one leaf")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError("leaf hashes must be 32 bytes")
        self.levels: list[list[bytes]] = [hashes]
        while len(self.levels[-1]) > 1:
            self.levels.append(_next_level(self.levels[-1]))

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    @property
    def n_leaves(self) -> int:
        return len(self.levels[0])

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf `index` up to the root."""
        return self.range_proof(index, index + 1)

    def range_proof(self, start: int, end: int) -> list[bytes]:
        """The hashes needed to rebuild the root from leaves [start, end) (one leaf: end = start + 1)."""
        if not (0 <= start < end <= self.n_leaves):
            raise IndexError(f"leaf range [{start}, {end}) outside a tree of {self.n_leaves} leaves")
        out: list[bytes] = []
        lo, hi = start, end - 1
        for level in self.levels[:-1]:
            if lo % 2 == 1:
                out.append(level[lo - 1])
            if hi % 2 == 0 and hi + 1 < len(level):
                out.append(level[hi + 1])
            lo //= 2
            hi //= 2
        return out


def verify_range(
    root: bytes, leaf_hashes: Sequence[bytes], start: int, n_leaves: int, proof: Sequence[bytes]
) -> bool:
    """True when leaves with these hashes sit at [start, start+len) of the tree with this root."""
    count = len(leaf_hashes)
    if count == 0 or start < 0 or start + count > n_leaves or n_leaves <= 0:
        return False
    if any(len(h) != HASH_SIZE for h in leaf_hashes) or any(len(h) != HASH_SIZE for h in proof):
        return False
    nodes = list(leaf_hashes)
    lo, hi, m = start, start + count - 1, n_leaves
    it = iter(proof)
    try:
        while m > 1:
            if lo % 2 == 1:
                nodes.insert(0, next(it))
                lo -= 1
            if hi % 2 == 0 and hi + 1 < m:
                nodes.append(next(it))
                hi += 1
            nodes = _next_level(nodes)
            lo //= 2
            hi //= 2
            m = (m + 1) // 2
    except StopIteration:
        return False
    if next(it, None) is not None:  # unused proof material: not a proof of this position
        return False
    return len(nodes) == 1 and nodes[0] == root


def verify_proof(root: bytes, leaf: bytes, index: int, proof: Sequence[bytes], n_leaves: int) -> bool:
    """True when `leaf` (raw leaf data, hashed here) is leaf `index` of the tree with this root."""
    return verify_range(root, [leaf_hash(leaf)], index, n_leaves, proof)


def pack_proof(proof: Sequence[bytes]) -> bytes:
    return b"".join(proof)


def unpack_proof(data: bytes) -> list[bytes]:
    """Split a packed proof; raises ValueError when the length is not a multiple of 32."""
    if len(data) % HASH_SIZE:
        raise ValueError("a packed Merkle proof must be a multiple of 32 bytes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
