"""Compute (TFLOPS) challenge: seeded chained matmuls, committed tile by tile, spot-checked by the verifier.

Session flow (timing is on the challenger's clock, net of RTT; WIRE passes it in as `node_seconds`):

    spec = compute.make_spec(budget, rng)                   # challenger: fresh seed, sizes from the claim
    work = compute.NodeWork(spec, device); c = work.run()    # node: generate, multiply, hash -> root
    req = compute.choose_openings(spec, c, rng)              # challenger, only after the root arrived
    op = work.open(req)                                      # node: tiles + the rows they came from
    res = compute.verify(spec, c, req, op, node_seconds=t)   # challenger -> CheckResult("compute")

The work: X_0 and B_1..B_K are n x n matrices with entries in [0, p), generated from the seed on the
node's device (each byte b of a keyed 32-bit counter hash gives the entry (b * p) >> 8).
X_k = (X_{k-1} @ B_k) mod p for k = 1..K. Every X_k is cut into tiles (tile_rows x tile_cols) and the tiles
of all steps are the leaves of one Merkle tree, leaf index ((k-1)*row_blocks + i)*col_blocks + j.

Why it is exact everywhere: p is chosen so that n*(p-1)^2 < 2^24, hence every partial sum of the fp32
matmul is an integer that fp32 represents exactly, whatever the summation order or blocking of the BLAS,
cuBLAS or tensor-core kernel (TF32 is switched off). Results are stored as uint8, so tile hashes are
bit-identical on every device. FLOPs are counted as 2*n^3 per step (as if fp32: a node may use any exact
method, e.g. int8 kernels; the measured/claimed ratio is capped at 1 by scoring, so speed-ups are not paid).

The check: for each opened tile (k, i, j) the node sends the tile, row block i of X_{k-1} (the verifier
regenerates it from the seed when k = 1) and Merkle proofs for both. The verifier then draws 8 secret
random columns c of the tile (two groups of 4 adjacent ones), regenerates only those columns of B_k
(n entries each) and checks T[:, c] = (R @ B_k[:, c]) mod p exactly: O(tile_rows * n) work per opening
against 2*n^3*K for the node, independent of the tile width (wide tiles keep the node's Merkle tree small).
A node that computed only a fraction (1-f) of the tiles correctly survives 64 openings with probability
about (1-f)^64 (`survival_probability`): 0.1% for f = 10%. A tile that is only partly right is caught when
one of the 8 checked columns holds a wrong entry.
"""

from __future__ import annotations

import contextlib
import math
import os
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
    "ComputeCommitment",
    "ComputeOpening",
    "ComputeRequest",
    "ComputeSpec",
    "NodeWork",
    "choose_openings",
    "choose_prime",
    "gen_cols",
    "gen_matrix_torch",
    "gen_rows",
    "make_spec",
    "survival_probability",
    "verify",
    "with_node_seconds",
]

NAME = "compute"
_EXACT = 1 << 24  # fp32 represents every integer below this exactly


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
    claimed_tflops: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if len(self.seed) != SEED_BYTES:
            problems.append(f"seed must be {SEED_BYTES} bytes")
        if not (16 <= self.n <= 65536) or self.n % 4:
            problems.append("n must be a multiple of 4 in [16, 65536]")
        if self.tile_rows < 1 or self.tile_cols < 4 or self.tile_cols % 4:
            problems.append("tile_rows >= 1 and tile_cols a multiple of 4")
        elif self.n % self.tile_rows or self.n % self.tile_cols:
            problems.append("n must be a multiple of both tile sizes")
        if not (1 <= self.steps <= 1024):
            problems.append("steps must be in [1, 1024]")
        if not (_is_prime(self.p) and self.p < 256 and self.n * (self.p - 1) ** 2 < _EXACT):
            problems.append("p must be a prime < 256 with n*(p-1)^2 < 2^24")
        if self.openings < 1:
            problems.append("openings must be >= 1")
        if problems:
            raise ValueError("invalid compute spec: " + "; ".join(problems))

    @property
    def flops(self) -> float:
        """Nominal work: 2*n^3 per chained matmul."""
        return 2.0 * self.steps * float(self.n) ** 3

    @property
    def row_blocks(self) -> int:
        return self.n // self.tile_rows

    @property
    def col_blocks(self) -> int:
        return self.n // self.tile_cols

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
    """Per opened leaf: tile bytes (row-major uint8), its packed proof, row block i of X_{k-1} (empty for
    k = 1) and the packed range proof of that row block's tiles."""

    tiles: tuple[bytes, ...]
    tile_proofs: tuple[bytes, ...]
    row_blocks: tuple[bytes, ...]
    row_block_proofs: tuple[bytes, ...]

    @property
    def nbytes(self) -> int:
        return sum(len(x) for part in (self.tiles, self.tile_proofs, self.row_blocks, self.row_block_proofs)
                   for x in part)


