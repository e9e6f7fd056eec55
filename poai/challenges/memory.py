"""Memory (capacity + bandwidth) challenge: fill the claimed memory with a seeded hash chain, commit,
prove it is all still there with a fresh-nonce pass, then answer random block openings under a latency
bound.

Session flow (all times on the challenger's clock, net of RTT; WIRE passes them in `MemoryTimings`):

    spec  = memory.make_spec(budget, rng)                        # challenger
    work  = memory.NodeWork(spec, device); c = work.run()         # node: fill + commit   -> fill_seconds
    nreq  = memory.choose_nonce(spec, c, rng)                     # challenger: fresh nonce, after c
    nc    = work.nonce_pass(nreq)                                 # node: touch every block -> nonce_seconds
    req   = memory.choose_openings(spec, c, rng)                  # challenger: only after nc arrived
    op    = work.open(req)                                        # node: blocks + proofs  -> open_seconds
    res   = memory.verify(spec, c, req, op, nonce_request=nreq, nonce_commitment=nc,
                          timings=MemoryTimings(fill_s, nonce_s, open_s))

The data: `lanes` independent chains of `depth` blocks (lanes let a GPU fill many blocks per kernel launch).
Block (lane l, step i) is b_i = PRG(k_i) XOR roll(b_{i-1}, 1 word), where k_i is derived from the seed,
(l, i) and a digest of the WHOLE previous block. So b_i needs all of b_{i-1}: a node that dropped blocks
can only get them back by re-running the chain from the last block it kept. Leaf = SHA-256 of the block.

The nonce pass: for a fresh nonce the node returns a Merkle root over H(nonce || F(b)) for every block,
where F(b) = s^T B R is a random bilinear fingerprint of the block's bytes (B = bytes as a 256-wide
matrix, R and s drawn from the nonce). F is computed on the device at memory speed and cannot be
precomputed; for b' != b it differs except with probability < 2^-60. Its time measures bandwidth.

Openings: for random leaves the node returns b_i, b_{i-1} and proofs for both trees; the verifier
recomputes f once per opening and F once per opening.

Each chain step hashes every word `rounds` (default 3) times, so regenerating a block costs several times
more than reading it for the fingerprint. Measured on a 2-core x86 CPU (8-32 MiB, 64 KiB blocks):
honest nonce pass / fill time = 0.10-0.17; nodes that re-run the chain for dropped blocks: 0.56-0.80 when
keeping every 2nd or 4th step, 0.59-0.74 when keeping nothing. The default bound is 0.25. Nodes keeping
nothing also blow the openings bound 2-12x (each opening re-runs ~depth/2 steps).

What the bounds do not catch: dropping only a small fraction of blocks (its extra time hides under the
bounds' allowances for transfer and jitter), and a node that slows its fill on purpose to loosen the
fill-relative nonce bound (the fill rate is reported as fill_bandwidth_gbs, and capped by max_fill_s).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from poai.challenges.common import (
    MASK32,
    SEED_BYTES,
    Budget,
    ChallengeError,
    CheckResult,
    WireMixin,
    derive_u32_pair,
    hash_words_np,
    hash_words_torch,
    new_seed,
    pick_device,
    rng_sample,
)
from poai.merkle import HASH_SIZE, MerkleTree, leaf_hash, pack_proof, unpack_proof, verify_proof

__all__ = [
    "MemoryCommitment",
    "MemoryOpening",
    "MemoryRequest",
    "MemorySpec",
    "MemoryTimings",
    "NodeWork",
    "NonceCommitment",
    "NonceRequest",
    "choose_nonce",
    "choose_openings",
    "expected_block",
    "fingerprint",
    "make_spec",
    "nonce_bound_seconds",
    "open_bound_seconds",
    "run_local_session",
    "verify",
]

NAME = "memory"
FP_WIDTH = 256  # fingerprint works on 256 x 256 byte chunks: 256 * 255 * 255 < 2^24, exact in fp32
FP_S = 3
FP_COLS = 8
MIN_BLOCK_BYTES = FP_WIDTH * FP_WIDTH
MAX_BLOCK_BYTES = 64 << 20
NONCE_BYTES = 32


# ----------------------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class MemorySpec(WireMixin):
    seed: bytes
    block_bytes: int
    lanes: int
    depth: int
    openings: int
    open_base_s: float = 0.25
    regen_fraction: float = 0.5
    nonce_fill_ratio: float = 0.25
    nonce_base_s: float = 0.1
    max_fill_s: float = 60.0
    claimed_bytes: int = 0
    rounds: int = 3

    def __post_init__(self) -> None:
        problems = []
        if len(self.seed) != SEED_BYTES:
            problems.append(f"seed must be {SEED_BYTES} bytes")
        if not (MIN_BLOCK_BYTES <= self.block_bytes <= MAX_BLOCK_BYTES) or self.block_bytes % MIN_BLOCK_BYTES:
            problems.append(f"block_bytes must be a multiple of {MIN_BLOCK_BYTES} up to {MAX_BLOCK_BYTES}")
        if self.lanes < 1 or self.depth < 1 or self.lanes * self.depth >= 2**31:
            problems.append("lanes and depth must be >= 1 (and lanes*depth < 2^31)")
        if self.openings < 1:
            problems.append("openings must be >= 1")
        if not 1 <= self.rounds <= 16:
            problems.append("rounds must be in [1, 16]")
        if problems:
            raise ValueError("invalid memory spec: " + "; ".join(problems))

    @property
    def words(self) -> int:
        return self.block_bytes // 4

    @property
    def n_blocks(self) -> int:
        return self.lanes * self.depth

    @property
    def total_bytes(self) -> int:
        return self.n_blocks * self.block_bytes

    def leaf_index(self, lane: int, step: int) -> int:
        return step * self.lanes + lane

    def block_of(self, leaf: int) -> tuple[int, int]:
        """(lane, step) of a leaf index."""
        step, lane = divmod(leaf, self.lanes)
        return lane, step


@dataclass(frozen=True)
class MemoryCommitment(WireMixin):
    root: bytes


@dataclass(frozen=True)
class NonceRequest(WireMixin):
    nonce: bytes


@dataclass(frozen=True)
class NonceCommitment(WireMixin):
    root: bytes


@dataclass(frozen=True)
class MemoryRequest(WireMixin):
    leaves: tuple[int, ...]


@dataclass(frozen=True)
class MemoryOpening(WireMixin):
    """Per opened leaf: the block, its proof, the previous block of the lane (empty at step 0), that
    block's proof, and the proof of the block's nonce leaf in the nonce tree."""

    blocks: tuple[bytes, ...]
    block_proofs: tuple[bytes, ...]
    prev_blocks: tuple[bytes, ...]
    prev_proofs: tuple[bytes, ...]
    nonce_proofs: tuple[bytes, ...]

    @property
    def nbytes(self) -> int:
        return sum(len(x) for part in (self.blocks, self.block_proofs, self.prev_blocks, self.prev_proofs,
                                       self.nonce_proofs) for x in part)


@dataclass(frozen=True)
class MemoryTimings:
    """Challenger-clock durations (net of RTT) of the three node phases."""

    fill_seconds: float
    nonce_seconds: float
    open_seconds: float


def make_spec(budget: Budget, rng: np.random.Generator | None = None) -> MemorySpec:
    lanes = budget.memory_lanes
    depth = max(1, budget.memory_bytes // (budget.memory_block_bytes * lanes))
    return MemorySpec(
        seed=new_seed(rng),
        block_bytes=budget.memory_block_bytes,
        lanes=lanes,
        depth=depth,
        openings=budget.memory_openings,
        open_base_s=budget.memory_open_base_s,
        regen_fraction=budget.memory_regen_fraction,
        nonce_fill_ratio=budget.memory_nonce_fill_ratio,
        nonce_base_s=budget.memory_nonce_base_s,
        max_fill_s=budget.memory_max_fill_s,
        claimed_bytes=int(budget.claimed_memory_bytes),
        rounds=budget.memory_rounds,
    )


def choose_nonce(spec: MemorySpec, commitment: MemoryCommitment,
                 rng: np.random.Generator | None = None) -> NonceRequest:
    """A fresh nonce. Call only after the fill commitment arrived."""
    del spec, commitment
    return NonceRequest(nonce=new_seed(rng))


def choose_openings(spec: MemorySpec, commitment: MemoryCommitment,
                    rng: np.random.Generator | None = None) -> MemoryRequest:
    """Distinct random blocks. Call only after the NONCE commitment arrived (the node must not know which
    nonce leaves are checked while it computes them)."""
    del commitment
    return MemoryRequest(leaves=tuple(rng_sample(rng, spec.n_blocks, spec.openings)))


# ----------------------------------------------------------------------------------- the chain (f)


def _chain_keys(spec: MemorySpec) -> tuple[int, int, int, int, int, int]:
    a = derive_u32_pair(spec.seed, "memory", "key1")
    b = derive_u32_pair(spec.seed, "memory", "key2")
    d = derive_u32_pair(spec.seed, "memory", "digest")
    return (*a, *b, *d)


def _digest_multipliers_np(spec: MemorySpec) -> np.ndarray:
    _, _, _, _, d1, d2 = _chain_keys(spec)
    m = hash_words_np(np.arange(spec.words, dtype=np.uint32), d1, d2)
    return (m >> np.uint32(1)) | np.uint32(1)  # odd, < 2^31 (the torch path multiplies in int64)


def _step_np(spec: MemorySpec, mult: np.ndarray, lanes: np.ndarray, step: int,
             prev: np.ndarray | None) -> np.ndarray:
    """Blocks (len(lanes), words) uint32 at `step` from the previous blocks of those lanes (None at 0)."""
    a1, a2, b1, b2, _, _ = _chain_keys(spec)
    if prev is None:
        digest = np.zeros(len(lanes), dtype=np.uint32)
    else:
        digest = ((prev * mult).sum(axis=1, dtype=np.uint64) & np.uint64(MASK32)).astype(np.uint32)
    ctr = (np.uint32(step) * np.uint32(spec.lanes) + lanes.astype(np.uint32)).astype(np.uint32)
    k1 = hash_words_np(ctr, digest ^ np.uint32(a1), a2)[:, None]
    k2 = hash_words_np(ctr, b1, digest ^ np.uint32(b2))[:, None]
    out = hash_words_np(np.arange(spec.words, dtype=np.uint32)[None, :], k1, k2)
    for _ in range(spec.rounds - 1):
        out = hash_words_np(out, k1, k2)
    if prev is not None:
        out ^= np.roll(prev, 1, axis=1)
    return out


def expected_block(spec: MemorySpec, lane: int, step: int, prev: np.ndarray | None,
                   mult: np.ndarray | None = None) -> np.ndarray:
    """b(lane, step) as uint32 words from the previous block (None at step 0): the verifier's f."""
    mult = _digest_multipliers_np(spec) if mult is None else mult
    p = None if prev is None else prev.reshape(1, spec.words)
    return _step_np(spec, mult, np.array([lane]), step, p)[0]


