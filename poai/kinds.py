"""The challenge kinds a session can run, as seen by the wire layer (challenger and node).

Each kind adapts one module of poai/challenges to a common shape:

    spec = kind.make_spec(budget, rng)                       challenger
    commitment  <- node: kind.node_work(spec, device).run()  (timed on the challenger's clock)
    while (step := kind.next_request(state, rng)):          challenger, only after what it depends on
        opening <- node: work.open(step.request)             (timed; some kinds bound this time)
    check = kind.verify(state)                              challenger, in a worker pool

The node decodes what it receives by the record's type name among the kind's own payload types (so a
kind may use several request types, e.g. memory's openings then its nonce round); the challenger decodes
what it receives against the one type it expects at that step.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from poai.challenges.common import Budget, CheckResult


@dataclass
class Exchange:
    """One request/opening round trip; times on the challenger's clock."""

    request: Any
    opening: Any = None
    wall_seconds: float = 0.0  # send request -> opening arrived
    net_seconds: float = 0.0  # wall minus the RTT estimate


@dataclass
class ChallengeState:
    spec: Any
    commitment: Any = None
    commit_wall_seconds: float = 0.0
    commit_net_seconds: float = 0.0
    rtt_seconds: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list)
    partials: list[tuple[float, Any]] = field(default_factory=list)  # (seconds since spec sent, item)
    scratch: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    request: Any
    opening_type: type
    deadline_s: float  # the session raises it to its floor (ChallengerConfig.deadline_floor_s)


class ChallengeKind(Protocol):
    name: str
    needs_backend: bool
    spec_type: type
    commitment_type: type
    payload_types: tuple[type, ...]

    def make_spec(self, budget: Budget, rng: np.random.Generator | None, **context: Any) -> Any: ...

    def commit_deadline(self, spec: Any, budget: Budget) -> float: ...

    def next_request(self, state: ChallengeState, rng: np.random.Generator | None) -> Step | None: ...

    def verify(self, state: ChallengeState) -> CheckResult: ...

    def node_work(self, spec: Any, device: str, engines: Any) -> Any: ...

    def request_type_named(self, name: str) -> type: ...

    def work_seconds(self, state: ChallengeState) -> float: ...


class _Base:
    name = ""
    needs_backend = False
    module_name = ""
    payload_types: tuple[type, ...] = ()
    # True: the kind's figure is a throughput over seconds of work (compute), so the RTT the session
    # subtracts from its time is capped at a fraction of the wall time (see poai/challenger/session.py).
    caps_rtt_subtraction = False

    @property
    def module(self) -> Any:
        return importlib.import_module(self.module_name)

    def request_type_named(self, name: str) -> type:
        for t in self.payload_types:
            if t.__name__ == name:
                return t
        raise ValueError(f"{self.name} challenge has no message type {name!r}")

    def node_work(self, spec: Any, device: str, engines: Any) -> Any:
        return self.module.NodeWork(spec, device)

    def work_seconds(self, state: ChallengeState) -> float:
        """Node work time the verifier cost is compared with (commitment time by default)."""
        return state.commit_net_seconds

    def answer(self, work: Any, request: Any) -> Any:
        """Node side: the opening for `request` (kinds with several request types dispatch here)."""
        return work.open(request)

    def decode_partial(self, record: Any) -> Any:
        raise ValueError(f"{self.name} challenge takes no partial results")