def make_spec(budget: Budget, rng: np.random.Generator | None = None) -> ComputeSpec:
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


def choose_openings(
    spec: ComputeSpec, commitment: ComputeCommitment, rng: np.random.Generator | None = None
) -> ComputeRequest:
    """Distinct random tiles over all steps. Call only after `commitment` has been received."""
    del commitment  # the order of calls is the point; the choice itself must not depend on it
    return ComputeRequest(leaves=tuple(rng_sample(rng, spec.n_leaves, spec.openings)))


def survival_probability(n_leaves: int, faked: int, openings: int) -> float:
    """Chance that `openings` distinct random tiles all miss `faked` wrong tiles (hypergeometric)."""
    if openings > n_leaves - faked:
        return 0.0
    return math.exp(
        math.lgamma(n_leaves - faked + 1) - math.lgamma(n_leaves - faked - openings + 1)
        - math.lgamma(n_leaves + 1) + math.lgamma(n_leaves - openings + 1)
    )


# --------------------------------------------------------------------------------------- generation


def _keys(spec: ComputeSpec, step: int) -> tuple[int, int]:
    """Keys of X_0 (step 0) and B_k (step k)."""
    return derive_u32_pair(spec.seed, "compute", "x0" if step == 0 else f"b{step}")


def _bytes_to_field(words: np.ndarray, p: int) -> np.ndarray:
    """Each byte b of the words -> (b * p) >> 8, an entry in [0, p) (multiply-shift: no division, and the
    same integer arithmetic on every device)."""
    b = words.astype("<u4", copy=False).view(np.uint8).astype(np.uint16)
    b *= np.uint16(p)
    b >>= np.uint16(8)
    return b.astype(np.uint8)


def gen_rows(spec: ComputeSpec, step: int, r0: int, r1: int) -> np.ndarray:
    """Rows [r0, r1) of X_0 (step 0) or B_step, uint8 (r1-r0, n). Four entries per 32-bit word."""
    k1, k2 = _keys(spec, step)
    w = spec.n // 4
    ctr = np.arange(r0 * w, r1 * w, dtype=np.uint32)
    return _bytes_to_field(hash_words_np(ctr, k1, k2), spec.p).reshape(r1 - r0, spec.n)


