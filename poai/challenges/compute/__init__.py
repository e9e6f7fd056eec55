"""Compute challenge: K independent seeded matmuls, committed tile by tile, each opened tile checked against
the seed and the verifier's own secrets.

Session flow (timing is on the challenger's clock, net of RTT; the wire layer passes it in as `node_seconds`):

    spec = compute.make_spec(budget)                         # challenger: fresh seed (OS entropy), sizes
    work = compute.NodeWork(spec, device); c = work.run()    # node: generate, multiply, hash -> root
    req = compute.choose_openings(spec, c)                   # challenger, after the root arrived (OS entropy)
    op = work.open(req)                                      # node: the opened tiles + Merkle proofs
    res = compute.verify(spec, c, req, op, node_seconds=t)   # challenger -> CheckResult("compute")

THE WORK. For k = 1..K the node generates A_k and B_k, n x n matrices with entries in [0, p), from the seed
on its own device (key of A_k: "a{k}", of B_k: "b{k}"; each byte b of a keyed 32-bit counter hash gives the
entry (b * p) >> 8), and computes X_k = (A_k @ B_k) mod p. Every X_k is cut into tiles (tile_rows x
tile_cols); the tiles of all steps are the leaves of one Merkle tree, leaf index
((k-1)*row_blocks + i)*col_blocks + j, and the node commits to its root. The steps are independent: no
result of the node is an input of any other step, or of any check.

THE CHECK. After the root arrived the challenger draws m = `openings` distinct leaves (OS entropy). The node
sends each opened tile and its Merkle proof. For each tile (k, i, j) the verifier draws, from OS entropy and
only after the opening arrived, G = min(2, tile_cols/4) distinct 4-column groups of the tile, regenerates
row block i of A_k (tile_rows x n entries) and those 4G columns of B_k (n x 4G entries) from the seed, and
checks T[:, cols] == (A_k[rows] @ B_k[:, cols]) mod p exactly. The inputs of the check are the seed and the
verifier's secrets only: nothing the node chose (other than the opened tile itself) is used.

THE GUARANTEE (`survival_bound`, `tile_pass_probability`, `survival_probability`). Fix whatever the node
committed. The Merkle root binds each leaf to at most one tile the node can open (SHA-256 collision
resistance; a leaf the node cannot open counts as wrong). Cut each tile into its g = tile_cols/4 groups of
4 columns and call a group correct when its 4 * tile_rows entries equal those of (A_k @ B_k) mod p. Let c_t
be the fraction of correct groups of leaf t and w = mean over all N leaves of c_t (the node's correct
fraction of the committed result). Then:

  * one opened tile passes with probability q_t = C(c_t*g, G) / C(g, G) <= c_t^G <= c_t (the G groups are
    distinct and uniform, drawn after the tile was fixed);
  * the verifier's column draws are independent across tiles, so for an opened set S, P(pass | S) =
    prod_{t in S} q_t, and over the uniform choice of m distinct leaves
    P(pass) = e_m(q) / C(N, m) <= (mean q)^m <= w^m        (e_m: m-th elementary symmetric polynomial;
    the first inequality is Maclaurin's, the second q_t <= c_t).

  So a node whose correct fraction is w passes with probability at most w^m, whatever it commits, however
  its wrong groups are spread. The bound is tight for nodes that compute whole tiles or nothing: with F
  wholly wrong tiles the pass probability is the hypergeometric C(N-F, m) / C(N, m) (`survival_probability`).

  Work: a correct group is 4 * tile_rows entries, each an n-term dot product of fresh pseudo-random rows
  and columns (different for every step, so nothing carries over between steps or sessions). Guessing a
  group without computing it succeeds with probability about p^(-4 * tile_rows) (2^-895 at p = 127 and 32
  rows). A (tile, group) computed correctly thus costs its share 2 * tile_rows * 4 * n of the 2 * n^3 * K
  multiply work, and: a node that performs less than a fraction w of the committed work passes with
  probability at most w^64 (64 = default openings). (Work counted as dense multiply-adds: this last step
  assumes no way to get an n-term dot product of fresh pseudo-random data other than computing it; the
  bound in terms of correct groups above is proved.)

      w = 0.99 -> 0.53      w = 0.95 -> 3.8%      w = 0.9 -> 0.12%      w = 0.5 -> 5.4e-20

  Zero work (all-zero tiles), stopping at step j (w = (j-1)/K) and computing only the opened tiles after the
  reveal (the root then does not bind them: Merkle check fails) are all cases of this bound.

WHAT IS MEASURED. Every input is an integer in [0, p) with p <= 251, and p is chosen so that n*(p-1)^2 <
2^24: every product and every partial sum is an integer below 2^24. Such inputs are exact in bf16, fp16
and tf32 (8 to 11 significant bits hold every integer below 256), in uint8, and in int8 when p <= 128 (the
case for n >= 1024); with fp32 or int32 accumulation every summation order gives the exact result. So the
work can be done, bit-exactly, on fp32 units or on bf16/fp16/tf32/int8 tensor cores with wide accumulation
(the honest node allows TF32 on CUDA), and a GPU meets it at its low-precision speed. Results are stored as
uint8, so tile hashes are bit-identical on every device. The figure reported is therefore
`matmul_tops` = 2*n^3*K / node_seconds / 1e12: "dense matmul throughput on 8-bit integer operands with
exact accumulation, 10^12 ops/s" (generation and tile hashing included in node_seconds), and
`matmul_tops_ratio` = measured / claimed (the claim field keeps its name `claimed_tflops`). It is not fp32
FLOPS: a tensor-core GPU scores well above its fp32 rate here.

VERIFIER COST. Per opening: tile_rows*n/4 + n*G hash words, a (tile_rows x n) @ (n x 4G) product and a
Merkle path: O(tile_rows * n), against 2*n^3*K for the node. Measured on a 2-core x86 CPU: Budget.default()
(n=1024, 64 steps, 64 openings) verify ~7 ms against ~1-4 s of node work (0.2-0.8%); the standard plan for
a 0.05-0.1 claim (n=2048, 6-12 steps) ~12 ms against 0.55-2.5 s (0.5-2.1%). The product is numpy's own int32
loop (no BLAS threads), so the cost does not depend on what else runs in the challenger.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from poai.challenges.common import (
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
from poai.merkle import HASH_SIZE, MerkleTree, leaf_hash, pack_proof, unpack_proof, verify_range

__all__ = [
    "CHECK_GROUPS",
    "ComputeCommitment",
    "ComputeOpening",
    "ComputeRequest",
    "ComputeSpec",
    "NodeWork",
    "check_tiles",
    "choose_openings",
    "choose_prime",
    "gen_cols",
    "gen_matrix_torch",
    "gen_rows",
    "make_spec",
    "reference_tile",
    "survival_bound",
    "survival_probability",
    "tile_pass_probability",
    "verify",
    "with_node_seconds",
]

NAME = "compute"
_EXACT = 1 << 24  # fp32 represents every integer below this exactly
GROUP = 4  # columns per group: one 32-bit hash word gives 4 adjacent entries of a row
CHECK_GROUPS = 2  # 4-column groups of every opened tile the verifier recomputes
MATRICES = ("a", "b")


# ----------------------------------------------------------------------------------------- messages


def _is_prime(x: int) -> bool:
    return x >= 2 and all(x % d for d in range(2, int(math.isqrt(x)) + 1))


def choose_prime(n: int) -> int:
    """The largest prime p < 256 with n*(p-1)^2 < 2^24 (exact fp32 accumulation, uint8 storage)."""
    bound = min(255, int(math.isqrt((_EXACT - 1) // n)) + 1)
    for p in range(bound, 1, -1):
        if _is_prime(p) and n * (p - 1) ** 2 < _EXACT:
            return p
    raise ChallengeError(f"no prime fits n={n}: n must be below 2^22")


@dataclass(frozen=True)
class ComputeSpec(WireMixin):
    seed: bytes
    n: int
    steps: int
    p: int
    tile_rows: int
    tile_cols: int
    openings: int
    claimed_tflops: float = 0.0  # the claim (see `with_node_seconds` for what is measured against it)

    def __post_init__(self) -> None:
        problems = []
        if len(self.seed) != SEED_BYTES:
            problems.append(f"seed must be {SEED_BYTES} bytes")
        if not (16 <= self.n <= 65536) or self.n % GROUP:
            problems.append("n must be a multiple of 4 in [16, 65536]")
        if self.tile_rows < 1 or self.tile_cols < GROUP or self.tile_cols % GROUP:
            problems.append("tile_rows >= 1 and tile_cols a multiple of 4")
        elif self.n % self.tile_rows or self.n % self.tile_cols:
            problems.append("n must be a multiple of both tile sizes")
        if not (1 <= self.steps <= 1024):
            problems.append("steps must be in [1, 1024]")
        if not (_is_prime(self.p) and self.p < 256 and self.n * (self.p - 1) ** 2 < _EXACT):
            problems.append("p must be a prime < 256 with n*(p-1)^2 < 2^24")
        if self.openings < 1:
            problems.append("openings must be >= 1")
        if not (math.isfinite(self.claimed_tflops) and self.claimed_tflops >= 0):
            problems.append("claimed_tflops must be finite and >= 0")
        if problems:
            raise ValueError("invalid compute spec: " + "; ".join(problems))

    @property
    def flops(self) -> float:
        """Nominal work: 2*n^3 multiply-add operations per step (8-bit integer operands, see the module doc)."""
        return 2.0 * self.steps * float(self.n) ** 3

    @property
    def row_blocks(self) -> int:
        return self.n // self.tile_rows

    @property
    def col_blocks(self) -> int:
        return self.n // self.tile_cols

    @property
    def groups_per_tile(self) -> int:
        return self.tile_cols // GROUP

    @property
    def checked_groups(self) -> int:
        """G: distinct 4-column groups the verifier recomputes in each opened tile."""
        return min(CHECK_GROUPS, self.groups_per_tile)

    @property
    def leaves_per_step(self) -> int:
        return self.row_blocks * self.col_blocks

    @property
    def n_leaves(self) -> int:
        return self.steps * self.leaves_per_step

    def leaf_index(self, step: int, row_block: int, col_block: int) -> int:
        """step is 1-based (X_1 .. X_K)."""
        return ((step - 1) * self.row_blocks + row_block) * self.col_blocks + col_block

    def tile_of(self, leaf: int) -> tuple[int, int, int]:
        """(step, row_block, col_block) of a leaf index."""
        step0, rest = divmod(leaf, self.leaves_per_step)
        i, j = divmod(rest, self.col_blocks)
        return step0 + 1, i, j


@dataclass(frozen=True)
class ComputeCommitment(WireMixin):
    root: bytes


@dataclass(frozen=True)
class ComputeRequest(WireMixin):
    leaves: tuple[int, ...]


@dataclass(frozen=True)
class ComputeOpening(WireMixin):
    """Per opened leaf: the tile (tile_rows x tile_cols uint8, row-major) and its packed Merkle proof."""

    tiles: tuple[bytes, ...]
    tile_proofs: tuple[bytes, ...]

    @property
    def nbytes(self) -> int:
        return sum(len(x) for part in (self.tiles, self.tile_proofs) for x in part)


def make_spec(budget: Budget, rng: np.random.Generator | None = None) -> ComputeSpec:
    """A fresh challenge. The seed comes from `secrets` unless a generator is given (tests only)."""
    return ComputeSpec(
        seed=new_seed(rng),
        n=budget.compute_n,
        steps=budget.compute_steps,
        p=choose_prime(budget.compute_n),
        tile_rows=budget.compute_tile_rows,
        tile_cols=budget.compute_tile_cols,
        openings=budget.compute_openings,
        claimed_tflops=float(budget.claimed_tflops),
    )


def _secret_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """The verifier's private generator: OS entropy unless a test passes one for reproducibility."""
    return rng if rng is not None else np.random.default_rng(secrets.randbits(128))


