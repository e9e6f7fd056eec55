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

from poai._proto import poai_pb2 as pb
from poai.identity import NodeClaim, NodeKey
from poai.node.solver import DISCONNECT, Challenge, Solver
from poai.wire import to_record

# ------------------------------------------------------------------------------------------ claims


class OverclaimTflops(Solver):
    """Claims 20x the TFLOPS it has: gets work sized for that claim and cannot finish it in time."""

    factor = 20.0

    def __init__(self, key: NodeKey, claim: NodeClaim, device: str = "cpu", inference: Any = None) -> None:
        claim = dataclasses.replace(claim, claimed_tflops=claim.claimed_tflops * self.factor)
        super().__init__(key, claim, device, inference)


class OverclaimMemory(Solver):
    """Claims 8x the memory it offers, and fills only what it really offers; the blocks it dropped are
    regenerated on request (the only way to answer an opening of a block it does not hold)."""

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
    """Stores only every 16th step of the chain and regenerates the rest whenever asked for it."""

    keep_every = 16

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "memory":
            return dropping_memory_work(spec, self.device, keep_every=self.keep_every)
        return super().make_work(kind, spec)


def dropping_memory_work(spec: Any, device: str, keep_every: int) -> Any:
    """A memory NodeWork that keeps one step in `keep_every` and regenerates the others from the last kept
    step (walking forward, reusing the step it regenerated last, so a sequential pass costs one chain)."""
    from poai.challenges import memory

    class DroppingMemoryWork(memory.NodeWork):
        def _allocate(self) -> None:
            self.use_torch = False
            self.kept: dict[int, np.ndarray] = {}
            self._last: tuple[int, np.ndarray] | None = None
            self._mult = memory._digest_multipliers_np(self.spec)
            self._lanes = np.arange(self.spec.lanes)

        def _put_step(self, step: int, blocks: Any) -> None:
            if step % keep_every == 0:
                self.kept[step] = np.array(blocks, copy=True)

        def _get_step(self, step: int) -> np.ndarray:
            if step in self.kept:
                return self.kept[step]
            if self._last is not None and self._last[0] <= step and self._last[0] >= step - step % keep_every:
                s0, prev = self._last
            else:
                s0 = step - step % keep_every
                prev = self.kept[s0]
            for s in range(s0 + 1, step + 1):
                prev = memory._step_np(self.spec, self._mult, self._lanes, s, prev)
            self._last = (step, prev)
            return prev

    return DroppingMemoryWork(spec, "cpu", kernel="numpy")


# ------------------------------------------------------------------------------------------ compute


def _compute_work_class(step: Callable[[Any, int, Any, Any], Any]) -> type:
    from poai.challenges import compute

    class CheatingComputeWork(compute.NodeWork):
        def _step(self, k: int, x: Any, b: Any) -> Any:  # noqa: D401
            return step(self, k, x, b)

    return CheatingComputeWork


def _random_step(work: Any, k: int, x: Any, b: Any) -> Any:
    """No matmul at all: random values in [0, p)."""
    import torch

    return torch.randint(0, work.spec.p, x.shape, dtype=torch.int32).to(x.dtype).to(x.device)


def _stale_step(work: Any, k: int, x: Any, b: Any) -> Any:
    """Computes X_1 honestly and then returns it again for every later step (stale results)."""
    import torch

    if k == 1:
        return torch.fmod(x @ b, float(work.spec.p))
    return x


def _partial_step(fraction: float) -> Callable[[Any, int, Any, Any], Any]:
    def step(work: Any, k: int, x: Any, b: Any) -> Any:
        """Computes the first `fraction` of the rows; the rest is left zero."""
        import torch

        rows = max(1, int(work.spec.n * fraction))
        out = torch.zeros_like(x)
        out[:rows] = torch.fmod(x[:rows] @ b, float(work.spec.p))
        return out

    return step


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
    """Computes only half the rows of every step (half the tiles are wrong)."""

    fraction = 0.5

    def make_work(self, kind: str, spec: Any) -> Any:
        if kind == "compute":
            return _compute_work_class(_partial_step(self.fraction))(spec, self.device)
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

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> pb.Record:
        old = self.recorded.get(msg.kind)
        if old is None or not self.replaying:
            record = await super().commit(msg, emit)
            self.recorded[msg.kind] = self.challenges[msg.challenge_id]
            return record
        self.challenges[msg.challenge_id] = old
        return to_record(old.commitment)

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

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> pb.Record:
        await asyncio.sleep(self.delay_s)
        return await super().commit(msg, emit)

    async def open(self, msg: pb.OpeningRequest) -> pb.Record:
        await asyncio.sleep(self.delay_s)
        return await super().open(msg)


class SlowOpenings(Solver):
    """Answers pings fast but takes `delay_s` to answer openings (fetching them from elsewhere)."""

    delay_s = 3.0

    async def open(self, msg: pb.OpeningRequest) -> pb.Record:
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
        msg.signature = self.other.sign_hello(start.nonce, self.claim, start.challenger_id)
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
    """Sends a commitment whose fields have the wrong types."""

    async def commit(self, msg: pb.ChallengeSpec, emit: Any) -> pb.Record:
        record = await super().commit(msg, emit)
        for name in list(record.fields):
            record.fields[name].CopyFrom(pb.Value(str="not what you asked for"))
        return record


class OversizedOpening(Solver):
    """Pads its opening far past the challenger's message size limit."""

    pad_bytes = 80 << 20

    async def open(self, msg: pb.OpeningRequest) -> pb.Record:
        record = await super().open(msg)
        record.fields["padding"].CopyFrom(pb.Value(raw=b"\0" * self.pad_bytes))
        return record


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
    import copy

    import torch

    m = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * p.float().std() * frac)
    return m


def _requantised(model: Any, tokenizer: Any, bits: int = 2, group: int = 32) -> Any:
    """Every linear weight re-quantised to `bits` bits (min-max per group): a cheaper, worse model."""
    from poai.challenges.inference_calibration import fake_quantise

    return fake_quantise(model, bits, group)


def _tiny_random(model: Any, tokenizer: Any) -> Any:
    """A 2-layer random model with the same tokenizer (answers fast, answers nonsense)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(cfg).eval()


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
            "keeps 1/16 of the blocks, regenerates on request",
            ("memory",),
        ),
        Adversary("random-tiles", RandomTiles, "random tile results, no matmul", ("compute",)),
        Adversary("stale-tiles", StaleTiles, "repeats step 1's result for every step", ("compute",)),
        Adversary("partial-tiles", PartialTiles, "computes half of the tiles", ("compute",)),
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
