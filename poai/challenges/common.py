"""Types and helpers shared by every PoAI challenge: the claim, the budget, results, seeds, hashing.

How a session uses this module (the challenger side, driven by poai/challenger):

    claim  = Claim(device_kind="cuda", gpu_model="H100", memory_bytes=80 * 2**30, tflops=60.0)
    budget = Budget.from_claim(claim)            # or Budget.default() / Budget.lightweight()
    rng    = np.random.default_rng()              # any Generator; None means `secrets`
    spec   = compute.make_spec(budget, rng)       # each challenge draws a fresh 32-byte seed
    ...
    result = compute.verify(spec, commitment, request, opening, node_seconds=t)   # -> CheckResult

Everything that travels between challenger and node is a frozen dataclass made of ints, floats, str,
bytes and tuples of those, so the wire layer maps it 1:1 to protobuf (see `WireMixin.to_dict/from_dict`).

The pseudo-random generator used for challenge data (`hash_words_np` / `hash_words_torch`) is a keyed
32-bit integer hash over a counter. It is not the cryptography: the seeds are secret until the spec is
sent and the commitments are SHA-256. It is used because (a) any element can be produced on its own, so
the verifier regenerates only the columns it checks, and (b) the numpy (verifier, CPU node) and torch
(GPU node) versions give bit-identical output on every device.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from edge_sdk.errors import EdgeProofError

__all__ = [
    "Budget",
    "ChallengeError",
    "CheckResult",
    "Claim",
    "DEVICE_KINDS",
    "Stopwatch",
    "WireMixin",
    "derive_key",
    "derive_u32_pair",
    "hash_words_np",
    "hash_words_torch",
    "new_seed",
    "numpy_rng",
    "pick_device",
    "rng_integers",
    "rng_sample",
    "torch_generator",
]

SEED_BYTES = 32
DEVICE_KINDS = ("cpu", "cuda", "mps", "edge")
MASK32 = 0xFFFFFFFF
# Odd multipliers below 2**31 so that the torch int64 path never overflows (x < 2**32, c < 2**31).
_M1 = 0x7FEB352D
_M2 = 0x5BD1E995

T = TypeVar("T", bound="WireMixin")


class ChallengeError(EdgeProofError):
    """A challenge that cannot run as specified (bad sizes, not enough memory on the device, ...)."""


# ----------------------------------------------------------------------------------------------- wire


class WireMixin:
    """to_dict()/from_dict() for the flat frozen dataclasses that travel over the wire."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        return cls(**kwargs)  # type: ignore[call-arg]


# -------------------------------------------------------------------------------------------- results


@dataclass
class CheckResult:
    """The verdict on one challenge. `metrics` carries the measured numbers (all floats).

    Common metric keys: "verify_seconds", "bytes_opened", "node_seconds" (set by the challenger from its own
    clock, see `with_node_seconds`), "verify_node_ratio" (verifier seconds / node seconds).
    """

    name: str
    passed: bool
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)
    verify_seconds: float = 0.0

    def with_node_seconds(self, node_seconds: float) -> CheckResult:
        """A copy with the node's work time (challenger clock, net of RTT) and the verify/node cost ratio."""
        metrics = dict(self.metrics)
        metrics["node_seconds"] = float(node_seconds)
        metrics["verify_node_ratio"] = (
            float(self.verify_seconds) / float(node_seconds) if node_seconds > 0 else math.inf
        )
        return dataclasses.replace(self, metrics=metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": bool(self.passed),
            "reason": self.reason,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "verify_seconds": float(self.verify_seconds),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=str(data["name"]),
            passed=bool(data["passed"]),
            reason=str(data.get("reason", "")),
            metrics={str(k): float(v) for k, v in dict(data.get("metrics", {})).items()},
            verify_seconds=float(data.get("verify_seconds", 0.0)),
        )


