"""One PoAI session, driven by the challenger: hello, pings, challenges, pings, result.

Every duration is measured here with time.perf_counter() (the challenger's clock). Each challenge stage
is bracketed by ping rounds; the node's work time is the wall time from sending the spec to receiving the
commitment minus the RTT estimated from those pings. Verification runs in a worker pool so the event loop
keeps serving health checks and other sessions. Whatever the node does (disconnects, stalls, sends
garbage), the session ends in a `SessionReport` with a reason, which is scored and stored.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from poai import kinds
from poai._proto import poai_pb2 as pb
from poai.challenger.plan import SessionPlan
from poai.challenger.stream import (
    HelloRefused,
    NodeStream,
    ProtocolViolation,
    SessionAborted,
)
from poai.challenges import latency
from poai.challenges.common import CheckResult
from poai.identity import HelloRejected, NodeClaim, verify_hello
from poai.kinds import ChallengeState, Exchange
from poai.wire import WireFormatError, claim_from_pb, from_record, to_record

if TYPE_CHECKING:
    from poai.challenger.server import ChallengerService

log = logging.getLogger("poai.challenger")

PROTOCOL_VERSION = 1


@dataclass
class SessionReport:
    """What happened in one session, before scoring."""

    session_id: str
    peer: str
    started_at: float  # unix time
    node_id: str | None = None  # set once the hello verified
    claimed_node_id: str | None = None  # what the hello said, verified or not (logs only)
    claim: NodeClaim | None = None
    plan: SessionPlan | None = None
    checks: list[CheckResult] = field(default_factory=list)
    rtt_samples: dict[str, list[float]] = field(default_factory=dict)  # stage label -> RTT seconds
    stage_seconds: dict[str, float] = field(default_factory=dict)
    failure_code: str | None = None  # None: the plan ran to the end (checks may still have failed)
    failure_reason: str | None = None
    failed_stage: str | None = None
    duration_s: float = 0.0

    @property
    def completed(self) -> bool:
        return self.failure_code is None

    def all_rtts(self) -> list[float]:
        return [x for samples in self.rtt_samples.values() for x in samples]


class SessionDriver:
    def __init__(self, service: ChallengerService, stream: NodeStream, peer: str) -> None:
        self.service = service
        self.stream = stream
        self.report = SessionReport(session_id=uuid.uuid4().hex, peer=peer, started_at=time.time())
        self._ping_seq = 0
        self._stage = "hello"
        self._stream: Any = None  # TTFT / inter-token stats of the inference stage, for the latency check

    # ------------------------------------------------------------------------------------------ run
    async def run(self) -> SessionReport:
        """Run the plan; never raises for what the node does. CancelledError is recorded, then re-raised."""
        t0 = time.perf_counter()
        report = self.report
        self.stream.session_deadline = t0 + self.service.config.session_timeout_s
        try:
            await self._run_plan()
        except SessionAborted as exc:
            self._fail(exc)
        except asyncio.CancelledError:
            # gRPC cancels the handler when the node's side of the stream goes away (hang-up, crash, kill -9,
            # or a message over the size limit) and when the challenger stops. Record why, then re-raise.
            waiting = self.stream.waiting_for or "the next message"
            limit = self.stream.max_message_bytes
            code = "shutdown" if self.service.draining else "disconnected"
            self._fail(
                SessionAborted(
                    f"stream cancelled while the challenger waited for {waiting} "
                    f"(node hung up, crashed, or sent a message over the {limit}-byte limit)"
                    if code == "disconnected"
                    else "challenger shut down during the session",
                    code=code,
                )
            )
            report.duration_s = time.perf_counter() - t0
            raise
        finally:
            report.duration_s = time.perf_counter() - t0
        return report

    def _fail(self, exc: SessionAborted) -> None:
        if self.report.failure_code is None:
            if exc.code == "disconnected" and self.service.draining:
                # the stream ended because the challenger is stopping, not because of the node
                exc = SessionAborted(f"challenger shut down during the session ({exc})", code="shutdown")
            self.report.failure_code = exc.code
            self.report.failure_reason = str(exc)
            self.report.failed_stage = self._stage

    async def _run_plan(self) -> None:
        await self._hello()
        plan = self.report.plan
        assert plan is not None
        self._stage = "latency"
        start_pings = await self._pings("start")
        for name in plan.stages:
            self._stage = name
            with self.service.metrics.stage_seconds.labels(name).time():
                t = time.perf_counter()
                check = await self._challenge(name, plan)
                self.report.stage_seconds[name] = time.perf_counter() - t
            self.report.checks.append(check)
            if not check.passed:
                # A failed correctness check zeroes the session; the rest of the plan would be wasted work.
                break
        self._stage = "latency"
        end_pings = await self._pings("end")
        self.report.checks.append(
            latency.verify(start_pings, end_pings, max_rtt_s=plan.budget.max_rtt_s, stream=self._stream)
        )
        self._stage = "end"

    # ---------------------------------------------------------------------------------------- hello
    async def _hello(self) -> None:
        svc = self.service
        nonce = svc.nonces.issue()
        with svc.metrics.stage_seconds.labels("hello").time():
            await self.stream.send(
                pb.ChallengerMessage(
                    start=pb.SessionStart(
                        session_id=self.report.session_id,
                        nonce=nonce,
                        challenger_id=svc.challenger_id,
                        protocol_version=PROTOCOL_VERSION,
                        max_message_bytes=svc.config.max_message_bytes,
                        hello_deadline_s=svc.config.hello_timeout_s,
                    )
                )
            )
            try:
                hello, _ = await self.stream.recv("hello", svc.config.hello_timeout_s, what="signed hello")
            except BaseException:
                svc.nonces.discard(nonce)
                raise
            claim = claim_from_pb(hello.claim)
            self.report.claim = claim
            self.report.claimed_node_id = hello.identity.node_id[:128]
            try:
                verified = verify_hello(
                    scheme=hello.identity.scheme,
                    public_key=bytes(hello.identity.public_key),
                    node_id=hello.identity.node_id,
                    claim=claim,
                    nonce=bytes(hello.nonce),
                    challenger_id=hello.challenger_id,
                    signature=bytes(hello.signature),
                    issued_nonce=nonce,
                    expected_challenger_id=svc.challenger_id,
                    nonces=svc.nonces,
                    allowed_node_ids=svc.allowed_nodes,
                )
            except HelloRejected as exc:
                svc.nonces.discard(nonce)
                svc.metrics.hello_rejected.labels(exc.code).inc()
                raise HelloRefused(f"hello refused ({exc.code}): {exc}") from None
            # Only now is the id proven (a fresh nonce signed by its key): from here on the session counts
            # in this node's history, whatever happens.
            self.report.node_id = verified.node_id
            try:
                self.report.plan = svc.plan_for(claim)
            except Exception as exc:  # noqa: BLE001 - a claim we cannot plan for is the node's problem
                self.report.node_id = None
                raise HelloRefused(f"cannot plan a session for this claim: {exc}") from None
        log.info(
            "hello verified",
            extra={
                "session_id": self.report.session_id,
                "node_id": verified.node_id,
                "peer": self.report.peer,
                "stages": list(self.report.plan.stages),
            },
        )

    # ---------------------------------------------------------------------------------------- pings
    async def _pings(self, label: str) -> list[float]:
        n = self.service.config.pings_per_stage
        samples = []
        for _ in range(n):
            self._ping_seq += 1
            ping = latency.make_ping()
            sent = await self.stream.send(
                pb.ChallengerMessage(ping=pb.Ping(seq=self._ping_seq, payload=ping.nonce))
            )
            pong, arrived = await self.stream.recv("pong", self.service.config.ping_timeout_s, what="pong")
            if pong.seq != self._ping_seq or not latency.check_echo(
                ping, latency.PingReply(bytes(pong.payload))
            ):
                raise ProtocolViolation(f"pong {pong.seq} does not answer ping {self._ping_seq}")
            samples.append(arrived - sent)
        self.report.rtt_samples[label] = samples
        return samples

    # ----------------------------------------------------------------------------------- challenges
    async def _challenge(self, name: str, plan: SessionPlan) -> CheckResult:
        svc = self.service
        kind = kinds.get(name)
        challenge_id = f"{name}-{secrets.token_hex(4)}"
        rng = svc.new_rng()
        context = svc.spec_context(name, self.report)
        spec = kind.make_spec(plan.budget, rng, **context)
        state = ChallengeState(spec=spec, scratch=dict(context))
        before = await self._pings(f"{name}:before")
        floor = svc.config.deadline_floor_s
        deadline = max(floor, kind.commit_deadline(spec, plan.budget))

        def on_partial(part: pb.Partial, arrived: float) -> None:
            if part.challenge_id != challenge_id or len(state.partials) > 100_000:
                raise ProtocolViolation("partial result for another challenge, or too many of them")
            try:
                item = kind.decode_partial(part.item)
            except (WireFormatError, AttributeError) as exc:
                raise ProtocolViolation(f"bad partial result: {exc}") from None
            state.partials.append((arrived - sent, item))

        sent = await self.stream.send(
            pb.ChallengerMessage(
                challenge=pb.ChallengeSpec(
                    challenge_id=challenge_id,
                    kind=name,
                    spec=to_record(spec),
                    deadline_s=deadline,
                )
            )
        )
        msg, arrived = await self.stream.recv(
            "commitment", deadline, what=f"{name} commitment", on_partial=on_partial
        )
        state.commit_wall_seconds = arrived - sent
        state.commitment = self._decode(kind.commitment_type, msg, "commitment", challenge_id)
        round_no = 0
        while (step := kind.next_request(state, rng)) is not None:
            step_deadline = max(floor, step.deadline_s)
            sent = await self.stream.send(
                pb.ChallengerMessage(
                    request=pb.OpeningRequest(
                        challenge_id=challenge_id,
                        round=round_no,
                        request=to_record(step.request),
                        deadline_s=step_deadline,
                    )
                )
            )
            msg, arrived = await self.stream.recv(
                "opening", step_deadline, what=f"{name} opening (round {round_no})"
            )
            if msg.round != round_no:
                raise ProtocolViolation(f"{name} opening answers round {msg.round}, expected {round_no}")
            opening = self._decode(step.opening_type, msg, "opening", challenge_id)
            state.exchanges.append(Exchange(step.request, opening, wall_seconds=arrived - sent))
            round_no += 1
        after = await self._pings(f"{name}:after")
        rtt_before, rtt_after = latency.rtt_stats(before), latency.rtt_stats(after)
        mins = [r.min_s for r in (rtt_before, rtt_after) if r.min_s > 0]
        state.rtt_seconds = min(mins) if mins else 0.0  # what net_seconds subtracts (the smallest RTT seen)
        state.commit_net_seconds = max(
            latency.net_seconds(state.commit_wall_seconds, rtt_before, rtt_after), 1e-9
        )
        for ex in state.exchanges:
            ex.net_seconds = latency.net_seconds(ex.wall_seconds, rtt_before, rtt_after)
        if name == "inference":
            self._stream = kinds.stream_stats(state)
        check = await svc.run_verify(kind, state)
        svc.metrics.verify_seconds.labels(name).observe(check.verify_seconds)
        return check

    def _decode(self, cls: type, msg: Any, field_name: str, challenge_id: str) -> Any:
        if msg.challenge_id != challenge_id:
            raise ProtocolViolation(
                f"{field_name} is for challenge {msg.challenge_id!r}, not {challenge_id!r}"
            )
        try:
            return from_record(cls, getattr(msg, field_name))
        except WireFormatError as exc:
            raise ProtocolViolation(f"malformed {field_name}: {exc}") from None