class ComputeKind(_Base):
    """K independent seeded matmuls -> Merkle root; one round of tile openings; each opened tile checked
    against the seed and the verifier's secret columns (poai/challenges/compute/__init__.py states the bound).

    Every secret choice comes from OS entropy inside poai.challenges.compute: the seed, the opened leaves
    and the checked columns. The session's `rng` is deliberately not used, so no generator whose output the
    node sees (the seed) can ever also pick what is checked."""

    name = "compute"
    module_name = "poai.challenges.compute"

    caps_rtt_subtraction = True

    def __init__(self, slack: float = 10.0) -> None:
        from poai.challenges import compute

        self.slack = slack
        self.spec_type = compute.ComputeSpec
        self.commitment_type = compute.ComputeCommitment
        self.payload_types = (compute.ComputeSpec, compute.ComputeRequest)

    def make_spec(self, budget: Budget, rng: np.random.Generator | None, **context: Any) -> Any:
        return self.module.make_spec(budget)  # seed from `secrets`

    def commit_deadline(self, spec: Any, budget: Budget) -> float:
        """`slack` x the time the claimed throughput needs: a node far slower than its claim runs out of time."""
        return self.slack * spec.flops / max(spec.claimed_tflops, 1e-3) / 1e12

    def next_request(self, state: ChallengeState, rng: np.random.Generator | None) -> Step | None:
        if state.exchanges:
            return None
        from poai.challenges import compute

        req = self.module.choose_openings(state.spec, state.commitment)  # OS entropy
        # Openings are lookups in memory: the session's deadline floor is plenty.
        return Step(req, compute.ComputeOpening, deadline_s=0.0)

    def verify(self, state: ChallengeState) -> CheckResult:
        ex = state.exchanges[0]
        # checked columns drawn inside verify, after the opening arrived, from OS entropy
        return self.module.verify(
            state.spec, state.commitment, ex.request, ex.opening, node_seconds=state.commit_net_seconds
        )


class MemoryKind(_Base):
    """Fill -> commitment; then a nonce round (bandwidth), then openings. Every time limit comes from the
    spec (sizes, claimed bandwidth) and `bounds` (memory.MemoryBounds, the verifier's calibrated
    constants), never from how long the node took for an earlier phase."""

    name = "memory"
    module_name = "poai.challenges.memory"

    def __init__(self, bounds: Any = None, deadline_factor: float = 2.0) -> None:
        from poai.challenges import memory

        self.bounds = bounds if bounds is not None else memory.MemoryBounds()
        self.deadline_factor = deadline_factor
        self.spec_type = memory.MemorySpec
        self.commitment_type = memory.MemoryCommitment
        self.payload_types = (memory.MemorySpec, memory.NonceRequest, memory.MemoryRequest)

    def make_spec(self, budget: Budget, rng: np.random.Generator | None, **context: Any) -> Any:
        return self.module.make_spec(budget)  # seed from `secrets`

    def commit_deadline(self, spec: Any, budget: Budget) -> float:
        # verify() fails a fill slower than its bound; the deadline only has to leave room to say so.
        return self.deadline_factor * self.module.fill_bound_seconds(spec, self.bounds)

    def next_request(self, state: ChallengeState, rng: np.random.Generator | None) -> Step | None:
        m = self.module
        # Deadlines only end a stalled node; the verifier judges the net timings against the bounds.
        # The nonce and the opened blocks come from OS entropy (`secrets`): the session's `rng` is not
        # used, so no generator whose output the node saw (the seed) picks what is checked.
        if not state.exchanges:
            req = m.choose_nonce(state.spec, state.commitment)
            bound = m.nonce_bound_seconds(state.spec, self.bounds)
            return Step(req, m.NonceCommitment, deadline_s=self.deadline_factor * bound)
        if len(state.exchanges) == 1:
            req = m.choose_openings(state.spec, state.commitment)
            bound = m.open_bound_seconds(state.spec, len(req.leaves), self.bounds)
            return Step(req, m.MemoryOpening, deadline_s=self.deadline_factor * bound)
        return None

    def verify(self, state: ChallengeState) -> CheckResult:
        m = self.module
        nonce_ex, open_ex = state.exchanges
        return m.verify(
            state.spec,
            state.commitment,
            open_ex.request,
            open_ex.opening,
            nonce_request=nonce_ex.request,
            nonce_commitment=nonce_ex.opening,
            timings=m.MemoryTimings(state.commit_net_seconds, nonce_ex.net_seconds, open_ex.net_seconds),
            bounds=self.bounds,
        )

    def work_seconds(self, state: ChallengeState) -> float:
        return state.commit_net_seconds + sum(ex.net_seconds for ex in state.exchanges)

    def answer(self, work: Any, request: Any) -> Any:
        if isinstance(request, self.module.NonceRequest):
            return work.nonce_pass(request)
        return work.open(request)


