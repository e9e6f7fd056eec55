"""The coordinator service: gRPC (health, reflection, optional TLS), the store, the base model, the round driver.

Each client stream is served by `ClientSession` (session.py); rounds are run by `RoundDriver` (rounds.py).
Blocking work stays off the event loop: the store in an I/O pool, aggregation and evaluation in a compute
thread (torch and numpy release the GIL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health

from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation._proto import federation_pb2_grpc as pbg
from edge_sdk.federation.coordinator.config import CoordinatorConfig
from edge_sdk.federation.coordinator.metrics import CoordinatorMetrics
from edge_sdk.federation.coordinator.rounds import RoundDriver
from edge_sdk.federation.coordinator.connection import ClientConn
from edge_sdk.federation.coordinator.session import ClientSession
from edge_sdk.federation.hello import default_coordinator_id
from edge_sdk.federation.store import FederationStore, VersionRecord
from edge_sdk.federation.tensors import AdapterTensors
from edge_sdk.federation.transfer import parse_weights, sha256, weights_bytes
from edge_sdk.identity import NonceRegistry
from edge_sdk.serving.grpc_server import default_service_id, start_grpc_server
from edge_sdk.serving.tls import server_credentials

log = logging.getLogger("edgeproof.federation")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Coordinator"].full_name


class CoordinatorService(pbg.CoordinatorServicer):
    def __init__(self, config: CoordinatorConfig | None = None, *, global_model: Any = None) -> None:
        self.config = config or CoordinatorConfig()
        self.task = self.config.task
        self.metrics = CoordinatorMetrics()
        self.nonces = NonceRegistry(ttl_s=self.config.nonce_ttl_s)
        self.clients: dict[str, ClientConn] = {}
        self.store: FederationStore | None = None
        self.global_model = global_model
        self.io_pool = ThreadPoolExecutor(2, thread_name_prefix="fed-store")
        self.compute_pool = ThreadPoolExecutor(1, thread_name_prefix="fed-compute")
        self.rounds = RoundDriver(self)
        self.coordinator_id = self.config.coordinator_id
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.tls = False
        self.model_name = ""
        self.version: VersionRecord | None = None  # the newest global adapter
        self.global_tensors: AdapterTensors = {}
        self._versions: dict[int, VersionRecord] = {}
        self._server: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._rounds_task: asyncio.Task[None] | None = None
        self.changed: asyncio.Event | None = None  # set whenever clients, eligibility or uploads change

    # ------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.changed = asyncio.Event()
        credentials = server_credentials(self.config.tls_cert_file, self.config.tls_key_file)
        self.store = await loop.run_in_executor(self.io_pool, FederationStore, self.config.db)
        if self.global_model is None:
            self.global_model = await loop.run_in_executor(self.compute_pool, self._load_model)
        self.model_name = self.global_model.model_name
        await loop.run_in_executor(self.compute_pool, self._ensure_task)
        self.set_version(await loop.run_in_executor(self.io_pool, self.store.latest_version, self.task.task_id))

        started = await start_grpc_server(
            service_name=SERVICE_NAME, register=lambda server: pbg.add_CoordinatorServicer_to_server(self, server),
            host=self.config.host, port=self.config.port, credentials=credentials,
            max_message_bytes=self.task.chunk_bytes + (1 << 20), maximum_concurrent_rpcs=self.config.max_clients)
        self._server, self._health, self.port, self.tls = started.server, started.health, started.port, started.tls
        if not self.coordinator_id:
            self.coordinator_id = default_service_id("coordinator", default_coordinator_id, self.config.host,
                                                     started.port, log)
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_port, self.config.metrics_host)
        self._rounds_task = asyncio.create_task(self.rounds.run(), name="fed-rounds")
        log.info("coordinator listening", extra={
            "port": self.port, "metrics_port": self.metrics_port, "db": self.store.url, "tls": self.tls,
            "coordinator_id": self.coordinator_id, "task_id": self.task.task_id, "model": self.model_name,
            "global_version": self.version.version if self.version else None})

    def _load_model(self) -> Any:
        from edge_sdk.federation.coordinator.global_model import GlobalModel
        from edge_sdk.training.data import load_chat_jsonl

        rows = load_chat_jsonl(self.config.eval_data) if self.config.eval_data else []
        return GlobalModel(self.config.model or self.task.base_model, self.task.client_recipe(), rows)

    def _ensure_task(self) -> None:
        """Store the task with its version 0 (the fresh adapter, scored: that is the base model's loss)."""
        assert self.store is not None
        if self.store.task(self.task.task_id) is not None:
            self.store.ensure_task(self.task.task_id, self.task_spec(), initial=None)  # type: ignore[arg-type]
            return
        tensors = self.global_model.initial_tensors()
        payload = weights_bytes(tensors, "float32")
        initial = VersionRecord(0, 0, payload, sha256(payload).hex(), self.global_model.evaluate(tensors),
                                {"initial": True}, _now())
        self.store.ensure_task(self.task.task_id, self.task_spec(), initial)

    def task_spec(self) -> dict[str, Any]:
        return {"task": dataclasses.asdict(self.task), "model": self.model_name}

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop rounds, tell clients nothing more, close streams, the store and the pools."""
        grace = self.config.grace_s if grace_s is None else grace_s
        if self._rounds_task is not None:
            self._rounds_task.cancel()
            await asyncio.wait({self._rounds_task}, timeout=10)
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        for conn in list(self.clients.values()):
            conn.close()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        self.metrics.close()
        self.compute_pool.shutdown(wait=True, cancel_futures=True)
        self.io_pool.shutdown(wait=True)
        if self.store is not None:
            self.store.close()

    async def wait_finished(self, timeout: float | None = None) -> str:
        """Wait until every round is done or the task failed; returns the task's state."""
        assert self._rounds_task is not None, "start() first"
        await asyncio.wait_for(asyncio.shield(self._rounds_task), timeout)
        return self.rounds.state

    # ------------------------------------------------------------------------------- global versions
    def set_version(self, record: VersionRecord) -> None:
        self.version = record
        self._versions[record.version] = record
        for old in sorted(self._versions)[:-3]:
            del self._versions[old]
        self.global_tensors = parse_weights(record.payload)
        self.metrics.global_version.set(record.version)
        if record.eval_loss is not None:
            self.metrics.eval_loss.set(record.eval_loss)

    async def version_record(self, version: int) -> VersionRecord | None:
        if version in self._versions:
            return self._versions[version]
        assert self.store is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.io_pool, self.store.version, self.task.task_id, version)

    def notify(self) -> None:
        if self.changed is not None:
            self.changed.set()

    async def broadcast(self, message: pb.CoordinatorMessage) -> None:
        for conn in list(self.clients.values()):
            await conn.send(message)

    async def run_io(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.io_pool, fn, *args)

    async def run_compute(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.compute_pool, fn, *args)

    # ----------------------------------------------------------------------------------------- RPC
    async def Session(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> None:  # noqa: N802
        await ClientSession(self, context).run()


def _now() -> float:
    import time

    return time.time()
