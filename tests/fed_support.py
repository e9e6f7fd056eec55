"""Test helpers for federation: a coordinator on its own event-loop thread, a hand-driven client that can send
anything (good or hostile), and a TCP proxy that records what clients send and can cut a connection."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.client.stream import CoordinatorStream
from edge_sdk.federation.coordinator import CoordinatorConfig, CoordinatorService
from edge_sdk.federation.hello import sign_hello
from edge_sdk.federation.transfer import chunks, parse_weights, sha256, weights_bytes
from edge_sdk.identity import NodeKey


class CoordinatorThread:
    """CoordinatorService running on an event loop in a background thread."""

    def __init__(self, config: CoordinatorConfig, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.service = CoordinatorService(config, **kwargs)
        self.call(self.service.start())

    def call(self, coro: Any, timeout: float | None = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.service.port}"

    def wait_finished(self, timeout: float) -> str:
        return self.call(self.service.wait_finished(timeout), timeout + 5)

    def stop(self) -> None:
        try:
            self.call(self.service.stop(0.5))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


class RawClient:
    """Speaks the protocol message by message, so a test can send exactly what it wants."""

    def __init__(self, address: str, key: NodeKey | None = None, *, eligible: bool = True,
                 coordinator_id: str | None = None) -> None:
        self.key = key or NodeKey.generate()
        self.stream = CoordinatorStream(address, max_message_bytes=8 << 20)
        self.challenge = self.stream.next(("challenge",), 30).challenge
        self.eligible = eligible
        self.coordinator_id = coordinator_id or self.challenge.coordinator_id

    def device(self) -> pb.DeviceReport:
        return pb.DeviceReport(device_kind="laptop", logical_cores=2, ram_total_bytes=8 << 30,
                               ram_available_bytes=4 << 30, eligible=self.eligible, client_version="test")

    def hello(self, mutate: Callable[[pb.Hello], None] | None = None) -> pb.CoordinatorMessage:
        hello = sign_hello(self.key, self.challenge.nonce, self.coordinator_id, self.device())
        if mutate is not None:
            mutate(hello)
        self.stream.send("hello", hello)
        return self.stream.next(("welcome", "rejected"), 30)

    def next(self, kinds: tuple[str, ...] | None = None, timeout: float = 30) -> pb.CoordinatorMessage:
        return self.stream.next(kinds, timeout)

    def send(self, name: str, body: Any) -> None:
        self.stream.send(name, body)

    def download(self, gv: pb.GlobalVersion, offset: int = 0, max_chunks: int | None = None) -> bytes:
        self.send("adapter_request", pb.AdapterRequest(global_version=gv.version, offset=offset))
        data, n = b"", 0
        while offset + len(data) < gv.adapter_bytes and (max_chunks is None or n < max_chunks):
            chunk = self.next(("adapter_chunk",)).adapter_chunk
            assert chunk.offset == offset + len(data)
            data += chunk.data
            n += 1
        return data

    def global_tensors(self, gv: pb.GlobalVersion) -> dict[str, np.ndarray]:
        payload = self.download(gv)
        assert sha256(payload) == bytes(gv.adapter_sha256)
        return parse_weights(payload)

    def upload(self, a: pb.RoundAssignment, payload: bytes, *, num_examples: int = 8, chunk_bytes: int = 1 << 16,
               round_no: int | None = None, attempt: int | None = None, base_version: int | None = None,
               total_bytes: int | None = None, digest: bytes | None = None) -> pb.CoordinatorMessage:
        """UpdateBegin, then the chunks from the offset the coordinator gives; returns the answer."""
        round_no = a.round if round_no is None else round_no
        self.send("update_begin", pb.UpdateBegin(
            round=round_no, attempt=a.attempt if attempt is None else attempt,
            base_version=a.base.version if base_version is None else base_version,
            total_bytes=len(payload) if total_bytes is None else total_bytes,
            sha256=sha256(payload) if digest is None else digest, num_examples=num_examples, steps=1,
            train_loss=1.0, update_norm=1.0))
        answer = self.next(("upload_ready", "receipt", "rejected"))
        if answer.WhichOneof("body") != "upload_ready":
            return answer
        for offset, data in chunks(payload, answer.upload_ready.offset, chunk_bytes):
            self.send("update_chunk", pb.UpdateChunk(round=round_no, offset=offset, data=data))
        return self.next(("receipt", "rejected"))

    def close(self) -> None:
        self.stream.close()


def small_delta(reference: dict[str, np.ndarray], seed: int, scale: float = 1e-3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: (rng.standard_normal(t.shape) * scale).astype(np.float32) for n, t in reference.items()}


def encoded(delta: dict[str, np.ndarray], encoding: str = "int8_zlib") -> bytes:
    return weights_bytes(delta, encoding)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`; records every byte clients send; can cut the first connection
    once it has carried `cut_after` bytes from the server to the client."""

    def __init__(self, target_port: int, *, cut_after: int | None = None) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.upstream = bytearray()
        self.cuts = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            cut = self.cut_after if self.cuts == 0 else None
            pair = (client, server)
            threading.Thread(target=self._pipe, args=(client, server, True, None, pair), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False, cut, pair), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, record: bool, cut: int | None,
              pair: tuple[socket.socket, socket.socket]) -> None:
        carried = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    with self._lock:
                        self.upstream.extend(data)
                if cut is not None and carried + len(data) >= cut:
                    dst.sendall(data[: max(0, cut - carried)])
                    self.cuts += 1
                    break
                dst.sendall(data)
                carried += len(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._closed = True
        self.listener.close()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
