"""Memory (capacity + bandwidth) challenge: fill the claimed memory with a seeded hash chain, commit, prove
it is all still there with a fresh-nonce pass timed against the claimed bandwidth, then open random blocks.

Session flow (all times on the challenger's clock, net of RTT; the wire passes them in `MemoryTimings`):

    spec  = memory.make_spec(budget)                               # challenger: seed from `secrets`
    work  = memory.NodeWork(spec, device); c = work.run()          # node: fill + commit   -> fill_seconds
    nreq  = memory.choose_nonce(spec, c)                           # challenger: fresh nonce, after c
    nc    = work.nonce_pass(nreq)                                  # node: read every block -> nonce_seconds
    req   = memory.choose_openings(spec, c)                        # challenger: only after nc arrived
    op    = work.open(req)                                         # node: blocks + proofs  -> open_seconds
    res   = memory.verify(spec, c, req, op, nonce_request=nreq, nonce_commitment=nc,
                          timings=MemoryTimings(fill_s, nonce_s, open_s), bounds=MemoryBounds())

The data: `lanes` independent chains of `depth` blocks of `block_bytes` (lanes let a device fill many
blocks per kernel call). Block (lane l, step i) is b_i = G(k_i) XOR roll(b_{i-1}, 1 word), where
k_i = (k1, k2) is derived from the seed, the counter i * lanes + l and a digest of the WHOLE previous
block, and G(k)[j] = h^rounds(j; k1, k2) applies the keyed 32-bit mixing hash `hash_words` `rounds` times
to the word index j (b_{-1} = zeros). Leaf = SHA-256 of the block. So b_i needs all of b_{i-1}: a node
that dropped a block gets it back only by re-running the chain from the last block of its lane it kept.

The nonce pass: for a fresh 32-byte nonce the node returns the Merkle root over
H(nonce || F_0(b) || F_1(b)) for every block, where F_k(b) = sum_j c_k[j] * w_j mod 2^64 over the
block's little-endian uint32 words w_j, with 64-bit coefficients c_k drawn from the nonce. For blocks
b != b' a coefficient vector collides with probability <= 2^-33 (the difference has a word of 2-adic
valuation v <= 31, so <= 2^(v-64) of the coefficients cancel it), both with <= 2^-66. F cannot be
computed before the nonce is known and needs every word: its time is the node's bandwidth.

Openings: for m random leaves the node returns b_i, b_{i-1} and the proofs in both trees; the verifier
recomputes b_i from b_{i-1} (one chain step) and F(b_i), all openings in one batch.

What the design guarantees, with the numbers of the default `standard` plan for a 256 MiB CPU claim
(230 MiB in 14720 blocks of 16 KiB, 64 lanes, rounds = 16, 128 openings) and MemoryBounds(); measured on a
2-core AMD EPYC (Zen 5) VM, see poai/challenges/memory/CALIBRATION.md:

1. Missing or wrong data at nonce time. A node whose stored data is wrong or missing for a fraction d of
   the blocks when the nonce arrives either commits wrong nonce leaves for them - then it survives the m
   openings with probability <= (1-d)^m: m = 128 gives d = 5% -> 0.14%, 10% -> 1.4e-6, 25% -> 1e-16
   (measured over 4000 draws: 7, 0, 0 survivors) - or it recomputes them inside the timed nonce pass (2).
   The openings come from `secrets` after the nonce root arrived. The same (1-d)^m holds for committed
   blocks that do not follow from their committed parent.
2. Recomputing inside the nonce pass costs at least one chain step per dropped block (its parent may be
   kept): X = rounds x 18 32-bit operations per word (4 of them multiplies) = 1.2 M operations per 16 KiB
   block, measured 78 us in numpy on one core (the reference agent; 141 us with the core's sibling hogged)
   against 5.3 us to read and fingerprint it in the pass: R = 15 (13-16 measured). A node that recomputes
   a fraction d needs (1 + d R) x its honest pass time on one core, so its measured bandwidth falls by
   that factor: d = 5% -> x0.57 (measured x0.48), 10% -> x0.40 (x0.35), 25% -> x0.21 (x0.20). It fails
   outright when the pass exceeds nonce_base_s + nonce_slack x total_bytes / claimed bandwidth (the
   claim floored at floor_gbs): with the agent's claim (0.8 x self-measured) that is 1 + d R > ~3.75,
   d > ~18% (d > ~23% at 256 MiB, where the 0.05 s base is a larger share; 25% measured: fails). Every
   number in the bound is fixed before the node does anything; how long it filled changes nothing.
3. On a pass the result carries `verified_bytes` (total bytes), `nonce_bandwidth_gbs` (challenger clock),
   `bandwidth_ratio` (measured / claimed-or-floor) and `fill_bandwidth_gbs`: whatever a node does, it
   held every block, or recomputed it at the bandwidth cost of (2), which the measured bandwidth shows.

What the design does NOT catch (see poai/challenges/memory/CALIBRATION.md):
- Recomputation paid for with bandwidth. Within the slack a node recomputes up to d = (slack x ratio - 1)
  / R of its blocks with one core (more with several cores), and a node that claims little (0 is planned
  at floor_gbs = 1.5 GB/s) gets a longer pass. Faster code shrinks R: hand-vectorised AVX-512 C recomputes
  a block in 12 us (1.36 GB/s per core, 6.5x numpy) and reads one in 1.1 us (14.4 GB/s): a native node
  that stores NOTHING passes the floor-planned bound at 256 MiB with one core, measured at ~1.3 GB/s per
  core it spends. So `verified_bytes` is capacity at the measured bandwidth, not capacity alone: the
  scorer must weigh it by `nonce_bandwidth_gbs` / `bandwidth_ratio`, and should not pay for capacity
  whose measured bandwidth is within reach of recomputation (~1.4 GB/s per CPU core at rounds = 16; a GPU
  recomputes far faster).
- Where the data lives: a node that reaches the blocks on another device at the claimed bandwidth passes.
- The fill time proves nothing about storage (it is only capped, and reported as fill_bandwidth_gbs).
- The openings bound is loose (transfer of 2 blocks per opening over any network): it stops long
  recomputation on request only; the capacity proof is the nonce pass.
- Timings are net of the RTT the session subtracts; a node that could inflate that estimate gains it.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from poai.challenges.common import (
    _M1,
    _M2,
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
    "DEFAULT_OPENINGS",
    "DEFAULT_ROUNDS",
    "MemoryBounds",
    "MemoryCommitment",
    "MemoryOpening",
    "MemoryRequest",
    "MemorySpec",
    "MemoryTimings",
    "NodeWork",
    "NonceCommitment",
    "NonceRequest",
    "check_openings",
    "choose_nonce",
    "choose_openings",
    "expected_block",
    "fill_bound_seconds",
    "fingerprint",
    "make_spec",
    "measure_nonce_bandwidth_gbs",
    "nonce_bound_seconds",
    "open_bound_seconds",
    "run_local_session",
    "verify",
]

NAME = "memory"
WORD_BYTES = 4
BLOCK_ALIGN = 4096
MIN_BLOCK_BYTES = BLOCK_ALIGN
MAX_BLOCK_BYTES = 64 << 20
MAX_ROUNDS = 64
MAX_OPENINGS = 4096
MAX_CLAIMED_BANDWIDTH_GBS = 1.0e5  # 100 TB/s: anything above is not a device
NONCE_BYTES = 32
FP_K = 2  # 64-bit fingerprints per block
DEFAULT_ROUNDS = 16
DEFAULT_OPENINGS = 128
_CHUNK_WORDS = 32768  # the chain runs every round over ~128 KiB pieces that stay in L2


# ----------------------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class MemorySpec(WireMixin):
    seed: bytes
    block_bytes: int
    lanes: int
    depth: int
    openings: int
    rounds: int = DEFAULT_ROUNDS
    claimed_bytes: int = 0
    claimed_bandwidth_gbs: float = 0.0  # the node's claimed nonce-pass bandwidth (0: none claimed)

    def __post_init__(self) -> None:
        problems = []
        if len(self.seed) != SEED_BYTES:
            problems.append(f"seed must be {SEED_BYTES} bytes")
        if not (MIN_BLOCK_BYTES <= self.block_bytes <= MAX_BLOCK_BYTES) or self.block_bytes % BLOCK_ALIGN:
            problems.append(f"block_bytes must be a multiple of {BLOCK_ALIGN} in [{MIN_BLOCK_BYTES}, "
                            f"{MAX_BLOCK_BYTES}]")
        if self.lanes < 1 or self.depth < 1 or self.lanes * self.depth >= 2**31:
            problems.append("lanes and depth must be >= 1 (and lanes*depth < 2^31)")
        if not 1 <= self.openings <= MAX_OPENINGS:
            problems.append(f"openings must be in [1, {MAX_OPENINGS}]")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            problems.append(f"rounds must be in [1, {MAX_ROUNDS}]")
        if not 0 <= self.claimed_bytes < 2**62:
            problems.append("claimed_bytes must be in [0, 2^62)")
        bw = self.claimed_bandwidth_gbs
        if not (isinstance(bw, (int, float)) and math.isfinite(bw) and 0.0 <= bw <= MAX_CLAIMED_BANDWIDTH_GBS):
            problems.append(f"claimed_bandwidth_gbs must be finite and in [0, {MAX_CLAIMED_BANDWIDTH_GBS:g}]")
        if problems:
            raise ValueError("invalid memory spec: " + "; ".join(problems))

    @property
    def words(self) -> int:
        return self.block_bytes // WORD_BYTES

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


@dataclass(frozen=True)
class MemoryBounds:
    """The verifier's time limits. None of them depends on anything the node did in the session: they
    follow from the spec (sizes, the claimed bandwidth) and these constants, calibrated in
    poai/challenges/memory/CALIBRATION.md from honest sessions (session bandwidth / self-measured bandwidth) idle and with
    a core hogged, on this machine and with a margin for machines of the same kind.

    nonce pass  <= nonce_base_s + nonce_slack * total_bytes / max(claimed, floor_gbs)
    fill        <= fill_base_s + total_bytes * (rounds / DEFAULT_ROUNDS) / fill_floor_gbs
    openings    <= open_base_s + opened block bytes / open_floor_gbs
    """

    nonce_slack: float = 3.0  # honest pass bandwidth / claim: >= 0.38 worst case measured (see the doc)
    nonce_base_s: float = 0.05  # timing jitter (RTT estimate, thread hand-off); per-block costs are in the claim
    floor_gbs: float = 1.5  # claims below this (0 = none) are planned at this bandwidth
    fill_floor_gbs: float = 0.01  # fill bandwidth at DEFAULT_ROUNDS no device of interest is below
    fill_base_s: float = 10.0
    open_base_s: float = 0.5  # transfer latency, serialisation, jitter
    open_floor_gbs: float = 0.05  # opened bytes (2 blocks per opening) move at least this fast

    def effective_bandwidth_gbs(self, spec: MemorySpec) -> float:
        """The bandwidth the nonce bound assumes: the claim, floored."""
        return max(float(spec.claimed_bandwidth_gbs), self.floor_gbs)


DEFAULT_BOUNDS = MemoryBounds()


def nonce_bound_seconds(spec: MemorySpec, bounds: MemoryBounds | None = None) -> float:
    b = bounds or DEFAULT_BOUNDS
    return b.nonce_base_s + b.nonce_slack * spec.total_bytes / (b.effective_bandwidth_gbs(spec) * 1e9)


def fill_bound_seconds(spec: MemorySpec, bounds: MemoryBounds | None = None) -> float:
    b = bounds or DEFAULT_BOUNDS
    return b.fill_base_s + spec.total_bytes * (spec.rounds / DEFAULT_ROUNDS) / (b.fill_floor_gbs * 1e9)


def open_bound_seconds(spec: MemorySpec, n_openings: int, bounds: MemoryBounds | None = None) -> float:
    b = bounds or DEFAULT_BOUNDS
    return b.open_base_s + n_openings * 2 * spec.block_bytes / (b.open_floor_gbs * 1e9)


def make_spec(budget: Budget, rng: np.random.Generator | None = None) -> MemorySpec:
    """The spec for `budget`. The seed comes from `secrets` unless a test passes `rng`."""
    lanes = budget.memory_lanes
    depth = max(1, budget.memory_bytes // (budget.memory_block_bytes * lanes))
    return MemorySpec(
        seed=new_seed(rng),
        block_bytes=budget.memory_block_bytes,
        lanes=lanes,
        depth=depth,
        openings=budget.memory_openings,
        rounds=budget.memory_rounds,
        claimed_bytes=int(budget.claimed_memory_bytes),
        claimed_bandwidth_gbs=float(budget.claimed_memory_bandwidth_gbs),
    )


def choose_nonce(spec: MemorySpec, commitment: MemoryCommitment,
                 rng: np.random.Generator | None = None) -> NonceRequest:
    """A fresh nonce from `secrets` (`rng` only for reproducible tests). Call only after the fill
    commitment arrived."""
    del spec, commitment
    return NonceRequest(nonce=secrets.token_bytes(NONCE_BYTES) if rng is None else rng.bytes(NONCE_BYTES))


def choose_openings(spec: MemorySpec, commitment: MemoryCommitment,
                    rng: np.random.Generator | None = None) -> MemoryRequest:
    """Distinct random blocks from `secrets` (`rng` only for reproducible tests), never from anything the
    node saw. Call only after the NONCE commitment arrived (the node must not know which nonce leaves are
    checked while it computes them)."""
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


_U16, _U15 = np.uint32(16), np.uint32(15)
_UM1, _UM2 = np.uint32(_M1), np.uint32(_M2)


def _mix_inplace(x: np.ndarray, t: np.ndarray) -> None:
    """common._mix_np without temporaries (x updated in place, t scratch of x's shape)."""
    np.right_shift(x, _U16, out=t)
    x ^= t
    x *= _UM1
    np.right_shift(x, _U15, out=t)
    x ^= t
    x *= _UM2
    np.right_shift(x, _U16, out=t)
    x ^= t


def _blocks_np(spec: MemorySpec, mult: np.ndarray, ctr: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Blocks (n, words) uint32 for rows with counters `ctr` = step * lanes + lane, from the previous
    blocks `prev` (n, words) of those rows (zeros at step 0). The verifier's f, batched."""
    a1, a2, b1, b2, _, _ = _chain_keys(spec)
    n, w = prev.shape
    digest = ((prev * mult).sum(axis=1, dtype=np.uint64) & np.uint64(MASK32)).astype(np.uint32)
    ctr = np.asarray(ctr, dtype=np.uint32)
    k1 = hash_words_np(ctr, digest ^ np.uint32(a1), a2)[:, None]
    k2 = hash_words_np(ctr, b1, digest ^ np.uint32(b2))[:, None]
    out = np.empty((n, w), dtype=np.uint32)
    cols = min(w, _CHUNK_WORDS)
    rows = max(1, _CHUNK_WORDS // cols)
    scratch = np.empty((rows, cols), dtype=np.uint32)
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        ka, kb = k1[r0:r1], k2[r0:r1]
        for c0 in range(0, w, cols):
            c1 = min(w, c0 + cols)
            x = out[r0:r1, c0:c1]
            t = scratch[: r1 - r0, : c1 - c0]
            x[...] = np.arange(c0, c1, dtype=np.uint32)
            for _ in range(spec.rounds):  # x = hash_words(x; k1, k2), `rounds` times
                x ^= ka
                _mix_inplace(x, t)
                x ^= kb
                _mix_inplace(x, t)
    out[:, 1:] ^= prev[:, :-1]  # XOR roll(prev, 1 word)
    out[:, 0] ^= prev[:, -1]
    return out


def _step_np(spec: MemorySpec, mult: np.ndarray, lanes: np.ndarray, step: int,
             prev: np.ndarray | None) -> np.ndarray:
    """Blocks (len(lanes), words) uint32 at `step` from the previous blocks of those lanes (None at 0)."""
    lanes = np.asarray(lanes)
    if prev is None:
        prev = np.zeros((len(lanes), spec.words), dtype=np.uint32)
    ctr = np.uint32(step) * np.uint32(spec.lanes) + lanes.astype(np.uint32)
    return _blocks_np(spec, mult, ctr, prev)


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
    out = torch.arange(spec.words, dtype=torch.int64, device=dev)[None, :]
    for _ in range(spec.rounds):
        out = hash_words_torch(out, k1, k2)
    if prev is not None:
        out = out ^ torch.roll(prev, 1, dims=1)
    return out


# ------------------------------------------------------------------------------------- fingerprint


def _nonce_coeffs(spec: MemorySpec, nonce: bytes) -> np.ndarray:
    """(words, FP_K) uint64 coefficients of the nonce pass: c_k[j] = h(2j) << 32 | h(2j + 1) with h the
    counter hash keyed by derive_u32_pair(nonce, "memory-fp", k)."""
    idx = np.arange(2 * spec.words, dtype=np.uint32)
    cols = []
    for k in range(FP_K):
        k1, k2 = derive_u32_pair(nonce, "memory-fp", k)
        h = hash_words_np(idx, k1, k2).astype(np.uint64)
        cols.append((h[0::2] << np.uint64(32)) | h[1::2])
    return np.ascontiguousarray(np.stack(cols, axis=1))


def _fingerprints_np(coeffs: np.ndarray, words: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
    """(B, FP_K) uint64 F(b) of blocks given as (B, words) uint32 (uint64 arithmetic wraps mod 2^64)."""
    if buf is None or buf.shape != words.shape:
        buf = np.empty(words.shape, dtype=np.uint64)
    np.copyto(buf, words)
    return buf @ coeffs


def _nonce_leaf(nonce: bytes, f: np.ndarray) -> bytes:
    return nonce + np.ascontiguousarray(f, dtype="<u8").tobytes()


def fingerprint(spec: MemorySpec, nonce: bytes, block: bytes) -> bytes:
    """The nonce leaf data of one block: nonce || F_0(block) || F_1(block) as little-endian uint64."""
    words = np.frombuffer(block, dtype="<u4").astype(np.uint32).reshape(1, -1)
    return _nonce_leaf(nonce, _fingerprints_np(_nonce_coeffs(spec, nonce), words)[0])


def _fingerprints_torch(coeffs: Any, blocks_i32: Any) -> np.ndarray:
    """`_fingerprints_np` for a (B, words) int32 tensor on any device; `coeffs` (words, FP_K) int64 on
    that device (int64 products and sums wrap mod 2^64 like the uint64 ones)."""
    import torch

    x = blocks_i32.to(torch.int64) & MASK32
    f = torch.stack([(x * coeffs[:, k]).sum(dim=1) for k in range(coeffs.shape[1])], dim=1)
    return f.cpu().numpy().view(np.uint64)


# ---------------------------------------------------------------------------------------- node side


def _to_i32(x: Any) -> Any:
    import torch

    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


class NodeWork:
    """The node's side: `run()` fills and commits, `nonce_pass()` and `open()` answer the later rounds.

    On CPU the chain runs in numpy (lanes split over `threads`) and the blocks live in one uint32 array;
    on other devices it runs as int64 torch kernels and the blocks live on the device as int32
    (kernel="torch" forces that path). Subclasses (cheat nodes in tests and poai/node/adversarial.py)
    override `_next_step`/`_put_step`/`_get_step` to model nodes that fake or drop blocks (what is
    committed is what `_next_step` returned).
    """

    def __init__(self, spec: MemorySpec, device: Any = None, kernel: str = "auto",
                 hash_threads: int | None = None, threads: int | None = None) -> None:
        self.spec = spec
        self.device = pick_device(device)
        self.use_torch = kernel == "torch" or (kernel == "auto" and self.device.type != "cpu")
        self.hash_threads = hash_threads or max(1, min(8, os.cpu_count() or 1))
        self.threads = threads or max(1, min(8, os.cpu_count() or 1, spec.lanes))
        self.lane_chunk = max(1, (64 << 20) // (spec.words * 8))
        self.tree: MerkleTree | None = None
        self.nonce_tree: MerkleTree | None = None
        self.blocks: Any = None
        self.phase_seconds: dict[str, float] = {}
        self._pool: ThreadPoolExecutor | None = None

    # -- storage helpers (overridden by cheating nodes)

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
        s = self.spec
        if self._pool is None:
            return _step_np(s, self._mult_np, self._lanes_np, step, prev)
        cuts = np.linspace(0, s.lanes, self.threads + 1).astype(int)
        futs = [self._pool.submit(_step_np, s, self._mult_np, self._lanes_np[a:b], step,
                                  None if prev is None else prev[a:b])
                for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        return np.concatenate([f.result() for f in futs])

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
                self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
                try:
                    prev_np = None
                    for step in range(s.depth):
                        prev_np = self._next_step(step, prev_np)
                        self._put_step(step, prev_np)
                        futures.append(pool.submit(lambda h: [leaf_hash(row) for row in h], prev_np))
                finally:
                    if self._pool is not None:
                        self._pool.shutdown()
                    self._pool = None
            t1 = time.perf_counter()
            hashes = [h for f in futures for h in f.result()]
        self.tree = MerkleTree.from_leaf_hashes(hashes)
        self.phase_seconds = {"fill": t1 - t0, "hash_tail_and_tree": time.perf_counter() - t1}
        return MemoryCommitment(root=self.tree.root)

    def nonce_pass(self, request: NonceRequest) -> NonceCommitment:
        """Fingerprint every block under the fresh nonce, one step (all lanes) at a time, in one thread
        (one stream per node: the measure stays stable when other work shares the machine)."""
        if self.tree is None:
            raise ChallengeError("nonce_pass() called before run()")
        s = self.spec
        nonce = request.nonce
        if len(nonce) != NONCE_BYTES:
            raise ChallengeError(f"nonce must be {NONCE_BYTES} bytes")
        t0 = time.perf_counter()
        leaves: list[bytes] = []
        coeffs = _nonce_coeffs(s, nonce)
        if self.use_torch:
            import torch

            with torch.inference_mode():
                ct = torch.from_numpy(coeffs.view(np.int64)).to(self.device)
                for step in range(s.depth):
                    dev = self.blocks[step]
                    f = np.concatenate([_fingerprints_torch(ct, dev[l0:l0 + self.lane_chunk])
                                        for l0 in range(0, s.lanes, self.lane_chunk)])
                    leaves.extend(leaf_hash(_nonce_leaf(nonce, row)) for row in f)
        else:
            buf = np.empty((s.lanes, s.words), dtype=np.uint64)
            for step in range(s.depth):
                f = _fingerprints_np(coeffs, self._get_step(step), buf)
                leaves.extend(leaf_hash(_nonce_leaf(nonce, row)) for row in f)
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


def measure_nonce_bandwidth_gbs(spec: MemorySpec, device: Any = None, repeats: int = 3) -> float:
    """The node's own nonce-pass bandwidth (GB/s) for blocks shaped like `spec`: the honest pass code
    over `spec.total_bytes` of memory (filled with a cheap pattern, not the chain: only the pass is
    timed), median of `repeats` passes after a warm-up. For the node's claim (poai.node.device)."""
    work = NodeWork(spec, device)
    work._allocate()
    if work.use_torch:
        import torch

        work.blocks.copy_(torch.arange(work.blocks.numel(), device=work.blocks.device,
                                       dtype=torch.int32).reshape(work.blocks.shape))
    else:
        work.blocks.reshape(-1)[:] = np.arange(work.blocks.size, dtype=np.uint32)
    work.tree = MerkleTree.from_leaf_hashes([bytes(HASH_SIZE)])  # nonce_pass() only checks it exists
    times = []
    for i in range(repeats + 1):
        if work.use_torch and work.device.type == "cuda":
            import torch

            torch.cuda.synchronize(work.device)
        t = time.perf_counter()
        work.nonce_pass(NonceRequest(secrets.token_bytes(NONCE_BYTES)))
        if i:
            times.append(time.perf_counter() - t)
    return spec.total_bytes / float(np.median(times)) / 1e9


# ------------------------------------------------------------------------------------ verifier side


def _structural(spec: MemorySpec, root: bytes, leaf: int, block: bytes, bproof: bytes, prev: bytes,
                pproof: bytes) -> tuple[str | None, Any]:
    """Sizes and both Merkle proofs of one opening; (error, (nonce path, prev words)) for the batch."""
    lane, step = spec.block_of(leaf)
    where = f"block (lane {lane}, step {step})"
    if len(block) != spec.block_bytes:
        return f"{where}: {len(block)} bytes, expected {spec.block_bytes}", None
    try:
        bpath, ppath = unpack_proof(bproof), unpack_proof(pproof)
    except ValueError as exc:
        return f"{where}: {exc}", None
    if not verify_proof(root, block, leaf, bpath, spec.n_blocks):
        return f"{where}: not in the committed tree", None
    if step == 0:
        if prev or ppath:
            return f"{where}: step 0 has no previous block", None
        return None, np.zeros(spec.words, dtype=np.uint32)
    if len(prev) != spec.block_bytes:
        return f"{where}: previous block of {len(prev)} bytes", None
    if not verify_proof(root, prev, spec.leaf_index(lane, step - 1), ppath, spec.n_blocks):
        return f"{where}: previous block not in the committed tree", None
    return None, np.frombuffer(prev, dtype="<u4").astype(np.uint32)


def check_openings(
    spec: MemorySpec,
    commitment: MemoryCommitment,
    request: MemoryRequest,
    opening: MemoryOpening,
    *,
    nonce_request: NonceRequest,
    nonce_commitment: NonceCommitment,
) -> list[str | None]:
    """The verifier's decision on each opened leaf (None: correct), in request order: the block and its
    parent are in the committed tree, the block follows from its parent by one chain step, and its nonce
    leaf is in the nonce tree. Each decision depends on that leaf's opening only (one batched chain
    recomputation for speed). `verify` calls this; survival statistics call it over many leaves."""
    lists = (opening.blocks, opening.block_proofs, opening.prev_blocks, opening.prev_proofs,
             opening.nonce_proofs)
    n = len(request.leaves)
    if any(len(x) != n for x in lists):
        raise ValueError(f"opening has {[len(x) for x in lists]} entries for {n} requested blocks")
    nonce, nonce_root = nonce_request.nonce, nonce_commitment.root
    verdicts: list[str | None] = [None] * n
    rows: list[int] = []
    prevs: list[np.ndarray] = []
    for i, (leaf, block, bproof, prev, pproof, _nproof) in enumerate(zip(request.leaves, *lists)):
        err, prev_words = _structural(spec, commitment.root, leaf, block, bproof, prev, pproof)
        if err:
            verdicts[i] = err
        else:
            rows.append(i)
            prevs.append(prev_words)
    if not rows:
        return verdicts
    mult = _digest_multipliers_np(spec)
    ctr = np.array([request.leaves[i] for i in rows], dtype=np.uint32)  # leaf = step * lanes + lane
    want = _blocks_np(spec, mult, ctr, np.stack(prevs))
    got = np.stack([np.frombuffer(opening.blocks[i], dtype="<u4").astype(np.uint32) for i in rows])
    follows = (want == got).all(axis=1)
    fps = _fingerprints_np(_nonce_coeffs(spec, nonce), got)
    for j, i in enumerate(rows):
        leaf = request.leaves[i]
        lane, step = spec.block_of(leaf)
        where = f"block (lane {lane}, step {step})"
        if not follows[j]:
            verdicts[i] = f"{where}: does not follow from the previous block and the seed"
            continue
        try:
            npath = unpack_proof(opening.nonce_proofs[i])
        except ValueError as exc:
            verdicts[i] = f"{where}: {exc}"
            continue
        if not verify_proof(nonce_root, _nonce_leaf(nonce, fps[j]), leaf, npath, spec.n_blocks):
            verdicts[i] = f"{where}: nonce hash does not match the block"
    return verdicts


def verify(
    spec: MemorySpec,
    commitment: MemoryCommitment,
    request: MemoryRequest,
    opening: MemoryOpening,
    *,
    nonce_request: NonceRequest,
    nonce_commitment: NonceCommitment,
    timings: MemoryTimings,
    bounds: MemoryBounds | None = None,
) -> CheckResult:
    """Check every opened block (chain step, both trees) and the three time bounds (`bounds`, default
    MemoryBounds()). On a pass the metrics carry the verified capacity and the measured bandwidths."""
    t0 = time.perf_counter()
    b = bounds or DEFAULT_BOUNDS
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
    elif (len(set(request.leaves)) != n_open or any(not 0 <= x < spec.n_blocks for x in request.leaves)
          or n_open != min(spec.openings, spec.n_blocks)):
        problems.append("request leaves are out of range, repeated or not the spec's number of openings")
    else:
        problems.extend(v for v in check_openings(spec, commitment, request, opening,
                                                  nonce_request=nonce_request,
                                                  nonce_commitment=nonce_commitment) if v)
    bad_openings = len(problems)
    fill, nonce_s, open_s = timings.fill_seconds, timings.nonce_seconds, timings.open_seconds
    fill_bound = fill_bound_seconds(spec, b)
    nonce_bound = nonce_bound_seconds(spec, b)
    open_bound = open_bound_seconds(spec, n_open, b)
    eff_bw = b.effective_bandwidth_gbs(spec)
    nonce_bw = spec.total_bytes / nonce_s / 1e9 if nonce_s > 0 else math.inf
    if not all(math.isfinite(x) and x >= 0 for x in (fill, nonce_s, open_s)):
        problems.append(f"timings {fill}, {nonce_s}, {open_s} are not finite non-negative seconds")
    if fill > fill_bound:
        problems.append(f"fill took {fill:.3f}s > bound {fill_bound:.3f}s")
    if nonce_s > nonce_bound:
        problems.append(f"nonce pass took {nonce_s:.3f}s > bound {nonce_bound:.3f}s "
                        f"({nonce_bw:.2f} GB/s against {eff_bw:.2f} GB/s claimed / slack {b.nonce_slack:g}): "
                        "blocks not held in memory?")
    if open_s > open_bound:
        problems.append(f"openings took {open_s:.3f}s > bound {open_bound:.3f}s: blocks regenerated on request?")
    passed = not problems
    verify_seconds = time.perf_counter() - t0
    metrics = {
        "memory_bytes": float(spec.total_bytes),
        "claimed_memory_bytes": float(spec.claimed_bytes),
        "verified_bytes": float(spec.total_bytes) if passed else 0.0,
        "claimed_bandwidth_gbs": float(spec.claimed_bandwidth_gbs),
        "bound_bandwidth_gbs": eff_bw,
        "nonce_bandwidth_gbs": nonce_bw if math.isfinite(nonce_bw) else 0.0,
        "bandwidth_ratio": nonce_bw / eff_bw if math.isfinite(nonce_bw) else 0.0,
        "fill_bandwidth_gbs": spec.total_bytes / fill / 1e9 if fill > 0 else 0.0,
        "openings": float(n_open),
        "bad_openings": float(bad_openings),
        "bytes_opened": float(opening.nbytes),
        "fill_seconds": float(fill),
        "nonce_seconds": float(nonce_s),
        "open_seconds": float(open_s),
        "fill_bound_seconds": fill_bound,
        "nonce_bound_seconds": nonce_bound,
        "open_bound_seconds": open_bound,
        "verify_seconds": verify_seconds,
    }
    reason = (f"{n_open} blocks checked; {spec.total_bytes / 2**20:.0f} MiB at "
              f"{metrics['nonce_bandwidth_gbs']:.2f} GB/s ({metrics['bandwidth_ratio']:.2f} of the "
              f"{eff_bw:.2f} GB/s claimed)"
              if passed else f"{len(problems)} problem(s); first: {problems[0]}")
    result = CheckResult(NAME, passed, reason, metrics, verify_seconds)
    return result.with_node_seconds(fill + nonce_s + open_s)


def run_local_session(spec: MemorySpec, work: NodeWork, rng: np.random.Generator | None = None, *,
                      node_nonce: NonceRequest | None = None,
                      bounds: MemoryBounds | None = None) -> CheckResult:
    """The whole flow of the module docstring in this process, each node phase timed with perf_counter (no
    RTT to subtract): for tests and benchmarks. The nonce and the openings come from `secrets` unless
    `rng` is given. `node_nonce` is sent to the node instead of the fresh nonce the verifier checks
    against (a node answering with a stale nonce)."""
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
                  nonce_commitment=nonce_commitment, timings=MemoryTimings(fill_s, nonce_s, open_s),
                  bounds=bounds)