def _step_torch(spec: MemorySpec, mult: Any, lanes: Any, step: int, prev: Any) -> Any:
    """Same as `_step_np` on int64 tensors holding uint32 values (any device)."""
    import torch

    a1, a2, b1, b2, _, _ = _chain_keys(spec)
    dev = lanes.device
    if prev is None:
        digest = torch.zeros(lanes.shape[0], dtype=torch.int64, device=dev)
    else:
        digest = ((prev * mult) & MASK32).sum(dim=1) & MASK32
    ctr = (step * spec.lanes + lanes) & MASK32
    k1 = hash_words_torch(ctr, digest ^ a1, a2)[:, None]
    k2 = hash_words_torch(ctr, b1, digest ^ b2)[:, None]
    out = hash_words_torch(torch.arange(spec.words, dtype=torch.int64, device=dev)[None, :], k1, k2)
    for _ in range(spec.rounds - 1):
        out = hash_words_torch(out, k1, k2)
    if prev is not None:
        out = out ^ torch.roll(prev, 1, dims=1)
    return out


# ------------------------------------------------------------------------------------- fingerprint
#
# F(b) = (S^T B) R with B = the block's bytes as a (rows x 256) matrix, S (rows x FP_S, entries < 256) and
# R (256 x FP_COLS, entries < 256) drawn from the nonce. For two different blocks, F collides with
# probability <= 256^-FP_S + 256^-FP_COLS (Schwartz-Zippel). S^T B is computed in chunks of 256 rows, so
# every fp32 partial sum is below 256 * 255 * 255 < 2^24 (exact); chunks are added in int64.


