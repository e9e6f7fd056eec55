"""A checked-in client's open stream, and what the session and the round driver need of the service.

The coordinator writes to a stream from one place only: each connection's outbox, drained by the session's
writer task, so the round driver (assignments, round results) and the session (chunks, receipts) never write
at once. The outbox is bounded, which paces adapter downloads to what the client reads.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.store import VersionRecord

OUTBOX_SIZE = 8


@dataclass
class ClientConn:
    client_id: str
    device: pb.DeviceReport
    eligible: bool
    peer: str
    outbox: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(OUTBOX_SIZE))
    connected_at: float = field(default_factory=time.time)
    closed: bool = False

    async def send(self, message: pb.CoordinatorMessage) -> None:
        if not self.closed:
            await self.outbox.put(message)

    def close(self) -> None:
        """End the stream (the writer stops at the sentinel; the session then returns)."""
        if not self.closed:
            self.closed = True
            try:
                self.outbox.put_nowait(None)
            except asyncio.QueueFull:
                pass


def rejected(code: str, reason: str, *, fatal: bool = False, round_no: int = 0) -> pb.CoordinatorMessage:
    return pb.CoordinatorMessage(rejected=pb.Rejected(code=code, reason=reason, fatal=fatal, round=round_no))


def global_version(record: VersionRecord | None) -> pb.GlobalVersion:
    if record is None:
        return pb.GlobalVersion(eval_loss=math.nan)
    return pb.GlobalVersion(version=record.version, adapter_bytes=len(record.payload),
                            adapter_sha256=bytes.fromhex(record.sha256),
                            eval_loss=math.nan if record.eval_loss is None else float(record.eval_loss))


class Coordinator(Protocol):
    """The parts of CoordinatorService that sessions and the round driver use."""

    config: Any
    task: Any
    metrics: Any
    nonces: Any
    store: Any
    clients: dict[str, ClientConn]
    global_model: Any
    global_tensors: dict[str, Any]
    version: Any
    coordinator_id: str | None
    model_name: str
    changed: asyncio.Event | None
    rounds: Any

    def notify(self) -> None: ...
    async def broadcast(self, message: pb.CoordinatorMessage) -> None: ...
    async def run_io(self, fn: Callable[..., Any], *args: Any) -> Any: ...
    async def run_compute(self, fn: Callable[..., Any], *args: Any) -> Any: ...
    async def version_record(self, version: int) -> Any: ...
    def set_version(self, record: Any) -> None: ...