def choose_openings(
    spec: ComputeSpec, commitment: ComputeCommitment, rng: np.random.Generator | None = None
) -> ComputeRequest:
    """`openings` distinct uniform leaves over all steps, from OS entropy (rng: tests only). Call only after
    `commitment` has been received."""
    del commitment  # the order of calls is the point; the choice itself must not depend on it
    return ComputeRequest(leaves=tuple(rng_sample(rng, spec.n_leaves, spec.openings)))


# ------------------------------------------------------------------------------------------- bounds


def tile_pass_probability(correct_groups: int, groups: int, checked: int) -> float:
    """Chance that `checked` distinct uniform groups of a tile all fall among its `correct_groups` of
    `groups`: C(a, G) / C(g, G) <= (a/g)^G."""
    if not 0 <= correct_groups <= groups or not 1 <= checked <= groups:
        raise ValueError("need 0 <= correct_groups <= groups and 1 <= checked <= groups")
    return math.comb(correct_groups, checked) / math.comb(groups, checked)


def survival_bound(correct_fraction: float, openings: int) -> float:
    """Upper bound on the pass probability of a node whose committed tiles have, on average over all leaves,
    a fraction `correct_fraction` of correct 4-column groups (equivalently: that performed at most that
    fraction of the work), with `openings` distinct uniform leaves opened: w^m (see the module doc)."""
    w = min(1.0, max(0.0, float(correct_fraction)))
    return w ** int(openings)


