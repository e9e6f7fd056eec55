"""The client's end of one stream to the coordinator: a sending queue, a reader thread, and waiting for the next
message of the kinds a step expects (others are kept, in order, for the main loop)."""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from typing import Any

import grpc

from edge_sdk.errors import EdgeProofError
from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation._proto import federation_pb2_grpc as pbg
from edge_sdk.serving.tls import channel_credentials

_END = object()


class StreamLost(EdgeProofError):
    """The stream ended or failed; the client reconnects (with backoff) and resumes."""


class CoordinatorRejected(EdgeProofError):
    def __init__(self, code: str, reason: str, fatal: bool) -> None:
        super().__init__(f"coordinator refused ({code}): {reason}")
        self.code, self.reason, self.fatal = code, reason, fatal


class CoordinatorStream:
    def __init__(self, address: str, *, tls: bool = False, ca_file: str | None = None, max_message_bytes: int,
                 on_message: Callable[[pb.CoordinatorMessage], None] | None = None) -> None:
        opts = [("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes)]
        self.channel = (grpc.secure_channel(address, channel_credentials(ca_file), options=opts) if tls
                        else grpc.insecure_channel(address, options=opts))
        self._out: queue.Queue[Any] = queue.Queue()
        self._in: queue.Queue[Any] = queue.Queue()
        self._deferred: collections.deque[pb.CoordinatorMessage] = collections.deque()
        self._on_message = on_message
        self.error: BaseException | None = None
        self._call = pbg.CoordinatorStub(self.channel).Session(self._requests())
        self._reader = threading.Thread(target=self._read, name="fed-client-reader", daemon=True)
        self._reader.start()

    def _requests(self):  # noqa: ANN202 - generator consumed by gRPC
        while True:
            message = self._out.get()
            if message is _END:
                return
            yield message

    def _read(self) -> None:
        try:
            for message in self._call:
                if self._on_message is not None:
                    self._on_message(message)
                self._in.put(message)
        except grpc.RpcError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc
        self._in.put(_END)

    def send(self, body_name: str, body: Any) -> None:
        self._out.put(pb.ClientMessage(**{body_name: body}))

    def next(self, kinds: tuple[str, ...] | None = None, timeout: float | None = None) -> pb.CoordinatorMessage:
        """The next message whose body is one of `kinds` (None: any). Others arriving first are kept for a
        later call. A Rejected is returned when `kinds` names it; otherwise a fatal one raises
        CoordinatorRejected (and a non-fatal one waits in line like any other message).
        Raises StreamLost when the stream ends, TimeoutError after `timeout` seconds."""
        for i, message in enumerate(self._deferred):
            if kinds is None or message.WhichOneof("body") in kinds:
                del self._deferred[i]
                return message
        while True:
            try:
                message = self._in.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no {' or '.join(kinds or ('message',))} from the coordinator within "
                                   f"{timeout:.0f} s") from None
            if message is _END:
                self._in.put(_END)  # every later wait sees the end too
                detail = _describe(self.error)
                raise StreamLost(f"the stream to the coordinator ended{detail}")
            kind = message.WhichOneof("body")
            if kind == "rejected" and message.rejected.fatal and (kinds is None or "rejected" not in kinds):
                raise CoordinatorRejected(message.rejected.code, message.rejected.reason, True)
            if kinds is None or kind in kinds:
                return message
            self._deferred.append(message)

    def close(self) -> None:
        self._out.put(_END)
        try:
            self._call.cancel()
        except Exception:  # noqa: BLE001
            pass
        self.channel.close()
        self._reader.join(timeout=5)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, grpc.RpcError):
        return f": {error.code().name} {error.details()}"  # type: ignore[attr-defined]
    return f": {error!r}"
