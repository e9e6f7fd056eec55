"""One client's stream: challenge, signed check-in, then the client's messages dispatched to the round driver."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.coordinator.connection import ClientConn, Coordinator, global_version, rejected
from edge_sdk.federation.hello import verify_hello
from edge_sdk.federation.task import PROTOCOL_VERSION
from edge_sdk.federation.transfer import chunks
from edge_sdk.identity import HelloRejected

log = logging.getLogger("edgeproof.federation")


class ClientSession:
    def __init__(self, service: Coordinator, context: grpc.aio.ServicerContext) -> None:
        self.service = service
        self.context = context
        self.peer = context.peer()
        self.conn: ClientConn | None = None

    async def run(self) -> None:
        svc = self.service
        conn = await self._check_in()
        if conn is None:
            return
        self.conn = conn
        previous = svc.clients.get(conn.client_id)
        if previous is not None:  # the same client reconnected: the newer stream wins
            previous.close()
        svc.clients[conn.client_id] = conn
        self._gauges()
        writer = asyncio.create_task(self._write_loop(conn))
        reader = asyncio.create_task(self._read_loop(conn))
        try:
            await svc.rounds.on_connect(conn)
            svc.notify()
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            conn.closed = True
            for t in (reader, writer):
                t.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
            if svc.clients.get(conn.client_id) is conn:
                del svc.clients[conn.client_id]
            svc.rounds.on_disconnect(conn)
            self._gauges()
            svc.notify()
            log.info("client left", extra={"client_id": conn.client_id, "peer": self.peer})

    def _gauges(self) -> None:
        clients = self.service.clients.values()
        self.service.metrics.clients_connected.set(len(clients))
        self.service.metrics.clients_eligible.set(sum(1 for c in clients if c.eligible))

    # --------------------------------------------------------------------------------------- check-in
    async def _check_in(self) -> ClientConn | None:
        svc = self.service
        nonce = svc.nonces.issue()
        await self.context.write(pb.CoordinatorMessage(challenge=pb.Challenge(
            nonce=nonce, coordinator_id=svc.coordinator_id or "", protocol_version=PROTOCOL_VERSION,
            nonce_ttl_s=svc.config.nonce_ttl_s)))
        read = asyncio.ensure_future(self.context.read())
        done, _ = await asyncio.wait({read}, timeout=svc.config.hello_timeout_s)  # not wait_for: see rounds.py
        if not done:
            read.cancel()
            await self._refuse("hello_timeout", f"no hello within {svc.config.hello_timeout_s:.0f} s", nonce)
            return None
        first = read.result()
        if first is grpc.aio.EOF:
            svc.nonces.discard(nonce)
            return None
        if first.WhichOneof("body") != "hello":
            await self._refuse("expected_hello", "the first message must be a signed Hello", nonce)
            return None
        hello = first.hello
        if hello.protocol_version != PROTOCOL_VERSION:
            await self._refuse("protocol_version", f"this coordinator speaks protocol {PROTOCOL_VERSION}, the "
                               f"client {hello.protocol_version}: upgrade the client", nonce)
            return None
        try:
            who = verify_hello(hello, issued_nonce=nonce, coordinator_id=svc.coordinator_id or "",
                               nonces=svc.nonces, allowed_clients=svc.config.allowed_clients)
        except HelloRejected as exc:
            await self._refuse(exc.code, str(exc), nonce, claimed=hello.client_id)
            return None
        device = MessageToDict(hello.device, preserving_proto_field_name=True)
        await svc.run_io(svc.store.record_client, who.node_id, who.scheme, who.public_key, device)
        conn = ClientConn(who.node_id, hello.device, bool(hello.device.eligible), self.peer)
        welcome = pb.Welcome(client_id=who.node_id, task=svc.task.to_proto(svc.model_name),
                             global_adapter=global_version(svc.version),
                             heartbeat_s=svc.config.heartbeat_s, current_round=svc.rounds.current_round_no)
        await self.context.write(pb.CoordinatorMessage(welcome=welcome))
        log.info("client checked in", extra={"client_id": who.node_id, "peer": self.peer,
                                             "eligible": conn.eligible, "device_kind": hello.device.device_kind})
        return conn

    async def _refuse(self, code: str, reason: str, nonce: bytes, claimed: str = "") -> None:
        svc = self.service
        svc.nonces.discard(nonce)
        svc.metrics.hello_rejected.labels(code).inc()
        log.info("check-in refused", extra={"code": code, "reason": reason, "peer": self.peer,
                                            "claimed_client_id": claimed})
        if svc.store is not None:
            await svc.run_io(svc.store.record_rejection, svc.task.task_id, svc.rounds.current_round_no,
                             claimed or self.peer, code, reason)
        try:
            await self.context.write(rejected(code, reason, fatal=True))
        except Exception:  # noqa: BLE001 - the client may be gone already
            pass

    # ------------------------------------------------------------------------------------- streaming
    async def _write_loop(self, conn: ClientConn) -> None:
        while True:
            message = await conn.outbox.get()
            if message is None:
                return
            await self.context.write(message)

    async def _read_loop(self, conn: ClientConn) -> None:
        svc = self.service
        while not conn.closed:
            message = await self.context.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("body")
            if kind == "heartbeat":
                conn.eligible = bool(message.heartbeat.eligible)
                self._gauges()
                svc.notify()
            elif kind == "adapter_request":
                await self._send_adapter(conn, message.adapter_request)
            elif kind == "update_begin":
                await svc.rounds.begin_upload(conn, message.update_begin)
            elif kind == "update_chunk":
                await svc.rounds.add_chunk(conn, message.update_chunk)
            elif kind == "decline":
                await svc.rounds.decline(conn, message.decline)
            else:
                await conn.send(rejected("unexpected_message", f"a {kind or 'empty'} message is not expected "
                                         "after the check-in"))

    async def _send_adapter(self, conn: ClientConn, request: Any) -> None:
        svc = self.service
        record = await svc.version_record(request.global_version)
        if record is None:
            await conn.send(rejected("unknown_version", f"global version {request.global_version} does not exist; "
                                     f"the newest is {svc.version.version if svc.version else 0}"))
            return
        total = len(record.payload)
        if request.offset > total:
            await conn.send(rejected("bad_offset", f"offset {request.offset} is past the {total} bytes of version "
                                     f"{record.version}"))
            return
        for offset, data in chunks(record.payload, int(request.offset), svc.task.chunk_bytes):
            await conn.send(pb.CoordinatorMessage(adapter_chunk=pb.AdapterChunk(
                global_version=record.version, offset=offset, total_bytes=total, data=data)))
            svc.metrics.bytes_sent.inc(len(data))
            if conn.closed:
                return