def survival_probability(n_leaves: int, faked: int, openings: int) -> float:
    """Exact pass probability of a node with `faked` wholly wrong tiles and the rest right: `openings`
    distinct random tiles all miss the faked ones (hypergeometric C(N-F, m) / C(N, m) <= (1-F/N)^m)."""
    if openings > n_leaves - faked:
        return 0.0
    return math.exp(
        math.lgamma(n_leaves - faked + 1) - math.lgamma(n_leaves - faked - openings + 1)
        - math.lgamma(n_leaves + 1) + math.lgamma(n_leaves - openings + 1)
    )


# --------------------------------------------------------------------------------------- generation


def _keys(spec: ComputeSpec, matrix: str, step: int) -> tuple[int, int]:
    """Keys of A_step (matrix "a") or B_step (matrix "b")."""
    if matrix not in MATRICES or step < 1:
        raise ValueError(f"matrix must be 'a' or 'b' and step >= 1, got {matrix!r}, {step}")
    return derive_u32_pair(spec.seed, "compute", f"{matrix}{step}")


def _bytes_to_field(words: np.ndarray, p: int) -> np.ndarray:
    """Each byte b of the words -> (b * p) >> 8, an entry in [0, p) (multiply-shift: no division, and the
    same integer arithmetic on every device)."""
    b = words.astype("<u4", copy=False).view(np.uint8).astype(np.uint16)
    b *= np.uint16(p)
    b >>= np.uint16(8)
    return b.astype(np.uint8)