class Stopwatch:
    """`with Stopwatch() as sw: ...; sw.seconds` - perf_counter based."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


# ---------------------------------------------------------------------------------------------- claim


@dataclass(frozen=True)
class Claim(WireMixin):
    """What a node says it is. Every number here is checked, none is trusted.

    tflops: matmul throughput on 8-bit integer operands with exact accumulation, in 10^12 ops/s (what the
        compute challenge measures as `matmul_tops`: any exact kernel qualifies, int8, bf16/fp16/tf32 with
        fp32 accumulation, or fp32; see poai/challenges/compute/__init__.py). The name is kept for compatibility.
    memory_bytes: device memory the node offers (VRAM on a GPU, RAM on a CPU device).
    """

    device_kind: str = "cpu"
    gpu_model: str = ""
    memory_bytes: int = 0
    tflops: float = 0.0
    memory_bandwidth_gbs: float = 0.0  # nonce-pass bandwidth the node claims (0: none claimed)

    def __post_init__(self) -> None:
        if self.device_kind not in DEVICE_KINDS:
            raise ValueError(f"device_kind must be one of {DEVICE_KINDS}, got {self.device_kind!r}")
        if self.memory_bytes < 0 or not math.isfinite(self.tflops) or self.tflops < 0:
            raise ValueError("claimed memory_bytes and tflops must be finite and non-negative")


# --------------------------------------------------------------------------------------------- budget


# Seconds of compute work a device that matches its claim should need (see Budget.from_claim).
DEFAULT_TARGET_SECONDS = 2.0


def _pow2_round(x: float) -> int:
    return 1 << max(0, round(math.log2(max(x, 1.0))))


@dataclass(frozen=True)
class Budget:
    """How big each challenge of a session is.

    Built from the node's claim (`from_claim`) so that a real device of that class does ~`target` seconds of
    work; `default()` is a CPU plan (~0.3-2 s per heavy challenge on a 2-core machine) and `lightweight()`
    a plan of ~10-50 ms used by tests and load tests.
    """

    claimed_tflops: float = 0.05
    claimed_memory_bytes: int = 128 << 20
    claimed_memory_bandwidth_gbs: float = 0.0
    device_kind: str = "cpu"
    # compute: `compute_steps` independent n x n matmuls X_k = A_k @ B_k mod p, committed as tiles.
    compute_n: int = 1024
    compute_steps: int = 64
    compute_tile_rows: int = 32
    compute_tile_cols: int = 32
    compute_openings: int = 64
    # memory: `memory_bytes` in blocks of `memory_block_bytes`, filled as `memory_lanes` parallel chains.
    # Time bounds are the verifier's (poai.challenges.memory.MemoryBounds), not the plan's; see
    # poai/challenges/memory/CALIBRATION.md for these sizes.
    memory_bytes: int = 128 << 20
    memory_block_bytes: int = 16 << 10  # small blocks: 128 openings x 2 blocks stay ~4 MiB
    memory_lanes: int = 64  # 1 MiB per chain step: numpy/torch calls stay efficient
    memory_openings: int = 128  # a node missing 5% of its blocks survives with (0.95)^128 = 0.14%
    memory_rounds: int = 16  # hash rounds per word of the chain: recomputing a block costs ~15x reading it
    # latency
    ping_count: int = 5
    max_rtt_s: float = 1.0
    # inference: the node answers `inference_prompts` fresh prompts; the verifier re-scores
    # `inference_checked` of them, chosen after the whole answer arrived (the form of every answer is
    # checked). One re-scoring pass costs ~0.6x the node's decode of that prompt here, so 1 of 16 keeps the
    # verifier at ~3% of the node's work (4% at most); a node answering w of the 16 with another model passes with
    # probability (16 - w)/16 per session (inference.survival_bound; see poai/challenges/inference/CALIBRATION.md).
    inference_prompts: int = 16
    inference_checked: int = 1
    inference_max_tokens: int = 16
    inference_top_k: int = 5

    def __post_init__(self) -> None:
        if self.compute_n % self.compute_tile_rows or self.compute_n % self.compute_tile_cols:
            raise ValueError("compute_n must be a multiple of the tile sizes")
        if self.memory_block_bytes % 4096 or self.memory_block_bytes <= 0:
            raise ValueError("memory_block_bytes must be a positive multiple of 4 KiB")
        if self.memory_bytes < self.memory_block_bytes * self.memory_lanes:
            raise ValueError("memory_bytes must hold at least one block per lane")
        if not 1 <= self.inference_checked <= self.inference_prompts:
            raise ValueError("inference_checked must be between 1 and inference_prompts")

    @classmethod
    def default(cls) -> Budget:
        """CPU plan: ~1-2 s of compute work (64 independent 1024^2 matmuls, ~137 G ops) and ~1 s of memory
        work (128 MiB: fill ~0.7 s, nonce pass ~40 ms, 128 openings) on a 2-core x86 machine. The compute verifier's cost is fixed per opening (64 openings,
        ~7 ms here: ~1% of the node's ~1 s), so it is the node's work that must be long enough to keep the
        ratio under 5%."""
        return cls()

    @classmethod
    def lightweight(cls) -> Budget:
        """A plan of ~10-50 ms in total: for unit tests and many concurrent sessions in load tests."""
        return cls(
            claimed_tflops=0.01,
            claimed_memory_bytes=1 << 20,
            compute_n=128,
            compute_steps=2,
            compute_tile_rows=16,
            compute_tile_cols=16,
            compute_openings=16,
            memory_bytes=1 << 20,
            memory_block_bytes=16 << 10,
            memory_lanes=16,
            memory_openings=8,
            ping_count=3,
            inference_prompts=1,
            inference_checked=1,
            inference_max_tokens=8,
        )

    @classmethod
    def from_claim(
        cls,
        claim: Claim,
        *,
        target_seconds: float | None = None,
        memory_fraction: float = 0.9,
        memory_cap_bytes: int | None = None,
        **overrides: Any,
    ) -> Budget:
        """Size the challenges so a device that matches `claim` needs ~`target_seconds` for the compute part.

        target_seconds defaults to 2 s on every device: the verifier's cost is fixed per session (64
        openings, ~40-70 ms on a 2-core CPU), so shorter compute work pushes it above 5% of the node's work
        (measured over the wire here: 0.6 s -> 7.6%, 1.5 s -> 5.2%). The memory challenge covers
        `memory_fraction` of the claimed memory (a GPU needs room for its context), optionally capped.
        """
        gpu = claim.device_kind in ("cuda", "mps")
        target = target_seconds if target_seconds is not None else DEFAULT_TARGET_SECONDS
        tflops = max(claim.tflops, 1e-3)
        flops = tflops * 1e12 * target
        n = _pow2_round((flops / 16.0) ** (1.0 / 3.0))  # aim at ~8 steps
        mem = claim.memory_bytes if claim.memory_bytes > 0 else 1 << 30
        # fp32 A, B, product + one uint8 result per step must fit comfortably in half the memory
        while n > 128 and n * n * (12 + 16) > mem // 2:
            n //= 2
        n = max(128, min(n, 32768))
        steps = int(min(64, max(2, round(flops / (2.0 * n**3)))))
        # leaves per step = n^2 / (tile_rows * tile_cols) (node's Merkle work); the verifier's work per
        # opening is ~tile_rows * n (row block of A_k, 2 x 4 columns of B_k) and does not depend on tile_cols.
        tile_rows = 16 if n <= 256 else 32
        tile_cols = max(16, min(512, n // 32))
        # memory: >= ~16k blocks, so 128 openings (2 blocks each) cost the verifier ~1-3% of the node's
        # fill; blocks of 4-32 KiB on CPUs (an opening message stays <= ~9 MiB) in 1 MiB chain steps, 64 KiB
        # on GPUs in 64 MiB steps. Time bounds: poai.challenges.memory.MemoryBounds (claimed bandwidth).
        mem_bytes = int(mem * memory_fraction)
        if memory_cap_bytes is not None:
            mem_bytes = min(mem_bytes, memory_cap_bytes)
        if gpu:
            block, lanes = 64 << 10, 1024
        else:
            block = min(32 << 10, max(4 << 10, _pow2_round(mem_bytes / 16384)))
            lanes = max(4, (1 << 20) // block)
        mem_bytes = max(mem_bytes // (block * lanes), 1) * block * lanes
        params: dict[str, Any] = dict(
            claimed_tflops=float(claim.tflops),
            claimed_memory_bytes=int(claim.memory_bytes),
            claimed_memory_bandwidth_gbs=float(claim.memory_bandwidth_gbs),
            device_kind=claim.device_kind,
            compute_n=n,
            compute_steps=steps,
            compute_tile_rows=tile_rows,
            compute_tile_cols=tile_cols,
            memory_bytes=mem_bytes,
            memory_block_bytes=block,
            memory_lanes=lanes,
        )
        params.update(overrides)
        return cls(**params)


# ---------------------------------------------------------------------------------------------- seeds


def new_seed(rng: np.random.Generator | None = None) -> bytes:
    """A fresh 32-byte seed: from `rng` when given (reproducible tests), else from the OS CSPRNG."""
    if rng is None:
        return secrets.token_bytes(SEED_BYTES)
    return rng.bytes(SEED_BYTES)


def rng_integers(rng: np.random.Generator | None, high: int, size: int) -> list[int]:
    """`size` independent uniform integers in [0, high) (with replacement)."""
    if high <= 0:
        raise ValueError("high must be positive")
    if rng is None:
        return [secrets.randbelow(high) for _ in range(size)]
    return [int(x) for x in rng.integers(0, high, size=size)]


def rng_sample(rng: np.random.Generator | None, high: int, size: int) -> list[int]:
    """`min(size, high)` distinct uniform integers from [0, high), sorted."""
    size = min(size, high)
    if rng is None:
        return sorted(secrets.SystemRandom().sample(range(high), size))
    return sorted(int(x) for x in rng.choice(high, size=size, replace=False))


def derive_key(seed: bytes, *labels: object) -> bytes:
    """SHA-256 of the seed and labels, each length-prefixed (no ambiguity between label lists)."""
    h = hashlib.sha256(b"edgeproof/poai/v1")
    for part in (seed, *labels):
        data = part if isinstance(part, bytes) else str(part).encode()
        h.update(struct.pack("<Q", len(data)))
        h.update(data)
    return h.digest()


def derive_u32_pair(seed: bytes, *labels: object) -> tuple[int, int]:
    """Two 32-bit keys for `hash_words_*`."""
    k = derive_key(seed, *labels)
    return int.from_bytes(k[0:4], "little"), int.from_bytes(k[4:8], "little")


def numpy_rng(seed: bytes, *labels: object) -> np.random.Generator:
    """A numpy Generator determined by (seed, labels)."""
    return np.random.Generator(np.random.PCG64(int.from_bytes(derive_key(seed, *labels), "little")))


def torch_generator(seed: bytes, *labels: object, device: Any = "cpu") -> Any:
    """A torch.Generator determined by (seed, labels). Streams differ between CPU and CUDA: never use it
    for data both sides must reproduce (use `hash_words_*` for that)."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int.from_bytes(derive_key(seed, *labels)[:8], "little") & ((1 << 63) - 1))
    return g