@dataclass(frozen=True)
class TokenTick:
    """Streamed by the node as each token is generated, so the challenger timestamps it (TTFT, gaps).
    It carries the token id: the final answer must repeat the streamed tokens in order, so ticks cannot be
    sent ahead of the real generation; and their arrival times must be spread over the decode the way
    streaming as it generates spreads them (InferenceKind.verify's pace check), so they cannot all be
    sent in one burst after it."""

    prompt: int
    index: int
    token_id: int


class _InferenceWork:
    """Node side of the inference challenge: greedy decode on the node's engine, ticks streamed."""

    def __init__(self, spec: Any, engines: Any) -> None:
        self.spec = spec
        self.engines = engines

    def run_streaming(self, emit: Any) -> Any:
        from poai.challenges import inference

        produced: list[int] = []  # filled by _RecordingBackend just before answer() calls on_token

        def on_token(prompt: int, index: int) -> None:
            emit(TokenTick(prompt, index, produced[-1]))

        return inference.answer(
            _RecordingBackend(self.engines.backend(), produced), self.spec, on_token=on_token
        )

    def run(self) -> Any:
        from poai.challenges import inference

        return inference.answer(self.engines.backend(), self.spec)

    def open(self, request: Any) -> Any:  # pragma: no cover - the inference challenge has no openings
        raise ValueError("the inference challenge has no openings")


class _RecordingBackend:
    """Passes everything through to an edge_sdk backend and records streamed token ids (for the ticks)."""

    def __init__(self, backend: Any, sink: list[int]) -> None:
        self._backend = backend
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def stream(self, prompt: Any, params: Any) -> Any:
        for chunk in self._backend.stream(prompt, params):
            self._sink.append(int(chunk.token_id))
            yield chunk