def gen_rows(spec: ComputeSpec, matrix: str, step: int, r0: int, r1: int) -> np.ndarray:
    """Rows [r0, r1) of A_step / B_step, uint8 (r1-r0, n). Four entries per 32-bit word."""
    k1, k2 = _keys(spec, matrix, step)
    w = spec.n // GROUP
    ctr = np.arange(r0 * w, r1 * w, dtype=np.uint32)
    return _bytes_to_field(hash_words_np(ctr, k1, k2), spec.p).reshape(r1 - r0, spec.n)


def gen_cols(spec: ComputeSpec, matrix: str, step: int, c0: int, c1: int) -> np.ndarray:
    """Columns [c0, c1) (multiples of 4) of A_step / B_step, uint8 (n, c1-c0)."""
    k1, k2 = _keys(spec, matrix, step)
    w = spec.n // GROUP
    ctr = (np.arange(spec.n, dtype=np.uint32)[:, None] * np.uint32(w)
           + np.arange(c0 // GROUP, c1 // GROUP, dtype=np.uint32)[None, :])
    return _bytes_to_field(hash_words_np(ctr, k1, k2), spec.p).reshape(spec.n, c1 - c0)


def gen_matrix_torch(spec: ComputeSpec, matrix: str, step: int, device: Any, kernel: str = "auto") -> Any:
    """A_step / B_step as float32 on `device`. kernel "auto": numpy on CPU (faster there), int64 torch
    kernels on other devices; "torch" forces the torch kernels (tests run them on the CPU)."""
    import torch

    if kernel == "numpy" or (kernel == "auto" and device.type == "cpu"):
        return torch.from_numpy(gen_rows(spec, matrix, step, 0, spec.n)).to(torch.float32)
    k1, k2 = _keys(spec, matrix, step)
    w = spec.n // GROUP
    out = torch.empty((spec.n, spec.n), dtype=torch.float32, device=device)
    rows_per_chunk = max(1, (1 << 24) // spec.n)
    shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=device)
    for r0 in range(0, spec.n, rows_per_chunk):
        r1 = min(spec.n, r0 + rows_per_chunk)
        ctr = torch.arange(r0 * w, r1 * w, dtype=torch.int64, device=device)
        words = hash_words_torch(ctr, k1, k2)
        b = (words[:, None] >> shifts) & 0xFF
        out[r0:r1] = ((b * spec.p) >> 8).reshape(r1 - r0, spec.n).to(torch.float32)
    return out


def reference_tile(spec: ComputeSpec, leaf: int) -> np.ndarray:
    """The correct tile of a leaf, computed directly from the seed (tile_rows x n times n x tile_cols):
    uint8 (tile_rows, tile_cols). For tests and for the lazy-node model; costs 1/leaves_per_step of a step."""
    k, i, j = spec.tile_of(leaf)
    a = gen_rows(spec, "a", k, i * spec.tile_rows, (i + 1) * spec.tile_rows).astype(np.int32)
    b_t = np.ascontiguousarray(gen_cols(spec, "b", k, j * spec.tile_cols, (j + 1) * spec.tile_cols).T)
    return (np.einsum("ij,kj->ik", a, b_t.astype(np.int32)) % np.int32(spec.p)).astype(np.uint8)


@contextlib.contextmanager
def _fast_exact_matmul(allow_tf32: bool) -> Iterator[None]:
    """fp32 matmuls with TF32 allowed (CUDA) for the duration. TF32 keeps 10 mantissa bits: the inputs
    (integers < 256) are exact and accumulation is fp32, so the results stay exact (see the module doc)."""
    import torch

    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
           torch.get_float32_matmul_precision())
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old[0], old[1]
        torch.set_float32_matmul_precision(old[2])


def _tiles(spec: ComputeSpec, x: np.ndarray) -> np.ndarray:
    """(row_blocks, col_blocks, tile_rows, tile_cols) contiguous view of an (r, n) uint8 block of rows."""
    rb = x.shape[0] // spec.tile_rows
    return np.ascontiguousarray(
        x.reshape(rb, spec.tile_rows, spec.col_blocks, spec.tile_cols).swapaxes(1, 2)
    )


def _hash_tiles(spec: ComputeSpec, x: np.ndarray) -> list[bytes]:
    t = _tiles(spec, x)
    return [leaf_hash(t[i, j]) for i in range(t.shape[0]) for j in range(t.shape[1])]


# ---------------------------------------------------------------------------------------- node side


class NodeWork:
    """The node's side of one compute challenge. `run()` does the timed work; `open()` answers openings.

    Results X_1..X_K are kept in host memory (uint8, n^2 bytes per step) to answer openings. Hooks for
    cheating subclasses (poai/node/adversarial.py, tests): `_product(k)` (X_k; default generates A_k, B_k
    with `_generate` and multiplies with `_step`), `_generate(k)`, `_step(k, a, b)`.
    """

    allow_tf32 = True  # exact for these inputs (module doc); only CUDA looks at it

    def __init__(self, spec: ComputeSpec, device: Any = None, hash_threads: int | None = None) -> None:
        self.spec = spec
        self.device = pick_device(device)
        self.hash_threads = hash_threads or max(1, min(8, os.cpu_count() or 1))
        self.outputs: list[np.ndarray] = []
        self.tree: MerkleTree | None = None
        self.phase_seconds: dict[str, float] = {}  # node-side breakdown, informative only

    def _generate(self, k: int) -> tuple[Any, Any]:
        """A_k and B_k as float32 on the device."""
        return (gen_matrix_torch(self.spec, "a", k, self.device),
                gen_matrix_torch(self.spec, "b", k, self.device))

    def _step(self, k: int, a: Any, b: Any) -> Any:
        """X_k = (A_k @ B_k) mod p as float32 on the device."""
        import torch

        return torch.fmod(a @ b, float(self.spec.p))

    def _product(self, k: int) -> Any:
        a, b = self._generate(k)
        return self._step(k, a, b)

    def run(self) -> ComputeCommitment:
        import torch

        spec = self.spec
        t0 = time.perf_counter()
        self.outputs = []
        futures = []
        rows_per_job = max(spec.tile_rows, (spec.n // self.hash_threads) // spec.tile_rows * spec.tile_rows)
        with (_fast_exact_matmul(self.allow_tf32), torch.inference_mode(),
              ThreadPoolExecutor(self.hash_threads) as pool):
            for k in range(1, spec.steps + 1):
                x = self._product(k)
                host = x.to(torch.uint8).cpu().numpy()
                self.outputs.append(host)
                del x
                # hash this step while the device works on the next one
                for r0 in range(0, spec.n, rows_per_job):
                    futures.append(pool.submit(_hash_tiles, spec, host[r0:r0 + rows_per_job]))
            t1 = time.perf_counter()
            hashes = [h for f in futures for h in f.result()]
        self.tree = MerkleTree.from_leaf_hashes(hashes)
        t2 = time.perf_counter()
        self.phase_seconds = {"matmul_and_generate": t1 - t0, "hash_and_tree": t2 - t1}
        return ComputeCommitment(root=self.tree.root)

    def tile(self, leaf: int) -> bytes:
        """The committed tile of a leaf, row-major bytes."""
        spec = self.spec
        k, i, j = spec.tile_of(leaf)
        r0, c0 = i * spec.tile_rows, j * spec.tile_cols
        x = self.outputs[k - 1]
        return np.ascontiguousarray(x[r0:r0 + spec.tile_rows, c0:c0 + spec.tile_cols]).tobytes()

    def open(self, request: ComputeRequest) -> ComputeOpening:
        if self.tree is None:
            raise ChallengeError("open() called before run()")
        spec = self.spec
        tiles, proofs = [], []
        for leaf in request.leaves:
            if not 0 <= leaf < spec.n_leaves:
                raise ChallengeError(f"leaf {leaf} outside the {spec.n_leaves} committed tiles")
            tiles.append(self.tile(leaf))
            proofs.append(pack_proof(self.tree.proof(leaf)))
        return ComputeOpening(tuple(tiles), tuple(proofs))


# ------------------------------------------------------------------------------------ verifier side


_BATCH = 16  # tiles checked together (bounded temporaries: 16 x tile_rows x n float32)


def _gen_a_rows(spec: ComputeSpec, steps: np.ndarray, row_blocks: np.ndarray) -> np.ndarray:
    """Row block i of A_k for a batch: steps (B,), row_blocks (B,) -> (B, tile_rows, n) uint8."""
    keys = np.array([_keys(spec, "a", int(k)) for k in steps], dtype=np.uint32).reshape(-1, 2)
    w = spec.n // GROUP
    per = spec.tile_rows * w
    ctr = (row_blocks.astype(np.uint32)[:, None] * np.uint32(per)
           + np.arange(per, dtype=np.uint32)[None, :])  # (B, tile_rows * n/4)
    words = hash_words_np(ctr, keys[:, 0, None], keys[:, 1, None])
    return _bytes_to_field(words, spec.p).reshape(len(steps), spec.tile_rows, spec.n)


def _gen_b_groups_t(spec: ComputeSpec, steps: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Columns 4g..4g+3 of B_k for a batch, transposed: steps (B,), groups (B, G) global 4-column groups ->
    (B, 4G, n) uint8, row c = column c of the selection. The four entries of a group come from one hash
    word per row of B, as in gen_rows."""
    keys = np.array([_keys(spec, "b", int(k)) for k in steps], dtype=np.uint32).reshape(-1, 2)
    ctr = (np.arange(spec.n, dtype=np.uint32)[None, :, None] * np.uint32(spec.n // GROUP)
           + groups.astype(np.uint32)[:, None, :])  # (B, n, G)
    words = hash_words_np(ctr, keys[:, 0, None, None], keys[:, 1, None, None])
    cols = _bytes_to_field(words, spec.p).reshape(len(steps), spec.n, GROUP * groups.shape[1])
    return np.ascontiguousarray(cols.transpose(0, 2, 1))


def check_tiles(
    spec: ComputeSpec,
    leaves: Sequence[int],
    tiles: Sequence[bytes | np.ndarray],
    rng: np.random.Generator | None = None,
) -> list[bool]:
    """The verifier's per-tile decision (the arithmetic part of `verify`, no Merkle): for each tile, G
    distinct secret 4-column groups drawn now (OS entropy; `rng` for tests) are recomputed from the seed
    alone and compared exactly (int32 arithmetic: every partial sum is below n*(p-1)^2 < 2^24)."""
    if len(leaves) != len(tiles):
        raise ValueError("one tile per leaf")
    rng = _secret_rng(rng)
    tr, tc, g, big_g = spec.tile_rows, spec.tile_cols, spec.groups_per_tile, spec.checked_groups
    out: list[bool] = []
    for b0 in range(0, len(leaves), _BATCH):
        where = np.array([spec.tile_of(int(x)) for x in leaves[b0:b0 + _BATCH]], dtype=np.int64)
        t = np.stack([np.frombuffer(x, dtype=np.uint8) if isinstance(x, bytes | bytearray)
                      else np.asarray(x, dtype=np.uint8).ravel() for x in tiles[b0:b0 + _BATCH]])
        t = t.reshape(len(where), tr, tc)
        local = np.argsort(rng.random((len(where), g)), axis=1)[:, :big_g]  # (B, G) distinct, uniform
        glob = local + (where[:, 2] * g)[:, None]
        rows = _gen_a_rows(spec, where[:, 0], where[:, 1]).astype(np.int32)  # (B, tr, n)
        cols_t = _gen_b_groups_t(spec, where[:, 0], glob).astype(np.int32)  # (B, 4G, n)
        # numpy's own int32 loops (contiguous inner products, vectorised), not BLAS: exact, and no thread
        # pool to fight the challenger's other threads
        want = np.einsum("bij,bkj->bik", rows, cols_t) % np.int32(spec.p)  # (B, tr, 4G)
        local_cols = (GROUP * local[:, :, None] + np.arange(GROUP)[None, None, :]).reshape(len(where), -1)
        got = np.take_along_axis(t, np.broadcast_to(local_cols[:, None, :], want.shape), axis=2)
        out.extend(bool(x) for x in np.all(got == want, axis=(1, 2)))
    return out


def _check_all(spec: ComputeSpec, root: bytes, leaves: Sequence[int], tiles: Sequence[bytes],
               proofs: Sequence[bytes], rng: np.random.Generator) -> list[str]:
    """Sizes, value range and Merkle proof of every opening, then the arithmetic check: what is wrong."""
    problems: list[str] = []
    ready: list[tuple[int, bytes]] = []
    tr, tc = spec.tile_rows, spec.tile_cols
    for leaf, tile, proof in zip(leaves, tiles, proofs):
        k, i, j = spec.tile_of(leaf)
        where = f"tile (step {k}, row block {i}, col block {j})"
        if len(tile) != tr * tc:
            problems.append(f"{where}: {len(tile)} bytes, expected {tr * tc}")
            continue
        try:
            path = unpack_proof(proof)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not verify_range(root, [leaf_hash(tile)], leaf, spec.n_leaves, path):
            problems.append(f"{where}: not in the committed tree")
            continue
        if max(tile) >= spec.p:
            problems.append(f"{where}: entries >= p")
            continue
        ready.append((leaf, tile))
    verdicts = check_tiles(spec, [x for x, _ in ready], [t for _, t in ready], rng)
    for (leaf, _), ok in zip(ready, verdicts):
        if not ok:
            k, i, j = spec.tile_of(leaf)
            problems.append(f"tile (step {k}, row block {i}, col block {j}): is not A_{k} @ B_{k} mod p")
    return problems


def verify(
    spec: ComputeSpec,
    commitment: ComputeCommitment,
    request: ComputeRequest,
    opening: ComputeOpening,
    *,
    node_seconds: float | None = None,
    rng: np.random.Generator | None = None,
) -> CheckResult:
    """Check every opened tile against the seed. `node_seconds` (challenger clock, net of RTT) adds the
    throughput metrics. The secret columns are drawn here, after the opening arrived, from OS entropy
    (`rng`: tests only)."""
    t0 = time.perf_counter()
    rng = _secret_rng(rng)
    problems: list[str] = []
    n_open = len(request.leaves)
    if len(commitment.root) != HASH_SIZE:
        problems.append("commitment root is not 32 bytes")
    elif len(opening.tiles) != n_open or len(opening.tile_proofs) != n_open:
        problems.append(f"opening has {len(opening.tiles)} tiles and {len(opening.tile_proofs)} proofs "
                        f"for {n_open} requested tiles")
    elif len(set(request.leaves)) != n_open or any(not 0 <= x < spec.n_leaves for x in request.leaves):
        problems.append("request leaves are out of range or repeated")
    else:
        problems.extend(_check_all(spec, commitment.root, request.leaves, opening.tiles,
                                   opening.tile_proofs, rng))
    verify_seconds = time.perf_counter() - t0
    metrics: dict[str, float] = {
        "openings": float(n_open),
        "bad_openings": float(len(problems)),
        "bytes_opened": float(opening.nbytes),
        "matmul_ops": spec.flops,
        "verify_matmul_ops": 2.0 * n_open * spec.tile_rows * spec.n * GROUP * spec.checked_groups,
        "claimed_tflops": float(spec.claimed_tflops),
        "n": float(spec.n),
        "steps": float(spec.steps),
        "verify_seconds": verify_seconds,
    }
    passed = not problems
    if passed:
        reason = f"{n_open} tiles checked against the seed"
    else:
        reason = f"{len(problems)} of {n_open} openings failed; first: {problems[0]}"
    result = CheckResult(NAME, passed, reason, metrics, verify_seconds)
    if node_seconds is not None:
        result = with_node_seconds(spec, result, node_seconds)
    return result


def with_node_seconds(spec: ComputeSpec, result: CheckResult, node_seconds: float) -> CheckResult:
    """Add node_seconds, the verify/node ratio, `matmul_tops` (dense matmul throughput on 8-bit integer
    operands with exact accumulation, 10^12 ops/s: 2*n^3*K / node_seconds / 1e12) and `matmul_tops_ratio`
    (measured / claimed)."""
    result = result.with_node_seconds(node_seconds)
    m = result.metrics
    if node_seconds > 0:
        m["matmul_tops"] = spec.flops / node_seconds / 1e12
        if spec.claimed_tflops > 0:
            m["matmul_tops_ratio"] = m["matmul_tops"] / spec.claimed_tflops
    return result