def pick_device(device: Any = None) -> Any:
    """torch.device: the given one, else CUDA when present, else CPU."""
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ------------------------------------------------------------------------------------- counter hash

_U32 = np.uint32


def _mix_np(x: np.ndarray) -> np.ndarray:
    x ^= x >> _U32(16)
    x *= _U32(_M1)
    x ^= x >> _U32(15)
    x *= _U32(_M2)
    x ^= x >> _U32(16)
    return x


def hash_words_np(counter: np.ndarray, k1: Any, k2: Any) -> np.ndarray:
    """uint32 words h(counter; k1, k2); k1/k2 are ints or uint32 arrays broadcastable to `counter`."""
    x = np.asarray(counter, dtype=np.uint32) ^ np.asarray(k1, dtype=np.uint32)
    x = _mix_np(x)
    x ^= np.asarray(k2, dtype=np.uint32)
    return _mix_np(x)


def _mix_torch(x: Any) -> Any:
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


def hash_words_torch(counter: Any, k1: Any, k2: Any) -> Any:
    """Same function as `hash_words_np` on int64 torch tensors holding values in [0, 2**32) (any device).

    int64 with a 32-bit mask after every multiply keeps all intermediates below 2**63, so the result is
    defined (no signed overflow) and identical on CPU and CUDA.
    """
    x = (counter & MASK32) ^ k1
    x = _mix_torch(x)
    x = x ^ k2
    return _mix_torch(x)