def gen_cols(spec: ComputeSpec, step: int, c0: int, c1: int) -> np.ndarray:
    """Columns [c0, c1) (multiples of 4) of X_0 / B_step, uint8 (n, c1-c0)."""
    k1, k2 = _keys(spec, step)
    w = spec.n // 4
    ctr = (np.arange(spec.n, dtype=np.uint32)[:, None] * np.uint32(w)
           + np.arange(c0 // 4, c1 // 4, dtype=np.uint32)[None, :])
    return _bytes_to_field(hash_words_np(ctr, k1, k2), spec.p).reshape(spec.n, c1 - c0)


def gen_matrix_torch(spec: ComputeSpec, step: int, device: Any, kernel: str = "auto") -> Any:
    """Whole matrix as float32 on `device`. kernel "auto": numpy on CPU (faster there), int64 torch
    kernels on other devices; "torch" forces the torch kernels (tests run them on the CPU)."""
    import torch

    if kernel == "numpy" or (kernel == "auto" and device.type == "cpu"):
        return torch.from_numpy(gen_rows(spec, step, 0, spec.n)).to(torch.float32)
    k1, k2 = _keys(spec, step)
    w = spec.n // 4
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


@contextlib.contextmanager
def _exact_fp32() -> Iterator[None]:
    """Switch TF32 off for the duration (TF32 rounds the inputs' mantissa: results would not be exact)."""
    import torch

    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
           torch.get_float32_matmul_precision())
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
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

    Results X_1..X_K are kept in host memory (uint8, n^2 bytes per step) to answer openings.
    Subclasses in tests override `_step` to model cheating nodes.
    """

    def __init__(self, spec: ComputeSpec, device: Any = None, hash_threads: int | None = None) -> None:
        self.spec = spec
        self.device = pick_device(device)
        self.hash_threads = hash_threads or max(1, min(8, os.cpu_count() or 1))
        self.outputs: list[np.ndarray] = []
        self.tree: MerkleTree | None = None
        self.phase_seconds: dict[str, float] = {}  # node-side breakdown, informative only

    def _step(self, k: int, x: Any, b: Any) -> Any:
        """X_k as float32 on the device."""
        import torch

        return torch.fmod(x @ b, float(self.spec.p))

    def run(self) -> ComputeCommitment:
        import torch

        spec = self.spec
        t0 = time.perf_counter()
        self.outputs = []
        futures = []
        with _exact_fp32(), torch.inference_mode(), ThreadPoolExecutor(self.hash_threads) as pool:
            x = gen_matrix_torch(spec, 0, self.device)
            for k in range(1, spec.steps + 1):
                b = gen_matrix_torch(spec, k, self.device)
                x = self._step(k, x, b)
                host = x.to(torch.uint8).cpu().numpy()
                self.outputs.append(host)
                # hash this step while the device works on the next one
                rows_per_job = max(spec.tile_rows, (spec.n // self.hash_threads) // spec.tile_rows
                                   * spec.tile_rows)
                for r0 in range(0, spec.n, rows_per_job):
                    futures.append(pool.submit(_hash_tiles, spec, host[r0:r0 + rows_per_job]))
                del b
            t1 = time.perf_counter()
            hashes = [h for f in futures for h in f.result()]
        self.tree = MerkleTree.from_leaf_hashes(hashes)
        t2 = time.perf_counter()
        self.phase_seconds = {"matmul_and_generate": t1 - t0, "hash_and_tree": t2 - t1}
        return ComputeCommitment(root=self.tree.root)

    def open(self, request: ComputeRequest) -> ComputeOpening:
        if self.tree is None:
            raise ChallengeError("open() called before run()")
        spec = self.spec
        tiles, tproofs, rows, rproofs = [], [], [], []
        for leaf in request.leaves:
            if not 0 <= leaf < spec.n_leaves:
                raise ChallengeError(f"leaf {leaf} outside the {spec.n_leaves} committed tiles")
            k, i, j = spec.tile_of(leaf)
            r0, c0 = i * spec.tile_rows, j * spec.tile_cols
            x = self.outputs[k - 1]
            tiles.append(np.ascontiguousarray(x[r0:r0 + spec.tile_rows, c0:c0 + spec.tile_cols]).tobytes())
            tproofs.append(pack_proof(self.tree.proof(leaf)))
            if k == 1:
                rows.append(b"")
                rproofs.append(b"")
            else:
                rows.append(self.outputs[k - 2][r0:r0 + spec.tile_rows].tobytes())
                start = spec.leaf_index(k - 1, i, 0)
                rproofs.append(pack_proof(self.tree.range_proof(start, start + spec.col_blocks)))
        return ComputeOpening(tuple(tiles), tuple(tproofs), tuple(rows), tuple(rproofs))


# ------------------------------------------------------------------------------------ verifier side


CHECK_COLUMNS = 8  # columns of each opened tile recomputed exactly


@dataclass
class _Opened:
    """An opening that passed the structural and Merkle checks, waiting for the arithmetic check."""

    where: str
    step: int
    col_block: int
    tile: np.ndarray  # (tile_rows, tile_cols) uint8
    rows: np.ndarray  # (tile_rows, n) uint8: row block of X_{k-1}


def _check_structure(spec: ComputeSpec, root: bytes, leaf: int, tile: bytes, tproof: bytes, row: bytes,
                     rproof: bytes) -> _Opened | str:
    """Sizes, value range and both Merkle proofs of one opening: the parsed opening, or what is wrong."""
    k, i, j = spec.tile_of(leaf)
    where = f"tile (step {k}, row block {i}, col block {j})"
    tr, tc, p = spec.tile_rows, spec.tile_cols, spec.p
    if len(tile) != tr * tc:
        return f"{where}: {len(tile)} bytes, expected {tr * tc}"
    try:
        tile_path, row_path = unpack_proof(tproof), unpack_proof(rproof)
    except ValueError as exc:
        return f"{where}: {exc}"
    if not verify_range(root, [leaf_hash(tile)], leaf, spec.n_leaves, tile_path):
        return f"{where}: not in the committed tree"
    t = np.frombuffer(tile, dtype=np.uint8).reshape(tr, tc)
    if int(t.max()) >= p:
        return f"{where}: entries >= p"
    if k == 1:
        if row or row_path:
            return f"{where}: step 1 rows come from the seed and must not be sent"
        r = gen_rows(spec, 0, i * tr, (i + 1) * tr)
    else:
        if len(row) != tr * spec.n:
            return f"{where}: row block of {len(row)} bytes, expected {tr * spec.n}"
        r = np.frombuffer(row, dtype=np.uint8).reshape(tr, spec.n)
        start = spec.leaf_index(k - 1, i, 0)
        if not verify_range(root, _hash_tiles(spec, r), start, spec.n_leaves, row_path):
            return f"{where}: row block of step {k - 1} not in the committed tree"
        if int(r.max()) >= p:
            return f"{where}: row block has entries >= p"
    return _Opened(where, k, j, t, r)


def _gen_column_groups(spec: ComputeSpec, steps: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Columns 4g..4g+3 of B_step for a batch: steps (B,), groups (B, G) global 4-column groups ->
    (B, n, 4G) uint8. The four entries of a group come from one hash word per row, as in gen_rows."""
    keys = np.array([_keys(spec, int(k)) for k in steps], dtype=np.uint32).reshape(-1, 2)  # (B, 2)
    ctr = (np.arange(spec.n, dtype=np.uint32)[None, :, None] * np.uint32(spec.n // 4)
           + groups.astype(np.uint32)[:, None, :])  # (B, n, G)
    words = hash_words_np(ctr, keys[:, 0, None, None], keys[:, 1, None, None])
    return _bytes_to_field(words, spec.p).reshape(len(steps), spec.n, 4 * groups.shape[1])


def _check_columns(spec: ComputeSpec, items: Sequence[_Opened], rng: np.random.Generator) -> list[bool]:
    """Recompute CHECK_COLUMNS secret random columns (two random groups of 4 adjacent columns) of every
    opened tile exactly: T[:, c] must equal (R @ B_k[:, c]) mod p. Every partial sum is an integer below
    n * (p-1)^2 < 2^24, so the float32 products are exact whatever the BLAS does. The columns are drawn
    after the opening arrived."""
    tc = spec.tile_cols
    g = max(1, min(CHECK_COLUMNS, tc) // 4)
    local = np.stack([rng.choice(tc // 4, size=g, replace=False) for _ in items])  # (B, G) groups
    glob = local + np.array([it.col_block * (tc // 4) for it in items])[:, None]
    cols = _gen_column_groups(spec, np.array([it.step for it in items]), glob).astype(np.float32)
    rows = np.stack([it.rows for it in items]).astype(np.float32)  # (B, tr, n)
    want = np.matmul(rows, cols).astype(np.int32) % np.int32(spec.p)  # (B, tr, 4G)
    local_cols = (4 * local[:, :, None] + np.arange(4)[None, None, :]).reshape(len(items), -1)
    tiles = np.stack([it.tile for it in items])  # (B, tr, tc)
    got = np.take_along_axis(tiles, np.broadcast_to(local_cols[:, None, :], want.shape), axis=2)
    return [bool(x) for x in np.all(got == want, axis=(1, 2))]


def _check_all(spec: ComputeSpec, root: bytes, leaves: Sequence[int], lists: Sequence[tuple[bytes, ...]],
               rng: np.random.Generator) -> list[str]:
    problems: list[str] = []
    ready: list[_Opened] = []
    for leaf, *parts in zip(leaves, *lists):
        got = _check_structure(spec, root, leaf, *parts)
        if isinstance(got, str):
            problems.append(got)
        else:
            ready.append(got)
    for b0 in range(0, len(ready), 16):  # bounded temporaries at H100 sizes
        batch = ready[b0:b0 + 16]
        for it, ok in zip(batch, _check_columns(spec, batch, rng)):
            if not ok:
                problems.append(f"{it.where}: is not X_{it.step - 1} @ B_{it.step} mod p")
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
    TFLOPS metrics. `rng` draws the verifier's private choice of columns (default: OS entropy)."""
    t0 = time.perf_counter()
    rng = rng if rng is not None else np.random.default_rng()
    problems: list[str] = []
    n_open = len(request.leaves)
    lists: Sequence[tuple[bytes, ...]] = (opening.tiles, opening.tile_proofs, opening.row_blocks,
                                          opening.row_block_proofs)
    if len(commitment.root) != HASH_SIZE:
        problems.append("commitment root is not 32 bytes")
    elif any(len(x) != n_open for x in lists):
        problems.append(f"opening has {[len(x) for x in lists]} entries for {n_open} requested tiles")
    elif len(set(request.leaves)) != n_open or any(not 0 <= x < spec.n_leaves for x in request.leaves):
        problems.append("request leaves are out of range or repeated")
    else:
        problems.extend(_check_all(spec, commitment.root, request.leaves, lists, rng))
    verify_seconds = time.perf_counter() - t0
    metrics: dict[str, float] = {
        "openings": float(n_open),
        "bad_openings": float(len(problems)),
        "bytes_opened": float(opening.nbytes),
        "flops": spec.flops,
        "verify_flops": 2.0 * n_open * spec.tile_rows * spec.n * min(CHECK_COLUMNS, spec.tile_cols),
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
    """Add node_seconds, verify/node ratio, measured TFLOPS and the measured/claimed ratio."""
    result = result.with_node_seconds(node_seconds)
    m = result.metrics
    if node_seconds > 0:
        m["tflops"] = spec.flops / node_seconds / 1e12
        if spec.claimed_tflops > 0:
            m["tflops_ratio"] = m["tflops"] / spec.claimed_tflops
    return result
