"""The node agent: dial the challenger, answer one session, repeat with backoff. Embeddable from Python.

    from poai.node import NodeAgent, NodeConfig
    agent = NodeAgent(NodeConfig(challenger="validator.example:50061", key_path="node.key"))
    outcome = asyncio.run(agent.run_once())     # one session -> SessionOutcome(score, reasons, ...)
    asyncio.run(agent.run())                    # forever: sessions every `interval_s`, reconnect with backoff

The node only dials out (phones sit behind NAT); the challenger drives the stream. Backoff is exponential
with full jitter (AWS architecture blog "Exponential Backoff And Jitter") so a challenger restart does not
get all its nodes back in the same second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from edge_sdk.errors import EdgeProofError
from edge_sdk.identity import NodeKey
from poai._proto import poai_pb2 as pb
from poai.claim import NodeClaim
from poai.hello import default_challenger_id
from poai.node.solver import DISCONNECT, Solver
from edge_sdk.serving.tls import channel_credentials
from poai.wire import (
    PROTOCOL_VERSION,
    SESSION_METHOD,
    WireFormatError,
    commitment_message,
    node_error,
    opening_message,
    parse_challenger_message,
    partial_message,
)

log = logging.getLogger("poai.node")

AGENT_VERSION = "edgeproof-poai-node/0.1"
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
DEFAULT_CLAIM_MEMORY_CAP = 1 << 30
HONEST_CLAIM_MARGIN = 0.8


class SessionError(EdgeProofError):
    """A session that ended without a result (challenger unreachable, stream broken, protocol error)."""


@dataclass
class NodeConfig:
    challenger: str = "127.0.0.1:50061"  # host:port
    key_path: str | None = None  # ed25519/sr25519 key file (edgeproof poai keygen)
    wallet: str | None = None  # "name/hotkey" of a bittensor wallet instead of a key file
    wallet_path: str | None = None
    device: str = "auto"  # auto | cuda | cpu
    claim_tflops: float | None = None  # None: measure now
    claim_memory_bytes: int | None = None  # None: min(1 GiB, half of free memory)
    claim_memory_bandwidth_gbs: float | None = None  # None: measure now (the memory challenge's nonce pass)
    # With the bandwidth measured (not set above): measure it again before every later session, so the
    # claim follows what the machine delivers now (a long-running node's load changes; the nonce-pass bound
    # and the bandwidth share of the score are computed from the claim). A few hundred ms per session.
    remeasure_bandwidth: bool = True
    backends: tuple[str, ...] | None = None  # inference backends to offer; None: what is installed
    model: str | None = None  # inference model (None: edge_sdk default, SmolLM2-135M-Instruct)
    # Refuse to sign a hello for any other challenger id. None: the id a challenger without a configured id
    # uses for the address dialed, "challenger@" + `challenger` (poai.hello.default_challenger_id), so an
    # attacker the node was made to dial cannot relay the real challenger's SessionStart and get it signed.
    expected_challenger_id: str | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    connect_timeout_s: float = 10.0
    session_timeout_s: float = 900.0  # a whole session, as a safety net only
    interval_s: float = 300.0  # pause between sessions in run()
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    backoff_multiplier: float = 2.0
    max_sessions: int | None = None  # run(): stop after this many sessions (None: forever)
    tls: bool = False  # dial with TLS (the challenger serves a certificate)
    tls_ca_file: str | None = None  # PEM CA that signed the challenger's certificate (None: system roots)


@dataclass
class SessionOutcome:
    session_id: str
    ok: bool
    score: float
    smoothed_score: float
    reasons: list[str]
    checks: list[dict[str, Any]]
    strikes: int
    wall_seconds: float
    status: str = ""  # "ok", "failed_check", "node_fault", "challenger_fault", "network" (SessionResult.status)
    matmul_tops: float = 0.0  # verified capacity measured in this session (0: not measured)
    verified_memory_bytes: int = 0
    memory_bandwidth_gbs: float = 0.0
    rtt_ms: float = 0.0
    ttft_ms: float = 0.0

    @classmethod
    def from_pb(cls, msg: pb.SessionResult, wall: float) -> SessionOutcome:
        return cls(
            session_id=msg.session_id,
            ok=msg.ok,
            score=msg.score,
            smoothed_score=msg.smoothed_score,
            reasons=list(msg.reasons),
            checks=[
                {"name": c.name, "passed": c.passed, "reason": c.reason, "metrics": dict(c.metrics)}
                for c in msg.checks
            ],
            strikes=msg.strikes,
            wall_seconds=wall,
            status=msg.status,
            matmul_tops=msg.matmul_tops,
            verified_memory_bytes=msg.verified_memory_bytes,
            memory_bandwidth_gbs=msg.memory_bandwidth_gbs,
            rtt_ms=msg.rtt_ms,
            ttft_ms=msg.ttft_ms,
        )


def load_key(config: NodeConfig) -> NodeKey:
    if config.wallet:
        name, _, hotkey = config.wallet.partition("/")
        return NodeKey.from_wallet(name, hotkey or "default", config.wallet_path)
    if config.key_path:
        return NodeKey.load(config.key_path)
    raise EdgeProofError("the node needs a key: --key FILE (edgeproof poai keygen) or --wallet NAME/HOTKEY")


def measured_bandwidth_claim(torch_device: str, memory_bytes: int) -> float:
    """The bandwidth an honest node claims: the challenger's nonce-pass bound follows it, so it is measured on
    the same pass and block shape, and claimed a bit under (shared machines fluctuate, see
    poai/challenges/memory/CALIBRATION.md)."""
    from poai.node.device import measure_memory_bandwidth_gbs

    return round(HONEST_CLAIM_MARGIN * measure_memory_bandwidth_gbs(torch_device, int(memory_bytes)), 4)


def build_claim(config: NodeConfig, device: Any, backends: tuple[str, ...]) -> NodeClaim:
    """The honest default claim: what this machine measures now, unless the operator set numbers."""
    from poai.node.device import measure_tflops

    tflops = config.claim_tflops
    if tflops is None:
        # Claim a bit under what was measured: shared machines fluctuate, and over-claiming is penalised.
        tflops = round(HONEST_CLAIM_MARGIN * measure_tflops(device.torch_device), 6)
    memory = config.claim_memory_bytes
    if memory is None:
        memory = min(DEFAULT_CLAIM_MEMORY_CAP, device.memory_free_bytes // 2)
    bandwidth = config.claim_memory_bandwidth_gbs
    if bandwidth is None:
        bandwidth = measured_bandwidth_claim(device.torch_device, int(memory))
    kind = device.kind
    if kind == "cpu" and device.profile_kind == "phone/iot":
        kind = "edge"
    return NodeClaim(
        device_kind=kind,
        device_model=device.model,
        memory_bytes=int(memory),
        claimed_tflops=float(tflops),
        memory_bandwidth_gbs=float(bandwidth),
        backends=backends,
        agent_version=AGENT_VERSION,
    )


def backoff_delays(initial: float, maximum: float, multiplier: float, rng: random.Random) -> Any:
    """Full-jitter exponential backoff: uniform(0, min(max, initial * multiplier**attempt))."""
    attempt = 0
    while True:
        yield rng.uniform(0.0, min(maximum, initial * multiplier**attempt))
        attempt += 1


class NodeAgent:
    """One node. `solver` decides the answers (honest by default); tests pass adversarial ones."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        key: NodeKey | None = None,
        claim: NodeClaim | None = None,
        solver: Solver | None = None,
        solver_factory: Callable[[NodeKey, NodeClaim, str, Any], Solver] | None = None,
    ) -> None:
        self.config = config
        # a bad CA file is a configuration error: raised here, not retried with backoff
        self._tls_credentials = (
            channel_credentials(config.tls_ca_file) if (config.tls or config.tls_ca_file) else None
        )
        self._key = key
        self._claim = claim
        self._solver = solver
        self._solver_factory = solver_factory or Solver
        self._rng = random.Random()
        self._warm = False
        self._torch_device: str | None = None  # set when this agent measured its own claim
        self.sessions_run = 0
        self.last_outcome: SessionOutcome | None = None

    # -- setup ---------------------------------------------------------------------------------------
    def _prepare(self) -> Solver:
        if self._solver is not None:
            if not self._warm:
                self._solver.warm_up()
                self._warm = True
            self._refresh_bandwidth(self._solver)
            return self._solver
        key = self._key or load_key(self.config)
        from poai.node.device import pick_device

        device = pick_device(self.config.device)
        inference = None
        backends: tuple[str, ...] = ()
        if self.config.backends != ():
            from poai.node.inference import InferenceEngines

            inference = InferenceEngines(self.config.backends, self.config.model, device.torch_device)
            backends = inference.names
            if not backends:
                inference = None
        claim = self._claim or build_claim(self.config, device, backends)
        if self._claim is None:
            self._torch_device = device.torch_device
        self._solver = self._solver_factory(key, claim, device.torch_device, inference)
        self._solver.warm_up()
        self._warm = True
        log.info(
            "node ready",
            extra={
                "node_id": key.node_id,
                "device": device.torch_device,
                "claim": claim.to_json(),
            },
        )
        return self._solver

    def _refresh_bandwidth(self, solver: Solver) -> None:
        """Before a later session: the claimed bandwidth measured again (NodeConfig.remeasure_bandwidth),
        when this agent measured it in the first place; the next hello signs the new claim."""
        if (self._torch_device is None or not self.config.remeasure_bandwidth
                or self.config.claim_memory_bandwidth_gbs is not None or self.sessions_run == 0):
            return
        fresh = measured_bandwidth_claim(self._torch_device, solver.claim.memory_bytes)
        solver.claim = dataclasses.replace(solver.claim, memory_bandwidth_gbs=fresh)

    @property
    def claim(self) -> NodeClaim | None:
        """What this node claims (None until the first session prepared it)."""
        return self._solver.claim if self._solver is not None else self._claim

    def close(self) -> None:
        """Free the models the inference engines loaded (a later session loads them again)."""
        inference = getattr(self._solver, "inference", None)
        if inference is not None:
            inference.close()
        self._warm = False

    @property
    def expected_challenger_id(self) -> str:
        """The only challenger id this node signs a hello for (NodeConfig.expected_challenger_id)."""
        return self.config.expected_challenger_id or default_challenger_id(self.config.challenger)

    def _channel_options(self) -> list[tuple[str, Any]]:
        return [
            ("grpc.max_send_message_length", self.config.max_message_bytes),
            ("grpc.max_receive_message_length", self.config.max_message_bytes),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_permit_without_calls", 0),
        ]

    def _channel(self) -> grpc.aio.Channel:
        if self._tls_credentials is not None:
            return grpc.aio.secure_channel(
                self.config.challenger, self._tls_credentials, options=self._channel_options()
            )
        return grpc.aio.insecure_channel(self.config.challenger, options=self._channel_options())

    # -- one session -------------------------------------------------------------------------------
    async def run_once(self) -> SessionOutcome:
        """Dial, run one session to its result, hang up. Raises SessionError when no result came back."""
        solver = await asyncio.to_thread(self._prepare)
        t0 = time.perf_counter()
        channel = self._channel()
        try:
            try:
                await asyncio.wait_for(channel.channel_ready(), self.config.connect_timeout_s)
            except asyncio.TimeoutError:
                hint = (
                    "check that it serves TLS with a certificate signed by the CA you trust"
                    if self._tls_credentials is not None
                    else "if it serves TLS, dial with --tls (and --tls-ca)"
                )
                raise SessionError(
                    f"cannot reach the challenger at {self.config.challenger} "
                    f"within {self.config.connect_timeout_s:.0f} s ({hint})"
                ) from None
            session = channel.stream_stream(
                SESSION_METHOD,
                request_serializer=solver.serialize,
                response_deserializer=None,  # raw bytes: parsed and checked in _converse
            )
            call = session()
            try:
                result = await asyncio.wait_for(self._converse(call, solver), self.config.session_timeout_s)
            except asyncio.TimeoutError:
                call.cancel()
                raise SessionError(
                    f"session did not finish within {self.config.session_timeout_s:.0f} s"
                ) from None
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise SessionError(
                        f"the challenger at {self.config.challenger} does not serve PoAI protocol "
                        f"v{PROTOCOL_VERSION} ({SESSION_METHOD}): it runs an older or different version "
                        f"({exc.details()})"
                    ) from None
                raise SessionError(
                    f"stream to the challenger failed: {exc.code().name}: {exc.details()}"
                ) from None
        finally:
            solver.finish()
            await channel.close()
        outcome = SessionOutcome.from_pb(result, time.perf_counter() - t0)
        self.sessions_run += 1
        self.last_outcome = outcome
        log.info(
            "session finished",
            extra={
                "session_id": outcome.session_id,
                "score": outcome.score,
                "ok": outcome.ok,
                "reasons": outcome.reasons,
            },
        )
        return outcome

    async def _converse(self, call: Any, solver: Solver) -> pb.SessionResult:
        """Answer every challenger message until the SessionResult arrives.

        While the node works on an answer it keeps reading: if the challenger ends the session meanwhile
        (deadline passed, result sent, stream closed), the work is abandoned instead of blocking the agent.
        """
        reader: asyncio.Future[Any] = asyncio.ensure_future(call.read())
        try:
            while True:
                msg = await reader
                if msg is grpc.aio.EOF:
                    code = await call.code()
                    details = await call.details()
                    raise SessionError(
                        f"challenger ended the session without a result ({code.name}: {details})"
                    )
                try:
                    msg = parse_challenger_message(msg)
                except WireFormatError as exc:
                    call.cancel()
                    raise SessionError(f"the challenger sent a message this node cannot accept: {exc}") from None
                kind = msg.WhichOneof("body")
                if kind == "result":
                    solver.on_result(msg.result)
                    await call.done_writing()
                    return msg.result
                answer = asyncio.ensure_future(self._answer(kind, msg, solver, call))
                reader = asyncio.ensure_future(call.read())
                done, _ = await asyncio.wait({answer, reader}, return_when=asyncio.FIRST_COMPLETED)
                if answer not in done:
                    # The challenger spoke first (result or end of stream): drop the work.
                    answer.cancel()
                    await asyncio.gather(answer, return_exceptions=True)
                    continue
                reply = answer.result()
                if reply is None:
                    continue
                if reply is DISCONNECT:
                    call.cancel()
                    raise SessionError("node hung up mid-session")
                await call.write(reply)
        finally:
            if not reader.done():
                reader.cancel()

    async def _answer(self, kind: str | None, msg: pb.ChallengerMessage, solver: Solver, call: Any) -> Any:
        if kind == "start":
            start = msg.start
            if start.protocol_version != PROTOCOL_VERSION:
                raise SessionError(
                    f"challenger speaks protocol v{start.protocol_version}, this node v{PROTOCOL_VERSION}"
                )
            expected = self.expected_challenger_id
            if start.challenger_id != expected:
                raise SessionError(
                    f"challenger identifies as {start.challenger_id!r}, expected {expected!r}: refusing to "
                    f"sign (a hello signed for it could be relayed to that challenger; if this is the "
                    f"right challenger, set expected_challenger_id / --expect-challenger-id)"
                )
            hello = solver.hello(start)
            return hello if hello is DISCONNECT else pb.NodeMessage(hello=hello)
        if kind == "ping":
            pong = await solver.pong(msg.ping)
            return pong if pong is DISCONNECT else pb.NodeMessage(pong=pong)
        if kind == "challenge":
            spec = msg.challenge
            loop = asyncio.get_running_loop()
            seq = 0

            def emit(item: Any) -> None:
                """Called from the worker thread for each partial result (a dataclass, e.g. a token tick);
                blocks it until the message is on the wire, so its timing is the generation's."""
                nonlocal seq
                part = pb.NodeMessage(partial=partial_message(spec.challenge_id, seq, item))
                seq += 1
                asyncio.run_coroutine_threadsafe(call.write(part), loop).result()

            try:
                record = await solver.commit(spec, emit)
                if record is DISCONNECT:
                    return DISCONNECT
                return pb.NodeMessage(commitment=commitment_message(spec.challenge_id, record))
            except Exception as exc:  # noqa: BLE001 - whatever broke, the challenger gets a reason, not silence
                log.warning("challenge failed on this node", exc_info=True)
                return pb.NodeMessage(error=node_error(spec.challenge_id, str(exc)))
        if kind == "request":
            req = msg.request
            try:
                record = await solver.open(req)
                if record is DISCONNECT:
                    return DISCONNECT
                return pb.NodeMessage(opening=opening_message(req.challenge_id, req.round, record))
            except Exception as exc:  # noqa: BLE001 - whatever broke, the challenger gets a reason, not silence
                log.warning("challenge failed on this node", exc_info=True)
                return pb.NodeMessage(error=node_error(req.challenge_id, str(exc)))
        raise SessionError(f"challenger sent an unexpected {kind or 'empty'} message")

    # -- forever -----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Sessions every `interval_s`; on failure, reconnect with exponential backoff and full jitter."""
        stop = stop or asyncio.Event()
        delays = None
        while not stop.is_set():
            if self.config.max_sessions is not None and self.sessions_run >= self.config.max_sessions:
                return
            try:
                await self.run_once()
                delays = None
                wait = self.config.interval_s
            except SessionError as exc:
                if delays is None:
                    delays = backoff_delays(
                        self.config.backoff_initial_s,
                        self.config.backoff_max_s,
                        self.config.backoff_multiplier,
                        self._rng,
                    )
                wait = next(delays)
                log.warning(
                    "session failed; retrying", extra={"error": str(exc), "retry_in_s": round(wait, 2)}
                )
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except asyncio.TimeoutError:
                pass


def default_key_path() -> Path:
    from edge_sdk.paths import cache_dir

    return cache_dir() / "poai" / "node.key"
