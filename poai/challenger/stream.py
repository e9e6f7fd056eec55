"""The challenger's side of one session stream: typed receive with deadlines and size limits, and why a
session ended.

Every way a node can misbehave on the wire maps to one `SessionAborted` subclass with a stable `code` (the
metrics label and the reason stored with the session) and a message for the operator. Nothing a node sends
can raise anything else out of here.

The Session method is registered with a byte-passthrough deserializer (poai/challenger/server.py), so what
`read()` returns is the raw message. `recv` stamps the arrival time as soon as the bytes are there, refuses
a message larger than the limit of the step (checked on its length: nothing is parsed), and parses larger
messages in a worker thread: the event loop that timestamps every session never spends more than a few
microseconds on one node's message, whatever its size (issue 6, item 6).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc

from poai._proto import poai_pb2 as pb
from poai.wire import CONTROL_MAX_BYTES, HELLO_MAX_BYTES, WireFormatError, parse_node_message

# Messages up to this size are parsed on the loop (a few microseconds); larger ones in a worker thread.
INLINE_PARSE_BYTES = 16 << 10
# Default per-step limits when the caller gives none (the gRPC limit is the outer cap of everything).
STEP_LIMITS = {"hello": HELLO_MAX_BYTES, "pong": CONTROL_MAX_BYTES}


class SessionAborted(Exception):
    """The session cannot go on. `code` is a short stable label; str(exc) is the reason for humans."""

    code = "aborted"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NodeGone(SessionAborted):
    code = "disconnected"


class StageTimeout(SessionAborted):
    code = "timeout"


class ProtocolViolation(SessionAborted):
    code = "malformed"


class NodeReportedError(SessionAborted):
    code = "node_error"


class HelloRefused(SessionAborted):
    code = "hello_rejected"


class ChallengerFault(SessionAborted):
    """The challenger itself failed (a verifier raised, out of memory): recorded, never the node's strike."""

    code = "challenger_fault"


class RateLimited(SessionAborted):
    """The node id used up its sessions for the window (shared through the store across challengers)."""

    code = "rate_limited"


class RefusedOpening(SessionAborted):
    """The node committed, then would not answer an opening: a failed check (it cannot dodge a strike)."""

    code = "refused_opening"


class MessageTooLarge(ProtocolViolation):
    """A message over the limit of its step (refused on its length, before parsing)."""


class NodeStream:
    """Wraps a grpc.aio servicer context: `send(...)`, `recv(expected, timeout)`; times on perf_counter."""

    def __init__(self, context: grpc.aio.ServicerContext, max_message_bytes: int) -> None:
        self._ctx = context
        self.max_message_bytes = max_message_bytes
        self.messages_in = 0
        self.bytes_in = 0
        self.session_deadline = float("inf")  # perf_counter time by which the whole session must end
        self.waiting_for: str | None = None  # what recv() is waiting for (for the cancel reason)

    async def send(self, msg: pb.ChallengerMessage) -> float:
        """Write one message; returns perf_counter() just before the write (the stage clock start)."""
        t = time.perf_counter()
        try:
            await self._ctx.write(msg)
        except (grpc.aio.AioRpcError, RuntimeError, asyncio.InvalidStateError) as exc:
            raise NodeGone(f"cannot send to the node (stream closed): {exc}") from None
        return t

    async def recv(
        self,
        expected: str | tuple[str, ...],
        timeout: float,
        *,
        what: str,
        on_partial: Callable[[pb.Partial, float], None] | None = None,
        max_bytes: int | None = None,
    ) -> tuple[Any, float]:
        """Wait for a NodeMessage whose body is `expected`; return (body, perf_counter at arrival).

        `what` names the awaited thing in error messages ("compute commitment"). `max_bytes` is the largest
        message accepted at this step (default: `STEP_LIMITS` for hellos and pongs, else the gRPC limit); it
        applies to everything that arrives meanwhile (partials, errors). Partial messages are passed to
        `on_partial` with their arrival time when given, and are a protocol violation otherwise.
        """
        wanted = (expected,) if isinstance(expected, str) else expected
        limit = max_bytes if max_bytes is not None else STEP_LIMITS.get(wanted[0], self.max_message_bytes)
        limit = min(limit, self.max_message_bytes)
        start = time.perf_counter()
        deadline = min(start + timeout, self.session_deadline)
        session_bound = deadline < start + timeout
        self.waiting_for = what
        while True:
            remaining = deadline - time.perf_counter()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                data = await asyncio.wait_for(self._ctx.read(), remaining)
            except asyncio.TimeoutError:
                if session_bound:
                    raise StageTimeout(f"session time limit reached while waiting for {what}") from None
                raise StageTimeout(f"no {what} within the {timeout:.1f} s deadline") from None
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError, RuntimeError) as exc:
                raise NodeGone(f"stream broke while waiting for {what}: {exc}") from None
            arrived = time.perf_counter()
            if data is grpc.aio.EOF:
                raise NodeGone(
                    f"node closed the stream while the challenger waited for {what} (disconnect, crash, or a "
                    f"message over the {self.max_message_bytes}-byte limit)"
                )
            size = len(data)
            self.messages_in += 1
            self.bytes_in += size
            if size > limit:
                raise MessageTooLarge(
                    f"a {size}-byte message while waiting for {what}: the limit at this step is {limit} bytes"
                )
            msg = await self._parse(data, what)
            kind = msg.WhichOneof("body")
            if kind == "error":
                raise NodeReportedError(f"node gave up on {what}: {msg.error.reason[:500]}")
            if kind == "partial" and on_partial is not None and "partial" not in wanted:
                on_partial(msg.partial, arrived)
                continue
            if kind not in wanted:
                raise ProtocolViolation(f"expected {what}, got a {kind or 'empty'} message")
            self.waiting_for = None
            return getattr(msg, kind), arrived

    async def _parse(self, data: Any, what: str) -> pb.NodeMessage:
        """bytes -> checked NodeMessage; off the loop unless small."""
        if isinstance(data, Exception):  # pragma: no cover - defensive: a deserializer that failed
            raise ProtocolViolation(f"undecodable message while waiting for {what}: {data}")
        if not isinstance(data, (bytes, bytearray, memoryview)):  # already a message (servicer tests)
            data = data.SerializeToString()
        try:
            if len(data) <= INLINE_PARSE_BYTES:
                return parse_node_message(bytes(data))
            return await asyncio.to_thread(parse_node_message, bytes(data))
        except WireFormatError as exc:
            raise ProtocolViolation(f"malformed message while waiting for {what}: {exc}") from None
