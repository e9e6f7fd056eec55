"""Cheating nodes, as real node strategies: each is a `Solver` subclass that changes one thing.

They run through the same NodeAgent, gRPC stream and encoding as the honest node, so the cheat tests and
the benchmark's detection table exercise the real path end to end. `ADVERSARIES` maps a short name to a
factory `(key, claim, device, engines) -> Solver` and says what the challenger must report.

Nothing here is used by an honest node; it lives in the package (not in tests/) because the benchmark
needs it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_sdk.identity import NodeKey
from poai._proto import poai_pb2 as pb
from poai.claim import NodeClaim
from poai.hello import sign_hello
from poai.node import model_variants
from poai.node.solver import DISCONNECT, Challenge, Solver
from poai.wire import to_pb

# ------------------------------------------------------------------------------------------ claims


class OverclaimTflops(Solver):
    """Claims 20x the TFLOPS it has: gets work sized for that claim and cannot finish it in time."""

    factor = 20.0

    def __init__(self, key: NodeKey, claim: NodeClaim, device: str = "cpu", inference: Any = None) -> None:
        claim = dataclasses.replace(claim, claimed_tflops=claim.claimed_tflops * self.factor)
        super().__init__(key, claim, device, inference)


class OverclaimMemory(Solver):
    """Claims 8x the memory it offers, and keeps only what it really offers (every 8th step of each lane);
    the other blocks are recomputed from the last kept step, inside the nonce pass and on request."""

    factor = 8

    def __init__(self, key: NodeKey, claim: NodeClaim, device: str = "cpu", inference: Any = None) -> None:
        claim = dataclasses.replace(claim, memory_bytes=claim.memory_bytes * self.factor)
        super().__init__(key, claim, device, inference)
        self.keep_fraction = 1.0 / self.factor

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return dropping_memory_work(spec, self.device, keep_every=round(1 / self.keep_fraction))
        return super().make_work(kind, spec)


class RegenerateMemory(Solver):
    """Stores only every 16th step of the chain and recomputes the rest whenever it needs it (nonce pass,
    openings)."""

    keep_every = 16

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return dropping_memory_work(spec, self.device, keep_every=self.keep_every)
        return super().make_work(kind, spec)


class SlowFillPartialMemory(Solver):
    """Fills slowly on purpose (`fill_delay_s` of sleeps spread over the fill: the v1 bounds grew with the
    fill time) and keeps only `keep` of its blocks, recomputing the others inside the nonce pass."""

    fill_delay_s = 3.0
    keep = 0.5

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return memory_cheat_work(spec, drop_fraction=1.0 - self.keep, fill_delay_s=self.fill_delay_s)
        return super().make_work(kind, spec)


class DropBlocksMemory(Solver):
    """Drops `drop_fraction` of its blocks after committing and does not recompute them for the nonce pass
    (it commits nonce leaves of zero blocks); opened blocks are recomputed on request, so only their nonce
    leaves are wrong. Survives m openings with probability (1 - drop_fraction)^m."""

    drop_fraction = 0.05

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return memory_cheat_work(spec, drop_fraction=self.drop_fraction, regenerate_in_pass=False)
        return super().make_work(kind, spec)


class DropRegenerateMemory(Solver):
    """Drops `drop_fraction` of its blocks and recomputes each inside the nonce pass from its parent (one
    chain step per dropped block: the cheapest way to get its nonce leaf right). All answers are correct;
    the pass is slower by (1 + drop_fraction x R), R = recompute/read cost per block."""

    drop_fraction = 0.10

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return memory_cheat_work(spec, drop_fraction=self.drop_fraction, regenerate_in_pass=True)
        return super().make_work(kind, spec)


class NothingStoredMemory(Solver):
    """Stores nothing: recomputes the whole chain inside the nonce pass and the opened blocks on request.
    Claims no bandwidth (0), so the challenger plans it at the floor: the longest pass any claim gets."""

    def __init__(self, key: NodeKey, claim: NodeClaim, device: str = "cpu", inference: Any = None) -> None:
        claim = dataclasses.replace(claim, memory_bandwidth_gbs=0.0)
        super().__init__(key, claim, device, inference)

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return memory_cheat_work(spec, keep_nothing=True)
        return super().make_work(kind, spec)


def predicted_openings(spec: Any) -> list[int]:
    """The openings a node would expect if the challenger drew them from a PCG64 seeded with the spec's seed
    (or continuing the stream that produced it): what a seed-stream predictor bets on."""
    from poai.challenges.common import rng_sample

    gen = np.random.Generator(np.random.PCG64(int.from_bytes(spec.seed, "little")))
    return rng_sample(gen, spec.n_blocks, spec.openings)


class SeedPredictingMemory(Solver):
    """Predicts the opened blocks from a PCG64 seeded with the spec's seed, keeps only those and their parents,
    and commits nonce leaves of zero blocks for everything else."""

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            keep = set()
            for leaf in predicted_openings(spec):
                keep.add(leaf)
                if leaf >= spec.lanes:
                    keep.add(leaf - spec.lanes)
            return memory_cheat_work(spec, keep_leaves=keep, regenerate_in_pass=False)
        return super().make_work(kind, spec)


def dropping_memory_work(spec: Any, device: str, keep_every: int) -> Any:
    """A memory NodeWork that keeps one step in `keep_every` and recomputes the others from the last kept
    step (sequentially in the nonce pass: one chain step per dropped block)."""
    del device
    return memory_cheat_work(spec, keep_every=keep_every)


def memory_cheat_work(
    spec: Any,
    *,
    drop_fraction: float = 0.0,
    keep_every: int = 0,
    keep_nothing: bool = False,
    keep_leaves: Any = None,
    regenerate_in_pass: bool = True,
    fill_delay_s: float = 0.0,
    seed: int | None = None,
) -> Any:
    """A memory NodeWork (numpy, CPU) that commits the honest root but then holds only some blocks.

    Which blocks it drops: a random `drop_fraction` of them, or all steps but every `keep_every`-th, or
    everything (`keep_nothing`), or all but `keep_leaves`. In the nonce pass it either recomputes each
    dropped block from its parent (`regenerate_in_pass`: one chain step per dropped block, the cheapest
    way; parents come from the step it just processed) or fingerprints zeros in its place (wrong nonce
    leaves, nothing recomputed). Opened blocks are always recomputed on request (walking the lane from its
    last kept block), so the chain check passes and only the nonce leaves or the time can give it away.
    `fill_delay_s` of sleeps are spread over the fill.
    """
    import time

    from poai.challenges import memory

    s = spec
    dropped = np.zeros((s.depth, s.lanes), dtype=bool)
    if keep_nothing:
        dropped[:] = True
    elif keep_every:
        dropped[np.arange(s.depth) % keep_every != 0] = True
    elif keep_leaves is not None:
        dropped[:] = True
        for leaf in keep_leaves:
            lane, step = s.block_of(leaf)
            dropped[step, lane] = False
    elif drop_fraction > 0:
        rng = np.random.default_rng(seed)
        n_drop = int(round(drop_fraction * s.n_blocks))
        flat = dropped.reshape(-1)  # leaf order: step * lanes + lane
        flat[rng.choice(s.n_blocks, size=n_drop, replace=False)] = True

    class CheatingMemoryWork(memory.NodeWork):
        def _allocate(self) -> None:
            self.use_torch = False
            self.dropped = dropped
            self.stored: dict[int, np.ndarray] = {}
            self.regenerate_in_pass = regenerate_in_pass
            self._mult = memory._digest_multipliers_np(self.spec)
            self._pass_prev: np.ndarray | None = None
            self._cache: dict[tuple[int, int], np.ndarray] = {}

        def _put_step(self, step: int, blocks: Any) -> None:
            if fill_delay_s:
                time.sleep(fill_delay_s / self.spec.depth)
            gone = self.dropped[step]
            if not gone.all():
                kept = np.array(blocks, copy=True)
                kept[gone] = 0
                self.stored[step] = kept

        def _held(self, step: int) -> np.ndarray:
            return self.stored.get(step, np.zeros((self.spec.lanes, self.spec.words), dtype=np.uint32))

        def nonce_pass(self, request: Any) -> Any:
            self._pass_prev = None
            self._in_pass = True
            try:
                return super().nonce_pass(request)
            finally:
                self._in_pass = False
                self._pass_prev = None

        def _get_step(self, step: int) -> np.ndarray:
            if not getattr(self, "_in_pass", False):
                return np.stack([self._get_block(lane, step) for lane in range(self.spec.lanes)])
            held = self._held(step)
            gone = np.flatnonzero(self.dropped[step])
            if not self.regenerate_in_pass or len(gone) == 0:
                self._pass_prev = held
                return held
            full = held.copy()
            prev = None if step == 0 else self._pass_prev[gone]
            full[gone] = memory._step_np(self.spec, self._mult, gone, step, prev)
            self._pass_prev = full
            return full

        def _get_block(self, lane: int, step: int) -> np.ndarray:
            if not self.dropped[step, lane]:
                return self.stored[step][lane]
            if (lane, step) in self._cache:
                return self._cache[(lane, step)]
            start = step
            while start > 0 and self.dropped[start - 1, lane] and (lane, start - 1) not in self._cache:
                start -= 1
            if start == 0:
                prev = None
            else:
                prev = self._cache.get((lane, start - 1))
                prev = self.stored[start - 1][lane] if prev is None else prev
            one = np.array([lane])
            for st in range(start, step + 1):
                prev = memory._step_np(self.spec, self._mult, one, st, None if prev is None else prev[None])[0]
                self._cache[(lane, st)] = prev
            return prev

    return CheatingMemoryWork(spec, "cpu", kernel="numpy")


# ------------------------------------------------------------------------------------------ compute
#
# Each strategy is a compute NodeWork (usable on its own in the library-level tests, see
# tests/test_poai_attack_compute.py) wrapped in a Solver. poai/challenges/compute/__init__.py states the bound they
# all meet: a node whose committed tiles are right on a fraction w of their 4-column groups (at most the
# fraction of the work it did) passes with probability <= w^openings.


def _compute_work_class(step: Callable[[Any, int, Any, Any], Any]) -> type:
    """A compute NodeWork whose X_k is `step(work, k, A_k, B_k)` (A_k, B_k generated honestly)."""
    from poai.challenges import compute

    class CheatingComputeWork(compute.NodeWork):
        def _step(self, k: int, a: Any, b: Any) -> Any:  # noqa: D401
            return step(self, k, a, b)

    return CheatingComputeWork


def _random_step(work: Any, k: int, a: Any, b: Any) -> Any:
    """No matmul at all: random values in [0, p)."""
    import torch

    return torch.randint(0, work.spec.p, a.shape, dtype=torch.int32).to(a.dtype).to(a.device)


def _stale_step(work: Any, k: int, a: Any, b: Any) -> Any:
    """Computes X_1 honestly and then returns it again for every later step (stale results)."""
    import torch

    if k == 1 or getattr(work, "_first", None) is None:
        work._first = torch.fmod(a @ b, float(work.spec.p))
    return work._first


def _partial_step(fraction: float) -> Callable[[Any, int, Any, Any], Any]:
    def step(work: Any, k: int, a: Any, b: Any) -> Any:
        """Computes the first `fraction` of the rows (whole tiles); the rest is left zero."""
        import torch

        rows = max(1, int(work.spec.n * fraction))
        out = torch.zeros_like(a)
        out[:rows] = torch.fmod(a[:rows] @ b, float(work.spec.p))
        return out

    return step


def _partial_columns_step(fraction: float) -> Callable[[Any, int, Any, Any], Any]:
    def step(work: Any, k: int, a: Any, b: Any) -> Any:
        """Computes the first `fraction` of the 4-column groups of every tile (every tile partly right);
        the other columns are left zero. Does `fraction` of the multiply work."""
        import torch

        s = work.spec
        keep = max(1, int(s.groups_per_tile * fraction)) * 4
        cols = torch.arange(s.n, device=a.device).reshape(s.col_blocks, s.tile_cols)[:, :keep].reshape(-1)
        out = torch.zeros_like(a)
        out[:, cols] = torch.fmod(a @ b[:, cols], float(s.p))
        return out

    return step


def zero_work(spec: Any, device: Any = "cpu") -> Any:
    """Commits all-zero tiles: no generation, no matmul (zero is no longer a fixed point of anything)."""
    from poai.challenges import compute

    class ZeroComputeWork(compute.NodeWork):
        def _product(self, k: int) -> Any:
            import torch

            return torch.zeros((self.spec.n, self.spec.n), dtype=torch.float32, device=self.device)

    return ZeroComputeWork(spec, device)


def stop_at_step_work(spec: Any, device: Any = "cpu", stop_at: int | None = None, after: str = "zeros") -> Any:
    """Honest for steps k < `stop_at` (default: the first half), then commits zeros (after="zeros") or
    repeats its last honest result (after="repeat") for every later step: a fraction (stop_at-1)/K of the
    work."""
    from poai.challenges import compute

    if after not in ("zeros", "repeat"):
        raise ValueError("after must be 'zeros' or 'repeat'")
    j = spec.steps // 2 + 1 if stop_at is None else int(stop_at)

    class StopAtStepWork(compute.NodeWork):
        last: Any = None

        def _product(self, k: int) -> Any:
            import torch

            if k < j:
                self.last = super()._product(k)
                return self.last
            if after == "repeat" and self.last is not None:
                return self.last
            return torch.zeros((self.spec.n, self.spec.n), dtype=torch.float32, device=self.device)

    return StopAtStepWork(spec, device)


def lazy_after_commit_work(spec: Any, device: Any = "cpu") -> Any:
    """Commits the root of a tree of random leaves without computing anything, then, once it knows which
    leaves are opened, computes exactly those tiles correctly (1/leaves_per_step of a step each) and sends
    them with its tree's proofs. The root does not bind them: the Merkle check fails."""
    import os as _os

    from poai.challenges import compute
    from poai.merkle import HASH_SIZE, MerkleTree

    class LazyComputeWork(compute.NodeWork):
        def run(self) -> Any:
            raw = _os.urandom(HASH_SIZE * self.spec.n_leaves)
            self.tree = MerkleTree.from_leaf_hashes(
                [raw[i:i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
            )
            return compute.ComputeCommitment(root=self.tree.root)

        def tile(self, leaf: int) -> bytes:
            return compute.reference_tile(self.spec, leaf).tobytes()

    return LazyComputeWork(spec, device)


def partial_work(spec: Any, device: Any = "cpu", fraction: float = 0.5, by: str = "rows") -> Any:
    """Does `fraction` of the work: whole row blocks (by="rows": tiles right or wrong) or the first groups of
    every tile (by="columns": every tile partly right)."""
    if by == "rows":
        return _compute_work_class(_partial_step(fraction))(spec, device)
    if by == "columns":
        return _compute_work_class(_partial_columns_step(fraction))(spec, device)
    raise ValueError("by must be 'rows' or 'columns'")


class RandomTiles(Solver):
    """Commits to random tiles instead of doing the matmuls."""

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return _compute_work_class(_random_step)(spec, self.device)
        return super().make_work(kind, spec)


class StaleTiles(Solver):
    """Does the first step and repeats its result for all later steps."""

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return _compute_work_class(_stale_step)(spec, self.device)
        return super().make_work(kind, spec)


class PartialTiles(Solver):
    """Computes only the first `fraction` of the rows of every step (that fraction of the tiles is right);
    `by = "columns"`: the first `fraction` of the columns of every tile instead."""

    fraction = 0.5
    by = "rows"

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return partial_work(spec, self.device, self.fraction, self.by)
        return super().make_work(kind, spec)


class ZeroWork(Solver):
    """Commits all-zero tiles for every step: no work at all."""

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return zero_work(spec, self.device)
        return super().make_work(kind, spec)


class StopAtStep(Solver):
    """Works honestly for steps k < `stop_at` (None: the first half of the steps), then commits zeros
    (`after = "zeros"`) or repeats its last honest result (`after = "repeat"`). `StopAtStep.at(j)` makes a
    variant."""

    stop_at: int | None = None
    after = "zeros"

    @classmethod
    def at(cls, stop_at: int | None, after: str = "zeros") -> type[StopAtStep]:
        return type(f"StopAtStep{stop_at}{after.capitalize()}", (cls,), {"stop_at": stop_at, "after": after})

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return stop_at_step_work(spec, self.device, self.stop_at, self.after)
        return super().make_work(kind, spec)


class LazyAfterCommit(Solver):
    """Commits a random root at once and computes only the opened tiles after the reveal."""

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return lazy_after_commit_work(spec, self.device)
        return super().make_work(kind, spec)


class ReplaySession(Solver):
    """Works honestly once, then answers every later session with that session's results: the old
    commitment, and openings cut from the old work (consistent with the old root, wrong for the new seed).

    The record is per instance: run the same solver (or agent) for several sessions.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorded: dict[str, Challenge] = {}
        self.replaying = False

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> Any:
        old = self.recorded.get(msg.kind)
        if old is None or not self.replaying:
            record = await super().commit(msg, emit)
            self.recorded[msg.kind] = self.challenges[msg.challenge_id]
            return record
        self.challenges[msg.challenge_id] = old
        return to_pb(old.commitment)

    def on_result(self, result: pb.SessionResult) -> None:
        self.replaying = bool(self.recorded)

    def finish(self) -> None:
        # Keep the recorded work alive for the next session; forget only the per-session index.
        self.challenges.clear()


# ------------------------------------------------------------------------------------------ timing


class RelayNode(Solver):
    """Forwards everything to a far-away device: every answer, pings included, arrives `delay_s` late."""

    delay_s = 1.2

    async def pong(self, ping: pb.Ping) -> pb.Pong:
        await asyncio.sleep(self.delay_s)
        return await super().pong(ping)

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> Any:
        await asyncio.sleep(self.delay_s)
        return await super().commit(msg, emit)

    async def open(self, msg: pb.OpeningRequest) -> Any:
        await asyncio.sleep(self.delay_s)
        return await super().open(msg)


class SlowOpenings(Solver):
    """Answers pings fast but takes `delay_s` to answer openings (fetching them from elsewhere)."""

    delay_s = 3.0

    async def open(self, msg: pb.OpeningRequest) -> Any:
        await asyncio.sleep(self.delay_s)
        return await super().open(msg)


# ------------------------------------------------------------------------------------------ identity


class BadSignature(Solver):
    """Sends a hello whose signature bytes are corrupted."""

    def hello(self, start: pb.SessionStart) -> pb.Hello:
        msg = super().hello(start)
        sig = bytearray(msg.signature)
        sig[0] ^= 0xFF
        msg.signature = bytes(sig)
        return msg


class WrongKey(Solver):
    """Claims one identity and signs with another key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.other = NodeKey.generate(self.key.scheme)

    def hello(self, start: pb.SessionStart) -> pb.Hello:
        msg = super().hello(start)
        msg.signature = sign_hello(self.other, start.nonce, self.claim, start.challenger_id)
        return msg


class ReplayHello(Solver):
    """Captures its first signed hello and sends that same hello (old nonce) in every later session."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.captured: pb.Hello | None = None

    def hello(self, start: pb.SessionStart) -> pb.Hello:
        if self.captured is None:
            self.captured = super().hello(start)
            return self.captured
        return self.captured


# ------------------------------------------------------------------------------------------ wire


class MalformedCommitment(Solver):
    """Sends a commitment of the wrong type (a memory commitment to a compute challenge, and vice versa)."""

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> Any:
        real = await super().commit(msg, emit)
        wrong = pb.MemoryCommitment if msg.kind == "compute" else pb.ComputeCommitment
        return wrong(root=bytes(getattr(real, "root", b"")) or b"\0" * 32)


class OversizedOpening(Solver):
    """Pads its opening far past the challenger's message size limit."""

    pad_bytes = 80 << 20

    async def open(self, msg: pb.OpeningRequest) -> Any:
        opening = await super().open(msg)
        first_list = next(fd.name for fd in opening.DESCRIPTOR.fields if fd.is_repeated)
        getattr(opening, first_list).append(b"\0" * self.pad_bytes)
        return opening


class TruncatedCommitment(Solver):
    """Puts a truncated protobuf on the wire for its commitment."""

    def serialize(self, msg: Any) -> bytes:
        data = msg.SerializeToString()
        if msg.WhichOneof("body") == "commitment":
            return data[: max(1, len(data) // 2)]
        return data


class DisconnectMidChallenge(Solver):
    """Hangs up after receiving the first challenge, before committing."""

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> Any:
        return DISCONNECT


# ------------------------------------------------------------------------------------------ inference


def _perturbed(model: Any, tokenizer: Any, frac: float = 0.1) -> Any:
    """The reference weights plus Gaussian noise of `frac` x each tensor's std (a fine-tuned/forged copy)."""
    return model_variants.noisy(model, frac, seed=1234)


def _requantised(model: Any, tokenizer: Any, bits: int = 2, group: int = 32) -> Any:
    """Every linear weight re-quantised to `bits` bits (min-max per group): a cheaper, worse model."""
    return model_variants.fake_quantise(model, bits, group)


def _tiny_random(model: Any, tokenizer: Any) -> Any:
    """A 2-layer random model with the same tokenizer (answers fast, answers nonsense)."""
    return model_variants.tiny_random(len(tokenizer))


class SwappedModelEngines:
    """Quacks like poai.node.inference.InferenceEngines, but runs `transform(reference model)` on torch."""

    names = ("torch",)
    preferred = "torch"

    def __init__(self, transform: Callable[[Any, Any], Any], model: str | None = None) -> None:
        self.transform = transform
        self.model = model
        self._backend: Any = None

    def backend(self, name: str | None = None) -> Any:
        if self._backend is None:
            from edge_sdk.models import resolve_model
            from edge_sdk.runtime.torch_backend import TorchBackend

            assets = resolve_model(self.model)
            honest = TorchBackend(assets, device="cpu")
            self._backend = TorchBackend(
                assets, model=self.transform(honest.model, honest.tokenizer), device="cpu"
            )
            honest.close()
        return self._backend

    def warm_up(self) -> None:
        from edge_sdk.runtime import SamplingParams

        b = self.backend()
        b.generate(
            b.chat_prompt_ids([{"role": "user", "content": "Hi"}]), SamplingParams(max_tokens=2, logprobs=1)
        )

    def close(self) -> None:
        self._backend = None


class _SwappedModel(Solver):
    transform: Callable[[Any, Any], Any] = staticmethod(_perturbed)

    def __init__(self, key: NodeKey, claim: NodeClaim, device: str = "cpu", inference: Any = None) -> None:
        claim = dataclasses.replace(claim, backends=claim.backends or ("torch",))
        super().__init__(key, claim, device, SwappedModelEngines(type(self).transform))


class PerturbedModel(_SwappedModel):
    """Answers with the reference weights + 10% noise (a different model passed off as the reference)."""

    transform = staticmethod(_perturbed)


class RequantisedModel(_SwappedModel):
    """Answers with a 2-bit re-quantised copy of the reference (coarser quantisation than claimed)."""

    transform = staticmethod(_requantised)


class TinyModel(_SwappedModel):
    """Answers with a tiny random model that shares the tokenizer."""

    transform = staticmethod(_tiny_random)


# ------------------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class Adversary:
    name: str
    solver: type[Solver]
    description: str
    stages: tuple[str, ...]  # the plan stages the cheat needs to be exercised
    sessions: int = 1  # sessions to run; the verdict is on the last one (replays need a first session)


ADVERSARIES: dict[str, Adversary] = {
    a.name: a
    for a in (
        Adversary("overclaim-tflops", OverclaimTflops, "claims 20x its TFLOPS", ("compute",)),
        Adversary(
            "overclaim-memory",
            OverclaimMemory,
            "claims 8x its memory, keeps 1/8 and regenerates",
            ("memory",),
        ),
        Adversary(
            "regenerate-memory",
            RegenerateMemory,
            "keeps 1/16 of the blocks, recomputes the rest in the nonce pass and on request",
            ("memory",),
        ),
        Adversary(
            "slow-fill-partial-memory",
            SlowFillPartialMemory,
            "fills slowly on purpose, keeps half the blocks and recomputes the rest in the nonce pass",
            ("memory",),
        ),
        Adversary(
            "drop-blocks-memory",
            DropBlocksMemory,
            "drops 5% of the blocks, wrong nonce leaves for them (survives 128 openings with 0.14%)",
            ("memory",),
        ),
        Adversary(
            "drop-regenerate-memory",
            DropRegenerateMemory,
            "drops 10% of the blocks and recomputes them inside the nonce pass",
            ("memory",),
        ),
        Adversary(
            "nothing-stored-memory",
            NothingStoredMemory,
            "stores nothing, recomputes the whole chain in the nonce pass, claims no bandwidth",
            ("memory",),
        ),
        Adversary(
            "seed-predicting-memory",
            SeedPredictingMemory,
            "keeps only the blocks a PCG64 seeded with the spec seed would open",
            ("memory",),
        ),
        Adversary("random-tiles", RandomTiles, "random tile results, no matmul", ("compute",)),
        Adversary("stale-tiles", StaleTiles, "repeats step 1's result for every step", ("compute",)),
        Adversary("partial-tiles", PartialTiles, "computes half of the tiles", ("compute",)),
        Adversary("zero-work", ZeroWork, "commits all-zero tiles, no work at all", ("compute",)),
        Adversary("stop-at-step", StopAtStep, "honest for the first half of the steps, zeros after", ("compute",)),
        Adversary(
            "lazy-after-commit",
            LazyAfterCommit,
            "commits a random root, computes the opened tiles after the reveal",
            ("compute",),
        ),
        Adversary("replay-session", ReplaySession, "replays an earlier session's answers", ("compute",), 2),
        Adversary("relay", RelayNode, "relays every message to a remote device (adds latency)", ("compute",)),
        Adversary("bad-signature", BadSignature, "corrupted hello signature", ("compute",)),
        Adversary("wrong-key", WrongKey, "signs with a key other than the one it claims", ("compute",)),
        Adversary(
            "replay-hello", ReplayHello, "re-sends a hello captured in an earlier session", ("compute",), 2
        ),
        Adversary("malformed", MalformedCommitment, "commitment fields of the wrong type", ("compute",)),
        Adversary("oversized", OversizedOpening, "opening past the message size limit", ("compute",)),
        Adversary("truncated", TruncatedCommitment, "truncated protobuf on the wire", ("compute",)),
        Adversary("disconnect", DisconnectMidChallenge, "hangs up mid-challenge", ("compute",)),
        Adversary(
            "perturbed-model", PerturbedModel, "reference weights + 10% noise", ("compute", "inference")
        ),
        Adversary(
            "requantised-model", RequantisedModel, "2-bit re-quantised reference", ("compute", "inference")
        ),
        Adversary("tiny-model", TinyModel, "tiny random model, same tokenizer", ("compute", "inference")),
    )
}


# ------------------------------------------------------------------------------------ inference answers
#
# Cheats on the form of the inference answer and on its token stream. Each runs the honest engine (so the
# chosen tokens are right) and then lies about something the challenger must check: the logprobs, the top-k
# alternatives, or when the tokens were produced. `tamper_answer` functions are usable on their own in the
# library-level tests (tests/test_poai_attack_inference.py).


def nan_logprobs_answer(answer: Any, spec: Any = None) -> Any:
    """The honest tokens with every logprob and alternative logprob NaN (an engine without logprobs)."""
    nan = float("nan")
    return dataclasses.replace(
        answer,
        logprobs=tuple(tuple(nan for _ in lps) for lps in answer.logprobs),
        top_logprobs=tuple(tuple(nan for _ in lps) for lps in answer.top_logprobs),
    )


def mixed_answer(honest: Any, other: Any, wrong: int) -> Any:
    """`honest` with `wrong` of its answers (evenly spaced) taken from `other`, an answer to the same spec from
    another model: a node that runs the claimed model on only part of the prompts (what re-scoring a sample
    bounds, poai.challenges.inference.survival_bound)."""
    n = len(honest.token_ids)
    bad = {round(i * n / wrong) for i in range(wrong)} if wrong else set()
    fields = ("prompt_token_ids", "token_ids", "logprobs", "top_ids", "top_logprobs", "finish_reasons")
    return dataclasses.replace(
        honest, **{f: tuple(getattr(other if i in bad else honest, f)[i] for i in range(n)) for f in fields}
    )


def junk_topk_answer(answer: Any, spec: Any, vocab: int = 49152, seed: int = 0) -> Any:
    """The honest chosen tokens and their logprobs, with fabricated alternatives: random distinct ids and
    plausible logprobs (sorted, below the chosen one, the listed probabilities summing to less than 1), so
    only a comparison with the reference at those ids can tell."""
    import math

    rng = np.random.default_rng(seed)
    k = spec.top_k
    new_ids, new_lps = [], []
    for toks, lps in zip(answer.token_ids, answer.logprobs):
        ids: list[int] = []
        out: list[float] = []
        for tok, lp in zip(toks, lps):
            rest = max(1e-6, 1.0 - math.exp(lp))  # probability mass left for the alternatives
            alts = [int(t) for t in rng.choice(vocab, k + 4, replace=False) if int(t) != tok][: k - 1]
            ids.extend([int(tok), *alts])
            # alternative m gets rest / 2^(m+1): decreasing, summing to < rest, never above the chosen token
            out.extend([lp, *(min(lp, math.log(rest / 2 ** (m + 2))) for m in range(k - 1))])
        new_ids.append(tuple(ids))
        new_lps.append(tuple(out))
    return dataclasses.replace(answer, top_ids=tuple(new_ids), top_logprobs=tuple(new_lps))


class _TamperedInference(Solver):
    """Runs the honest inference work, then `tamper(answer, spec)` on the committed answer."""

    def tamper(self, answer: Any, spec: Any) -> Any:  # pragma: no cover - overridden
        return answer

    def run_work(self, challenge: Challenge, emit: Any) -> Any:
        result = super().run_work(challenge, emit)
        if challenge.kind == "inference":
            return self.tamper(result, challenge.spec)
        return result


class NaNLogprobs(_TamperedInference):
    """Right tokens (streamed as generated), NaN for every logprob."""

    def tamper(self, answer: Any, spec: Any) -> Any:
        return nan_logprobs_answer(answer, spec)


class JunkTopK(_TamperedInference):
    """Right tokens and chosen logprobs, fabricated top-k alternatives."""

    def tamper(self, answer: Any, spec: Any) -> Any:
        backend = self.inference.backend() if self.inference is not None else None
        vocab = int(getattr(backend, "vocab_size", 49152))
        return junk_topk_answer(answer, spec, vocab)


class BurstStream(Solver):
    """Generates the whole answer without streaming, then sends every token tick at once before
    committing (what a node whose engine cannot stream, or that relays whole answers, does)."""

    def run_work(self, challenge: Challenge, emit: Any) -> Any:
        if challenge.kind != "inference" or emit is None:
            return super().run_work(challenge, emit)
        from poai.kinds import TokenTick

        answer = challenge.work.run()
        for p, toks in enumerate(answer.token_ids):
            for j, tok in enumerate(toks):
                emit(TokenTick(p, j, int(tok)))
        return answer


ADVERSARIES.update(
    {
        a.name: a
        for a in (
            Adversary("nan-logprobs", NaNLogprobs, "right tokens, NaN logprobs", ("compute", "inference")),
            Adversary(
                "junk-topk",
                JunkTopK,
                "right tokens and chosen logprobs, fabricated top-k alternatives",
                ("compute", "inference"),
            ),
            Adversary(
                "burst-stream",
                BurstStream,
                "generates first, then streams every token tick at once",
                ("compute", "inference"),
            ),
        )
    }
)
