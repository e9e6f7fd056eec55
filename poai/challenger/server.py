"""The challenger: an asyncio gRPC server that runs PoAI sessions for the nodes that dial in.

    service = ChallengerService(ChallengerConfig(port=0, db="poai.sqlite"))
    await service.start()          # gRPC + health + reflection + /metrics
    ...                            # service.port, service.metrics_port
    await service.stop()

Also served: grpc.health.v1 (overall and per service; NOT_SERVING while draining) and server reflection.
The Session method (protocol v2) is registered with a byte-passthrough deserializer: NodeStream checks each
message's size against its step's limit and parses it off the event loop (poai/challenger/stream.py). Nodes
still on protocol v1 are refused at once with FAILED_PRECONDITION and a reason that says to upgrade.
CPU-heavy verification runs in a thread pool (numpy / torch release the GIL) so the event loop stays
responsive; stores are written from threads too (SQLite blocks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health

from edge_sdk.identity import NonceRegistry
from edge_sdk.serving.grpc_server import default_service_id, start_grpc_server
from poai._proto import poai_pb2 as pb
from poai._proto import poai_pb2_grpc as pbg
from poai.challenger.config import ChallengerConfig
from poai.challenger.metrics import ChallengerMetrics
from poai.challenger.plan import PlanSpec, SessionPlan, make_plan
from poai.challenger.record import score_and_store
from poai.challenger.result import result_message
from poai.challenger.session import SessionDriver
from poai.challenger.session_report import SessionReport
from poai.challenger.stream import ChallengerFault, NodeStream
from poai.challenges.common import CheckResult
from poai.claim import NodeClaim
from poai.hello import default_challenger_id
from edge_sdk.serving.tls import server_credentials
from poai.wire import V1_REFUSAL, V1_SERVICE

log = logging.getLogger("poai.challenger")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Challenger"].full_name


class ChallengerService(pbg.ChallengerServicer):
    def __init__(
        self, config: ChallengerConfig | None = None, *, store: Any = None, reference: Any = None
    ) -> None:
        self.config = config or ChallengerConfig()
        self.metrics = ChallengerMetrics()
        self.nonces = NonceRegistry(ttl_s=self.config.nonce_ttl_s)
        self.plan_spec = PlanSpec.parse(self.config.plan)
        self.allowed_nodes = self.config.allowed_nodes()
        self._store = store
        self._reference = reference  # inference reference model (lazy, see inference_reference())
        self._pool = ThreadPoolExecutor(self.config.verify_workers, thread_name_prefix="poai-verify")
        self._io_pool = ThreadPoolExecutor(2, thread_name_prefix="poai-store")
        self._server: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._active: set[asyncio.Task[Any]] = set()
        self._finishing: set[asyncio.Future[Any]] = set()
        self._draining = False
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.tls = False
        self.challenger_id = self.config.challenger_id
        self.reports: list[SessionReport] = []  # the last few, for tests and `status`
        self._keep_reports = 1000

    # ------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # bad TLS files fail here, before the store or the reference model are touched
        credentials = server_credentials(self.config.tls_cert_file, self.config.tls_key_file)
        if self._store is None:
            from poai.store import IntegrityStore

            self._store = await loop.run_in_executor(self._io_pool, IntegrityStore, self.config.db)
        await loop.run_in_executor(self._io_pool, self._load_reference)
        started = await start_grpc_server(
            service_name=SERVICE_NAME, register=lambda server: server.add_generic_rpc_handlers(self._rpc_handlers()),
            host=self.config.host, port=self.config.port, credentials=credentials,
            max_message_bytes=self.config.max_message_bytes)
        self._server, self._health, self.port, self.tls = started.server, started.health, started.port, started.tls
        port = started.port
        if not self.challenger_id:
            self.challenger_id = default_service_id("challenger", default_challenger_id, self.config.host, port, log)
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_port, self.config.metrics_host)
        log.info(
            "challenger listening",
            extra={
                "port": port,
                "metrics_port": self.metrics_port,
                "db": getattr(self._store, "url", self.config.db),
                "challenger_id": self.challenger_id,
                "plan": self.config.plan,
                "tls": self.tls,
            },
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain: report NOT_SERVING, refuse new sessions, give running ones `grace_s`, then close."""
        grace = self.config.grace_s if grace_s is None else grace_s
        self._draining = True
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        # Sessions cancelled by the stop record themselves; wait for their store writes.
        if self._active:
            await asyncio.gather(*self._active, return_exceptions=True)
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        self.metrics.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._io_pool.shutdown(wait=True)
        close = getattr(self._store, "close", None)
        if close is not None:
            close()

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    @property
    def store(self) -> Any:
        return self._store

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def active_sessions(self) -> int:
        return len(self._active)

    # ----------------------------------------------------------------------------------------- RPC
    def _rpc_handlers(self) -> tuple[grpc.GenericRpcHandler, ...]:
        """Session (v2) with raw bytes in (parsed by NodeStream), and the v1 method that refuses old nodes."""
        session = grpc.stream_stream_rpc_method_handler(
            self.Session,
            request_deserializer=None,  # bytes: size-checked, then parsed off the event loop
            response_serializer=pb.ChallengerMessage.SerializeToString,
        )
        refuse_v1 = grpc.stream_stream_rpc_method_handler(self._refuse_v1)
        return (
            grpc.method_handlers_generic_handler(SERVICE_NAME, {"Session": session}),
            grpc.method_handlers_generic_handler(V1_SERVICE, {"Session": refuse_v1}),
        )

    async def _refuse_v1(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
        """A node on protocol v1: refused before anything is read, with what to do about it."""
        self.metrics.hello_rejected.labels("protocol_v1").inc()
        log.info("refused a protocol v1 node", extra={"peer": context.peer()})
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, V1_REFUSAL)

    async def Session(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> None:  # noqa: N802
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "challenger is shutting down; retry later")
        if len(self._active) >= self.config.max_concurrent_sessions:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"challenger is at its limit of {self.config.max_concurrent_sessions} sessions; retry later",
            )
        task = asyncio.current_task()
        assert task is not None
        self._active.add(task)
        self.metrics.active_sessions.inc()
        self.metrics.sessions_started.inc()
        driver = SessionDriver(self, NodeStream(context, self.config.max_message_bytes), context.peer())
        try:
            try:
                await driver.run()
            except asyncio.CancelledError:
                # The RPC is gone (node hung up, or the challenger is stopping): record the failed session
                # anyway, then let the cancel go on.
                await self._finish_shielded(driver, send=None)
                raise
            # gRPC may cancel this task right after the stream ended on its own (EOF first, then the peer's
            # cancel), so the scoring and storing must not be cancellable either.
            await self._finish_shielded(driver, send=context)
        finally:
            self._active.discard(task)
            self.metrics.active_sessions.dec()

    async def _finish_shielded(self, driver: SessionDriver, send: grpc.aio.ServicerContext | None) -> None:
        """Run `_finish` in its own task that a cancel of the RPC cannot stop; stop() waits for it."""
        finishing = asyncio.ensure_future(self._finish(driver, send=send))
        self._finishing.add(finishing)
        finishing.add_done_callback(self._finishing.discard)
        await asyncio.shield(finishing)

    async def _finish(self, driver: SessionDriver, send: grpc.aio.ServicerContext | None) -> None:
        """Verify what the node committed, score, store, count, log, and tell the node (when the stream is
        still there)."""
        loop = asyncio.get_running_loop()
        report = driver.report
        try:
            await driver.finalize()
        except Exception:  # noqa: BLE001 - recorded as the challenger's fault below
            log.exception("could not verify the session", extra={"session_id": report.session_id})
            if report.failure_code is None:
                report.failure_code, report.failure_reason = "challenger_fault", "verification failed"
        try:
            outcome = await loop.run_in_executor(self._io_pool, self.score_and_store, report)
        except Exception:  # noqa: BLE001 - a store failure must not crash the server
            log.exception("could not record session", extra={"session_id": report.session_id})
            outcome = None
        if report.completed:
            self.metrics.sessions_completed.inc()
        if report.failure_code is not None:
            self.metrics.sessions_failed.labels(report.failure_code).inc()
        elif any(not c.passed for c in report.checks):
            self.metrics.sessions_failed.labels("check_failed").inc()
        if outcome is not None:
            self.metrics.session_score.observe(outcome.score)
        self.reports.append(report)
        del self.reports[: -self._keep_reports]
        log.info(
            "session ended",
            extra={
                "session_id": report.session_id,
                "node_id": report.node_id or report.claimed_node_id,
                "verified": report.node_id is not None,
                "peer": report.peer,
                "failure": report.failure_code,
                "reason": report.failure_reason,
                "score": None if outcome is None else outcome.score,
                "checks": {c.name: c.passed for c in report.checks},
                "duration_s": round(report.duration_s, 4),
            },
        )
        if send is not None:
            result = self.result_message(report, outcome)
            try:
                await send.write(pb.ChallengerMessage(result=result))
            except Exception:  # noqa: BLE001 - node already gone: the session is recorded anyway
                log.debug("could not send the result", extra={"session_id": report.session_id})

    # --------------------------------------------------------------------------------- helpers used
    def plan_for(self, claim: NodeClaim) -> SessionPlan:
        return make_plan(
            self.plan_spec,
            claim,
            self.config.memory_cap_bytes,
            inference_available=self.inference_available(),
        )

    def inference_available(self) -> bool:
        return self._reference is not None

    def spec_context(self, name: str, report: SessionReport) -> dict[str, Any]:
        """Extra inputs some kinds need for a spec (inference: the reference model and the claim)."""
        if name == "inference":
            thresholds = None
            if self.plan_spec.inference_thresholds:
                from poai.challenges.inference import InferenceThresholds

                thresholds = InferenceThresholds(**dict(self.plan_spec.inference_thresholds))
            return {"reference": self.inference_reference(), "claim": report.claim, "thresholds": thresholds}
        return {}

    def inference_reference(self) -> Any:
        return self._reference

    def _load_reference(self) -> None:
        """Load the reference model now when the plan has an inference stage (fail at start, not per node).

        The verifier runs one teacher-forced forward pass (TorchBackend.teacher_forced_logprobs), so the
        reference is edge_sdk's PyTorch backend; a missing model or torch raises edge_sdk's own clear errors.
        """
        from edge_sdk.runtime import load_backend

        if self._reference is not None or "inference" not in self.plan_spec.stages:
            return
        self._reference = load_backend("torch", self.config.inference_model)

    def new_rng(self) -> np.random.Generator:
        """A fresh, OS-seeded generator per challenge (never derived from anything the node knows)."""
        import secrets

        return np.random.default_rng(secrets.randbits(128))

    async def run_verify(self, kind: Any, state: Any) -> CheckResult:
        loop = asyncio.get_running_loop()
        t = time.perf_counter()
        try:
            return await loop.run_in_executor(self._pool, kind.verify, state)
        except Exception as exc:  # noqa: BLE001 - verifiers check node data themselves; a raise is ours
            # Every verifier turns a wrong or malformed answer into a failed CheckResult itself, so an
            # exception is the challenger's fault (a bug, out of memory): recorded, never a strike.
            log.warning("verifier raised", extra={"kind": kind.name, "error": repr(exc),
                                                  "seconds": round(time.perf_counter() - t, 3)})
            raise ChallengerFault(f"the {kind.name} verifier failed: {exc!r}"[:500]) from None

    # ------------------------------------------------------------------------------ score and store
    def score_and_store(self, report: SessionReport) -> Any:
        return score_and_store(self._store, report)

    def result_message(self, report: SessionReport, outcome: Any) -> pb.SessionResult:
        return result_message(report, outcome)