def _nonce_params(spec: MemorySpec, nonce: bytes) -> tuple[np.ndarray, np.ndarray]:
    """S as (chunks, FP_S, 256) float32 and R as (256, FP_COLS) int64 for this nonce."""
    s1, s2 = derive_u32_pair(nonce, "memory-fp", "S")
    r1, r2 = derive_u32_pair(nonce, "memory-fp", "R")
    rows = spec.block_bytes // FP_WIDTH
    smat = hash_words_np(np.arange(FP_S * rows, dtype=np.uint32), s1, s2) & np.uint32(0xFF)
    smat = smat.reshape(FP_S, rows // FP_WIDTH, FP_WIDTH).transpose(1, 0, 2).astype(np.float32)
    rmat = hash_words_np(np.arange(FP_WIDTH * FP_COLS, dtype=np.uint32), r1, r2) & np.uint32(0xFF)
    return np.ascontiguousarray(smat), rmat.reshape(FP_WIDTH, FP_COLS).astype(np.int64)


def _fingerprints_np(spec: MemorySpec, smat: np.ndarray, rmat: np.ndarray,
                     blocks_u8: np.ndarray) -> np.ndarray:
    """(B, block_bytes) uint8 -> (B, FP_S * FP_COLS) int64. Small batched matmuls: single-threaded BLAS."""
    nb = blocks_u8.shape[0]
    chunks = spec.block_bytes // (FP_WIDTH * FP_WIDTH)
    bf = blocks_u8.reshape(nb, chunks, FP_WIDTH, FP_WIDTH).astype(np.float32)
    u = np.matmul(smat[None], bf).astype(np.int64).sum(axis=1)  # (B, FP_S, 256)
    return (u @ rmat).reshape(nb, -1)


def fingerprint(spec: MemorySpec, nonce: bytes, block: bytes) -> bytes:
    """The nonce leaf data of one block: nonce || F(block) as little-endian int64 (verifier version)."""
    smat, rmat = _nonce_params(spec, nonce)
    raw = np.frombuffer(block, dtype=np.uint8).reshape(1, -1)
    return nonce + _fingerprints_np(spec, smat, rmat, raw)[0].astype("<i8").tobytes()


def _fingerprints_torch(spec: MemorySpec, nonce: bytes, blocks_u8: Any) -> np.ndarray:
    """Same as `_fingerprints_np` for a (B, block_bytes) uint8 tensor on any device."""
    import torch

    smat, rmat = _nonce_params(spec, nonce)
    dev = blocks_u8.device
    nb = blocks_u8.shape[0]
    chunks = spec.block_bytes // (FP_WIDTH * FP_WIDTH)
    bf = blocks_u8.reshape(nb, chunks, FP_WIDTH, FP_WIDTH).to(torch.float32)
    u = torch.matmul(torch.from_numpy(smat).to(dev)[None], bf).to(torch.int64).sum(dim=1)
    f = (u[..., None] * torch.from_numpy(rmat).to(dev)[None, None]).sum(dim=2)  # int64 on every device
    return f.reshape(nb, -1).cpu().numpy()


# ---------------------------------------------------------------------------------------- node side


def _to_i32(x: Any) -> Any:
    import torch

    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


class NodeWork:
    """The node's side: `run()` fills and commits, `nonce_pass()` and `open()` answer the later rounds.

    On CPU the chain runs in numpy and the blocks live in one uint32 array; on other devices it runs as
    int64 torch kernels and the blocks live on the device as int32 (kernel="torch" forces that path).
    Subclasses in tests override `_next_step`/`_put_step`/`_get_step` to model nodes that fake or drop
    blocks (what is committed is what `_next_step` returned).
    """

    def __init__(self, spec: MemorySpec, device: Any = None, kernel: str = "auto",
                 hash_threads: int | None = None) -> None:
        self.spec = spec
        self.device = pick_device(device)
        self.use_torch = kernel == "torch" or (kernel == "auto" and self.device.type != "cpu")
        self.hash_threads = hash_threads or max(1, min(8, os.cpu_count() or 1))
        self.lane_chunk = max(1, (64 << 20) // (spec.words * 8))
        self.tree: MerkleTree | None = None
        self.nonce_tree: MerkleTree | None = None
        self.blocks: Any = None
        self.phase_seconds: dict[str, float] = {}

    # -- storage helpers (overridden by cheating nodes in tests)

    def _allocate(self) -> None:
        s = self.spec
        try:
            if self.use_torch:
                import torch

                self.blocks = torch.empty((s.depth, s.lanes, s.words), dtype=torch.int32, device=self.device)
            else:
                self.blocks = np.empty((s.depth, s.lanes, s.words), dtype=np.uint32)
        except (MemoryError, RuntimeError) as exc:
            raise ChallengeError(f"cannot allocate {s.total_bytes} bytes for the memory challenge: {exc}") \
                from exc

    def _next_step(self, step: int, prev: np.ndarray | None) -> np.ndarray:
        """All lanes' blocks at `step` computed from the previous step (numpy path)."""
        return _step_np(self.spec, self._mult_np, self._lanes_np, step, prev)

    def _put_step(self, step: int, blocks: np.ndarray) -> None:
        """Store all lanes' blocks of `step` (numpy path)."""
        self.blocks[step] = blocks

    def _get_step(self, step: int) -> np.ndarray:
        """All lanes' blocks at `step` as host uint32 (lanes, words)."""
        if self.use_torch:
            return self.blocks[step].cpu().numpy().view(np.uint32)
        return self.blocks[step]

    def _get_block(self, lane: int, step: int) -> np.ndarray:
        return self._get_step(step)[lane]

    def _device_step(self, step: int) -> Any:
        """All lanes' blocks at `step` as a uint8 (lanes, block_bytes) tensor on the device (torch path)."""
        import torch

        return self.blocks[step].view(torch.uint8).reshape(self.spec.lanes, -1)

    def _host_step_u8(self, step: int) -> np.ndarray:
        """All lanes' blocks at `step` as host uint8 (lanes, block_bytes) (numpy path)."""
        return np.ascontiguousarray(self._get_step(step)).view(np.uint8)

    # -- phases

    def run(self) -> MemoryCommitment:
        s = self.spec
        t0 = time.perf_counter()
        self._allocate()
        futures = []
        with ThreadPoolExecutor(self.hash_threads) as pool:
            if self.use_torch:
                import torch

                with torch.inference_mode():
                    lanes = torch.arange(s.lanes, dtype=torch.int64, device=self.device)
                    mult = torch.from_numpy(_digest_multipliers_np(s).astype(np.int64)).to(self.device)
                    for step in range(s.depth):
                        # a few lanes at a time: int64 temporaries stay ~64 MiB whatever the claim
                        for l0 in range(0, s.lanes, self.lane_chunk):
                            l1 = min(s.lanes, l0 + self.lane_chunk)
                            prev = (None if step == 0
                                    else self.blocks[step - 1, l0:l1].to(torch.int64) & MASK32)
                            out = _step_torch(s, mult, lanes[l0:l1], step, prev)
                            self.blocks[step, l0:l1] = _to_i32(out)
                        host = self.blocks[step].cpu().numpy()
                        futures.append(pool.submit(lambda h: [leaf_hash(row) for row in h], host))
            else:
                self._lanes_np = np.arange(s.lanes)
                self._mult_np = _digest_multipliers_np(s)
                prev_np = None
                for step in range(s.depth):
                    prev_np = self._next_step(step, prev_np)
                    self._put_step(step, prev_np)
                    futures.append(pool.submit(lambda h: [leaf_hash(row) for row in h], prev_np))
            t1 = time.perf_counter()
            hashes = [h for f in futures for h in f.result()]
        self.tree = MerkleTree.from_leaf_hashes(hashes)
        self.phase_seconds = {"fill": t1 - t0, "hash_tail_and_tree": time.perf_counter() - t1}
        return MemoryCommitment(root=self.tree.root)

    def nonce_pass(self, request: NonceRequest) -> NonceCommitment:
        import torch

        if self.tree is None:
            raise ChallengeError("nonce_pass() called before run()")
        s = self.spec
        nonce = request.nonce
        if len(nonce) != NONCE_BYTES:
            raise ChallengeError(f"nonce must be {NONCE_BYTES} bytes")
        t0 = time.perf_counter()
        leaves: list[bytes] = []
        smat, rmat = _nonce_params(s, nonce)
        if self.use_torch:
            with torch.inference_mode():
                for step in range(s.depth):
                    dev = self._device_step(step)
                    f = np.concatenate([_fingerprints_torch(s, nonce, dev[l0:l0 + self.lane_chunk])
                                        for l0 in range(0, s.lanes, self.lane_chunk)])
                    leaves.extend(leaf_hash(nonce + row.astype("<i8").tobytes()) for row in f)
        else:
            # one step (lanes x block) at a time: small matmuls stay in cache; threads measured slower here
            for step in range(s.depth):
                f = _fingerprints_np(s, smat, rmat, self._host_step_u8(step))
                leaves.extend(leaf_hash(nonce + row.astype("<i8").tobytes()) for row in f)
        self.nonce_tree = MerkleTree.from_leaf_hashes(leaves)
        self.phase_seconds["nonce"] = time.perf_counter() - t0
        return NonceCommitment(root=self.nonce_tree.root)

    def open(self, request: MemoryRequest) -> MemoryOpening:
        if self.tree is None or self.nonce_tree is None:
            raise ChallengeError("open() called before run() and nonce_pass()")
        s = self.spec
        blocks, bproofs, prevs, pproofs, nproofs = [], [], [], [], []
        for leaf in request.leaves:
            if not 0 <= leaf < s.n_blocks:
                raise ChallengeError(f"block {leaf} outside the {s.n_blocks} committed blocks")
            lane, step = s.block_of(leaf)
            blocks.append(np.ascontiguousarray(self._get_block(lane, step)).astype("<u4").tobytes())
            bproofs.append(pack_proof(self.tree.proof(leaf)))
            if step == 0:
                prevs.append(b"")
                pproofs.append(b"")
            else:
                prevs.append(np.ascontiguousarray(self._get_block(lane, step - 1)).astype("<u4").tobytes())
                pproofs.append(pack_proof(self.tree.proof(s.leaf_index(lane, step - 1))))
            nproofs.append(pack_proof(self.nonce_tree.proof(leaf)))
        return MemoryOpening(tuple(blocks), tuple(bproofs), tuple(prevs), tuple(pproofs), tuple(nproofs))


# ------------------------------------------------------------------------------------ verifier side


def open_bound_seconds(spec: MemorySpec, fill_seconds: float, n_openings: int) -> float:
    """Answering the openings may cost at most `regen_fraction` block generations each, plus the base."""
    return spec.open_base_s + n_openings * spec.regen_fraction * fill_seconds / spec.n_blocks


def nonce_bound_seconds(spec: MemorySpec, fill_seconds: float) -> float:
    return max(spec.nonce_base_s, spec.nonce_fill_ratio * fill_seconds)


def _check_one(spec: MemorySpec, root: bytes, nonce: bytes, nonce_root: bytes, mult: np.ndarray, leaf: int,
               block: bytes, bproof: bytes, prev: bytes, pproof: bytes, nproof: bytes) -> str | None:
    lane, step = spec.block_of(leaf)
    where = f"block (lane {lane}, step {step})"
    if len(block) != spec.block_bytes:
        return f"{where}: {len(block)} bytes, expected {spec.block_bytes}"
    try:
        bpath, ppath, npath = unpack_proof(bproof), unpack_proof(pproof), unpack_proof(nproof)
    except ValueError as exc:
        return f"{where}: {exc}"
    if not verify_proof(root, block, leaf, bpath, spec.n_blocks):
        return f"{where}: not in the committed tree"
    if step == 0:
        if prev or ppath:
            return f"{where}: step 0 has no previous block"
        prev_words = None
    else:
        if len(prev) != spec.block_bytes:
            return f"{where}: previous block of {len(prev)} bytes"
        if not verify_proof(root, prev, spec.leaf_index(lane, step - 1), ppath, spec.n_blocks):
            return f"{where}: previous block not in the committed tree"
        prev_words = np.frombuffer(prev, dtype="<u4")
    want = expected_block(spec, lane, step, prev_words, mult)
    if want.astype("<u4").tobytes() != block:
        return f"{where}: does not follow from the previous block and the seed"
    if not verify_proof(nonce_root, fingerprint(spec, nonce, block), leaf, npath, spec.n_blocks):
        return f"{where}: nonce hash does not match the block"
    return None


def verify(
    spec: MemorySpec,
    commitment: MemoryCommitment,
    request: MemoryRequest,
    opening: MemoryOpening,
    *,
    nonce_request: NonceRequest,
    nonce_commitment: NonceCommitment,
    timings: MemoryTimings,
) -> CheckResult:
    """Check every opened block (chain step, both trees) and the three timing bounds."""
    t0 = time.perf_counter()
    problems: list[str] = []
    n_open = len(request.leaves)
    lists = (opening.blocks, opening.block_proofs, opening.prev_blocks, opening.prev_proofs,
             opening.nonce_proofs)
    if len(commitment.root) != HASH_SIZE or len(nonce_commitment.root) != HASH_SIZE:
        problems.append("a commitment root is not 32 bytes")
    elif len(nonce_request.nonce) != NONCE_BYTES:
        problems.append("nonce is not 32 bytes")
    elif any(len(x) != n_open for x in lists):
        problems.append(f"opening has {[len(x) for x in lists]} entries for {n_open} requested blocks")
    elif len(set(request.leaves)) != n_open or any(not 0 <= x < spec.n_blocks for x in request.leaves):
        problems.append("request leaves are out of range or repeated")
    else:
        mult = _digest_multipliers_np(spec)
        for leaf, *parts in zip(request.leaves, *lists):
            err = _check_one(spec, commitment.root, nonce_request.nonce, nonce_commitment.root, mult, leaf,
                             *parts)
            if err:
                problems.append(err)
    bad_openings = len(problems)
    fill, nonce_s, open_s = timings.fill_seconds, timings.nonce_seconds, timings.open_seconds
    open_bound = open_bound_seconds(spec, fill, n_open)
    nonce_bound = nonce_bound_seconds(spec, fill)
    if fill > spec.max_fill_s:
        problems.append(f"fill took {fill:.3f}s, more than the {spec.max_fill_s:.3f}s allowed")
    if nonce_s > nonce_bound:
        problems.append(f"nonce pass took {nonce_s:.3f}s > bound {nonce_bound:.3f}s "
                        f"({spec.nonce_fill_ratio:g} x fill): blocks regenerated instead of kept?")
    if open_s > open_bound:
        problems.append(f"openings took {open_s:.3f}s > latency bound {open_bound:.3f}s: "
                        "blocks regenerated on request?")
    verify_seconds = time.perf_counter() - t0
    metrics = {
        "memory_bytes": float(spec.total_bytes),
        "claimed_memory_bytes": float(spec.claimed_bytes),
        "openings": float(n_open),
        "bad_openings": float(bad_openings),
        "bytes_opened": float(opening.nbytes),
        "fill_seconds": float(fill),
        "nonce_seconds": float(nonce_s),
        "open_seconds": float(open_s),
        "open_bound_seconds": open_bound,
        "nonce_bound_seconds": nonce_bound,
        "nonce_fill_ratio": nonce_s / fill if fill > 0 else 0.0,
        "fill_bandwidth_gbs": spec.total_bytes / fill / 1e9 if fill > 0 else 0.0,
        "nonce_bandwidth_gbs": spec.total_bytes / nonce_s / 1e9 if nonce_s > 0 else 0.0,
        "verify_seconds": verify_seconds,
    }
    passed = not problems
    reason = (f"{n_open} blocks checked; nonce pass {metrics['nonce_bandwidth_gbs']:.2f} GB/s"
              if passed else f"{len(problems)} problem(s); first: {problems[0]}")
    result = CheckResult(NAME, passed, reason, metrics, verify_seconds)
    return result.with_node_seconds(fill + nonce_s + open_s)


def run_local_session(spec: MemorySpec, work: NodeWork, rng: np.random.Generator | None = None, *,
                      node_nonce: NonceRequest | None = None) -> CheckResult:
    """The whole flow of the module docstring in this process, each node phase timed with perf_counter (no
    RTT to subtract): for tests and benchmarks. `node_nonce` is sent to the node instead of the fresh nonce
    the verifier checks against (a node answering with a stale nonce)."""
    t = time.perf_counter()
    commitment = work.run()
    fill_s = time.perf_counter() - t
    nonce_request = choose_nonce(spec, commitment, rng)
    t = time.perf_counter()
    nonce_commitment = work.nonce_pass(node_nonce or nonce_request)
    nonce_s = time.perf_counter() - t
    request = choose_openings(spec, commitment, rng)
    t = time.perf_counter()
    opening = work.open(request)
    open_s = time.perf_counter() - t
    return verify(spec, commitment, request, opening, nonce_request=nonce_request,
                  nonce_commitment=nonce_commitment, timings=MemoryTimings(fill_s, nonce_s, open_s))
