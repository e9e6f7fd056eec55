"""One PoAI session, driven by the challenger: hello, pings, challenges, pings, result.

Every duration is measured here with time.perf_counter() (the challenger's clock). Ping rounds of a random
length run at the start, around every challenge and at the end. The node's work time is the wall time
from sending the spec to receiving the commitment minus one RTT, and that RTT is the smallest round trip
of the WHOLE session (every ping and every request/opening exchange), capped at `max_rtt_subtract_fraction`
(10%) of the stage's wall time. So whatever the node delays (its pongs around one challenge, every pong,
its openings), its measured work time is at least 90% of the wall time it really took: a measured TOPS or
bandwidth figure is at most 1/0.9 = 1.11x the true one. Challenges are verified after the end pings, when
the session's RTT is known; ping rounds whose median jumps above the session's are flagged in the latency
check. Verification runs in a worker pool so the event loop keeps serving health checks and other
sessions. Whatever the node does (disconnects, stalls, sends garbage), the session ends in a
`SessionReport` with a reason, which is scored and stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
import uuid
from typing import Any, Protocol

from edge_sdk.identity import HelloRejected
from poai import kinds
from poai._proto import poai_pb2 as pb
from poai.challenger.plan import SessionPlan
from poai.challenger.session_report import SessionReport
from poai.challenger.stream import (
    ChallengerFault,
    HelloRefused,
    NodeReportedError,
    NodeStream,
    ProtocolViolation,
    RateLimited,
    RefusedOpening,
    SessionAborted,
)
from poai.challenges import latency
from poai.hello import verify_hello
from poai.kinds import ChallengeState, Exchange
from poai.wire import (
    PROTOCOL_VERSION,
    WireFormatError,
    from_pb,
    hello_claim,
    reply_limit,
    request_message,
    spec_message,
)


log = logging.getLogger("poai.challenger")

__all__ = ["SessionDriver", "SessionReport"]


class SessionHost(Protocol):
    """What a session needs from the service that runs it (poai.challenger.server.ChallengerService)."""

    config: Any  # ChallengerConfig
    metrics: Any  # ChallengerMetrics
    nonces: Any  # NonceRegistry
    challenger_id: str
    allowed_nodes: frozenset[str] | None

    @property
    def store(self) -> Any: ...

    @property
    def draining(self) -> bool: ...

    def plan_for(self, claim: Any) -> SessionPlan: ...

    def spec_context(self, name: str, report: SessionReport) -> dict[str, Any]: ...

    def new_rng(self) -> Any: ...

    async def run_verify(self, kind: Any, state: Any) -> Any: ...


class SessionDriver:
    def __init__(self, service: SessionHost, stream: NodeStream, peer: str) -> None:
        self.service = service
        self.stream = stream
        self.report = SessionReport(session_id=uuid.uuid4().hex, peer=peer, started_at=time.time())
        self._ping_seq = 0
        self._stage = "hello"
        self._stream: Any = None  # TTFT / inter-token stats of the inference stage, for the latency check
        self._pending: list[tuple[Any, ChallengeState]] = []  # challenges waiting for the session RTT
        self._end_pings: list[float] | None = None  # set when the plan ran to its end
        self._finalized = False

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
        except Exception as exc:  # noqa: BLE001 - a bug or resource failure here is ours, not the node's
            log.exception("session failed inside the challenger", extra={"session_id": report.session_id})
            self._fail(ChallengerFault(f"challenger error: {exc!r}"[:500]))
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
        await self._pings("start")
        for name in plan.stages:
            self._stage = name
            with self.service.metrics.stage_seconds.labels(name).time():
                t = time.perf_counter()
                await self._challenge(name, plan)
                self.report.stage_seconds[name] = time.perf_counter() - t
        self._stage = "latency"
        self._end_pings = await self._pings("end")
        self._stage = "end"

    async def finalize(self) -> None:
        """Verify every challenge that reached its commitment, with the session's RTT, and add the latency
        check. Runs on every path (plan finished, node aborted or hung up, challenger stopping), in the
        server's shielded finish: a node cannot escape a failed check by leaving after it committed."""
        if self._finalized:
            return
        self._finalized = True
        plan = self.report.plan
        rtt = self._session_rtt()
        for kind, state in self._pending:
            self._stage = kind.name
            self._set_net_times(kind, state, rtt)
            if kind.name == "inference":
                self._stream = kinds.stream_stats(state)
            try:
                check = await self.service.run_verify(kind, state)
            except ChallengerFault as exc:
                self._fail(exc)
                continue
            self.service.metrics.verify_seconds.labels(kind.name).observe(check.verify_seconds)
            check.metrics["rtt_subtracted_ms"] = state.rtt_seconds * 1e3
            check.metrics["wall_seconds"] = state.commit_wall_seconds
            delayed = self._selective_delay(state, rtt)
            if delayed is not None and check.passed:
                check = dataclasses.replace(check, passed=False, reason=delayed)
            self.report.checks.append(check)
        self._pending.clear()
        if self._end_pings is not None and plan is not None:
            start = self.report.rtt_samples.get("start", [])
            self.report.checks.append(
                latency.verify(start, self._end_pings, max_rtt_s=plan.budget.max_rtt_s, stream=self._stream,
                               spikes=self._rtt_spikes())
            )

    def _session_rtt(self) -> float:
        """The smallest ping round trip of the whole session (start, around every challenge, end). To
        inflate it a node must delay every pong, which its latency score shows, and which `_selective_delay`
        catches when the work it answers is quicker than its pongs."""
        samples = [x for x in self.report.all_rtts() if x > 0]
        return min(samples) if samples else 0.0

    def _set_net_times(self, kind: Any, state: ChallengeState, rtt: float) -> None:
        """Net time = wall - the session's smallest RTT. For throughput figures over long work (compute)
        the subtraction is capped at `max_rtt_subtract_fraction` of the wall time: delaying every message
        but the commitment cannot cut more than 10% from the measured work, whatever the delay."""
        cap = self.service.config.max_rtt_subtract_fraction if kind.caps_rtt_subtraction else None

        def subtract(wall: float) -> float:
            return rtt if cap is None else min(rtt, cap * wall)

        state.rtt_seconds = subtract(state.commit_wall_seconds)
        state.commit_net_seconds = max(state.commit_wall_seconds - state.rtt_seconds, 1e-9)
        for ex in state.exchanges:
            ex.net_seconds = max(ex.wall_seconds - subtract(ex.wall_seconds), 1e-9)

    def _selective_delay(self, state: ChallengeState, rtt: float) -> str | None:
        """A reply that came back faster than every one of the node's pongs: the pongs were held back on
        purpose (an honest reply takes at least one round trip). Returns the reason, or None."""
        cfg = self.service.config
        limit = rtt - max(cfg.rtt_selective_slack_s, cfg.rtt_selective_slack_fraction * rtt)
        walls = [("commitment", state.commit_wall_seconds)] + [
            (f"opening {i}", ex.wall_seconds) for i, ex in enumerate(state.exchanges)
        ]
        for what, wall in walls:
            if 0 < wall < limit:
                return (f"its {what} came back in {wall * 1e3:.1f} ms, faster than any of its pongs "
                        f"(smallest {rtt * 1e3:.1f} ms): pongs are being delayed to inflate the RTT that is "
                        f"subtracted from its work")
        return None

    def _rtt_spikes(self) -> list[str]:
        """Ping rounds whose median RTT jumped far above the session's quietest round (a node that delays
        its pongs near the work to inflate the RTT estimate; flagged, and the cap makes it useless). A link
        that is slow all session long is not a spike: the latency score covers it."""
        rounds = {label: latency.rtt_stats(s).median_s for label, s in self.report.rtt_samples.items() if s}
        if len(rounds) < 2:
            return []
        base = min(rounds.values())
        cfg = self.service.config
        limit = cfg.rtt_spike_ratio * base + cfg.rtt_spike_slack_s
        return [f"{label} {med * 1e3:.1f} ms vs quietest round {base * 1e3:.1f} ms"
                for label, med in rounds.items() if med > limit]

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
            try:
                claim = hello_claim(hello)
            except WireFormatError as exc:
                svc.nonces.discard(nonce)
                svc.metrics.hello_rejected.labels("malformed_hello").inc()
                raise HelloRefused(f"hello refused (malformed_hello): {exc}") from None
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
            await self._admit(verified.node_id)
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

    async def _admit(self, node_id: str) -> None:
        """Per-node rate limit, through the store so every challenger on one database enforces one limit."""
        cfg = self.service.config
        if cfg.rate_limit_sessions <= 0:
            return
        loop = asyncio.get_running_loop()
        admitted, count = await loop.run_in_executor(
            None,
            lambda: self.service.store.admit_session(
                node_id, self.report.session_id, limit=cfg.rate_limit_sessions, window_s=cfg.rate_limit_window_s
            ),
        )
        if not admitted:
            self.report.admitted = False
            self.service.metrics.hello_rejected.labels("rate_limited").inc()
            raise RateLimited(
                f"rate limited: {count} sessions of {node_id} in the last {cfg.rate_limit_window_s:.0f} s "
                f"(limit {cfg.rate_limit_sessions}); try again later"
            )

    # ---------------------------------------------------------------------------------------- pings
    async def _pings(self, label: str) -> list[float]:
        """A round of pings of unpredictable length (pings_per_stage .. 2x), at unpredictable points."""
        base = self.service.config.pings_per_stage
        n = base + secrets.randbelow(base + 1)
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
    async def _challenge(self, name: str, plan: SessionPlan) -> None:
        """Run one challenge up to its last opening; verification waits for the session's RTT (run())."""
        svc = self.service
        kind = kinds.get(name)
        challenge_id = f"{name}-{secrets.token_hex(4)}"
        # The seed the node sees and the verifier's secret choices come from separate OS-entropy draws:
        # nothing the node learns from its spec predicts which parts will be opened.
        rng = svc.new_rng()
        context = svc.spec_context(name, self.report)
        spec = kind.make_spec(plan.budget, None, **context)
        state = ChallengeState(spec=spec, scratch={**context, "budget": plan.budget})
        await self._pings(f"{name}:before")
        floor = svc.config.deadline_floor_s
        deadline = max(floor, kind.commit_deadline(spec, plan.budget))

        def on_partial(part: pb.Partial, arrived: float) -> None:
            if part.challenge_id != challenge_id or len(state.partials) > 100_000:
                raise ProtocolViolation("partial result for another challenge, or too many of them")
            try:
                item = kind.decode_partial(part)
            except Exception as exc:  # noqa: BLE001 - whatever the node sent, it is the node's malformed message
                raise ProtocolViolation(f"bad partial result: {exc}"[:500]) from None
            state.partials.append((arrived - sent, item))

        sent = await self.stream.send(
            pb.ChallengerMessage(
                challenge=spec_message(
                    challenge_id,
                    spec,
                    deadline_s=deadline,
                    max_reply_bytes=reply_limit(spec, kind.commitment_type),
                )
            )
        )
        msg, arrived = await self.stream.recv(
            "commitment",
            deadline,
            what=f"{name} commitment",
            on_partial=on_partial,
            max_bytes=reply_limit(spec, kind.commitment_type),
        )
        state.commit_wall_seconds = arrived - sent
        state.commitment = await self._decode(kind.commitment_type, msg, "commitment", challenge_id)
        round_no = 0
        while (step := kind.next_request(state, rng)) is not None:
            step_deadline = max(floor, step.deadline_s)
            sent = await self.stream.send(
                pb.ChallengerMessage(
                    request=request_message(
                        challenge_id,
                        round_no,
                        step.request,
                        deadline_s=step_deadline,
                        max_reply_bytes=reply_limit(spec, step.opening_type),
                    )
                )
            )
            try:
                msg, arrived = await self.stream.recv(
                    "opening",
                    step_deadline,
                    what=f"{name} opening (round {round_no})",
                    max_bytes=reply_limit(spec, step.opening_type),
                )
            except NodeReportedError as exc:
                raise RefusedOpening(f"node committed, then refused to open it: {exc}") from None
            if msg.round != round_no:
                raise ProtocolViolation(f"{name} opening answers round {msg.round}, expected {round_no}")
            opening = await self._decode(step.opening_type, msg, "opening", challenge_id)
            state.exchanges.append(Exchange(step.request, opening, wall_seconds=arrived - sent))
            round_no += 1
        await self._pings(f"{name}:after")
        self._pending.append((kind, state))

    async def _decode(self, cls: type, msg: Any, field_name: str, challenge_id: str) -> Any:
        """The typed payload of a Commitment / Opening, decoded and checked in a worker thread."""
        if msg.challenge_id != challenge_id:
            raise ProtocolViolation(
                f"{field_name} is for challenge {msg.challenge_id!r}, not {challenge_id!r}"
            )
        try:
            return await asyncio.to_thread(from_pb, cls, msg)
        except WireFormatError as exc:
            raise ProtocolViolation(f"malformed {field_name}: {exc}") from None