class InferenceKind(_Base):
    """Fresh prompts; the node streams ticks and commits its greedy answer; the verifier checks every
    answer's form and re-scores `Budget.inference_checked` of them, chosen after the answer arrived."""

    name = "inference"
    needs_backend = True
    module_name = "poai.challenges.inference"

    def __init__(self, base_s: float = 30.0, slack_s_per_token: float = 3.0) -> None:
        from poai.challenges import inference

        self.base_s = base_s
        self.slack_s_per_token = slack_s_per_token
        self.spec_type = inference.InferenceSpec
        self.commitment_type = inference.InferenceAnswer
        self.payload_types = (inference.InferenceSpec,)

    def make_spec(self, budget: Budget, rng: np.random.Generator | None, **context: Any) -> Any:
        reference = context.get("reference")
        model = str(getattr(reference, "model_name", "")) if reference is not None else ""
        # The prompts' seed comes from `secrets` (rng=None), never from a generator the node sees output of.
        return self.module.make_spec(budget, None, model=model)

    def commit_deadline(self, spec: Any, budget: Budget) -> float:
        # Generous: a phone decodes a few tokens/s; a node too slow for this is not serving anyone.
        return self.base_s + self.slack_s_per_token * spec.max_tokens * len(spec.prompts)

    def next_request(self, state: ChallengeState, rng: np.random.Generator | None) -> Step | None:
        return None

    def node_work(self, spec: Any, device: str, engines: Any) -> Any:
        return _InferenceWork(spec, engines)

    def decode_partial(self, record: Any) -> Any:
        from poai.wire import from_pb

        return from_pb(TokenTick, record)

    def verify(self, state: ChallengeState) -> CheckResult:
        """The answer's correctness (poai.challenges.inference.verify), then its token stream: the ticks must
        enumerate the committed tokens in order, and be spread over the decode the way a node that streams
        as it generates spreads them (`min_pace_ratio`: a burst of ticks after the work fails)."""
        reference = state.scratch.get("reference")
        if reference is None:  # the challenger's fault (recorded as such by run_verify), never the node's
            raise RuntimeError("challenger has no reference model loaded")
        th = state.scratch.get("thresholds") or self.module.InferenceThresholds()
        answer = state.commitment
        budget = state.scratch.get("budget")
        result = self.module.verify(
            state.spec, answer, reference, th, node_seconds=state.commit_net_seconds,
            checked=budget.inference_checked if budget is not None else None,
        )
        metrics = dict(result.metrics)
        stream = stream_stats(state)
        if stream is not None:
            metrics.update(
                {
                    "ttft_ms": stream.ttft_net_s * 1e3,
                    "inter_token_mean_ms": stream.gap_mean_s * 1e3,
                    "inter_token_median_ms": stream.gap_median_s * 1e3,
                    "inter_token_p90_ms": stream.gap_p90_s * 1e3,
                    "inter_token_max_ms": stream.gap_max_s * 1e3,
                    "tokens_per_s": stream.tokens_per_s,
                    "commit_ms_per_token": stream.commit_s_per_token * 1e3,
                }
            )
            if not math.isnan(stream.pace_ratio):
                metrics["stream_pace_ratio"] = stream.pace_ratio
                metrics["stream_tail_fraction"] = stream.tail_fraction
        problems = [] if result.passed else [result.reason]
        streamed = [(t.prompt, t.index, t.token_id) for _, t in state.partials]
        answered = [(p, j, tok) for p, toks in enumerate(answer.token_ids) for j, tok in enumerate(toks)]
        if streamed != answered:
            problems.append(
                f"streamed tokens ({len(streamed)}) differ from the committed answer ({len(answered)}): "
                "ticks were not sent as the tokens were generated"
            )
        elif (
            stream is not None
            and stream.central_gaps >= th.min_pace_gaps
            and stream.pace_ratio < th.min_pace_ratio
        ):
            problems.append(
                f"tokens streamed in a burst: inter-token gaps average "
                f"{stream.central_gap_mean_s * 1e3:.2f} ms against {stream.commit_s_per_token * 1e3:.1f} ms "
                f"per committed token (pace {stream.pace_ratio:.3f} < {th.min_pace_ratio})"
            )
        if not problems:
            return CheckResult(result.name, True, result.reason, metrics, result.verify_seconds)
        return CheckResult(result.name, False, "; ".join(problems), metrics, result.verify_seconds)

    def answer(self, work: Any, request: Any) -> Any:  # pragma: no cover - no openings
        raise ValueError("the inference challenge has no openings")


def stream_stats(state: ChallengeState) -> Any:
    """TTFT, inter-token gaps and pace of the streamed ticks (all prompts), on the challenger's clock, net
    of RTT; None when nothing usable was streamed."""
    from poai.challenges import latency

    if not state.partials:
        return None
    try:
        return latency.stream_stats(
            0.0,
            [t for t, _ in state.partials],
            latency.rtt_stats([state.rtt_seconds]) if state.rtt_seconds else None,
            prompts=[int(tick.prompt) for _, tick in state.partials],
            committed_at=state.commit_wall_seconds or None,
        )
    except (ValueError, TypeError, AttributeError):
        return None


_REGISTRY: dict[str, Any] = {}


def register(kind: Any) -> None:
    _REGISTRY[kind.name] = kind


def get(name: str) -> Any:
    """The kind called `name` (lazily built: inference pulls in the model runtime)."""
    if name not in _REGISTRY:
        factory = _FACTORIES.get(name)
        if factory is None:
            raise ValueError(f"unknown challenge kind {name!r}; known: {', '.join(sorted(_FACTORIES))}")
        _REGISTRY[name] = factory()
    return _REGISTRY[name]


def known() -> tuple[str, ...]:
    return tuple(_FACTORIES)


_FACTORIES: dict[str, Any] = {"compute": ComputeKind, "memory": MemoryKind, "inference": InferenceKind}
