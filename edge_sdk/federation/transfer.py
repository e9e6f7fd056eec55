"""Adapters on the wire: named tensors <-> a serialized AdapterWeights message, moved in chunks.

Both directions (the global adapter down, an update up) send the bytes of one AdapterWeights message in
chunks with offsets, announced by total size and sha256. A receiver appends chunks in order, refuses a chunk
at the wrong offset or past the announced size, and checks the hash at the end; a transfer cut by a dropped
connection continues from the bytes already held (`ChunkBuffer.offset`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_sdk.errors import InvalidRequestError
from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.codec import EncodedTensor, decode_tensor, encode_tensor
from edge_sdk.federation.task import encoding_from_proto, encoding_to_proto

MAX_TENSORS = 10_000


class TransferError(InvalidRequestError):
    """A chunk or a payload that does not fit what was announced. `code` is short and stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def weights_bytes(tensors: dict[str, np.ndarray], encoding: str) -> bytes:
    """Serialize named tensors (sorted by name) as an AdapterWeights message in `encoding`."""
    msg = pb.AdapterWeights()
    for name in sorted(tensors):
        t = encode_tensor(name, tensors[name], encoding)
        msg.tensors.add(name=t.name, shape=list(t.shape), encoding=encoding_to_proto(t.encoding), data=t.data)
    return msg.SerializeToString(deterministic=True)


def parse_weights(data: bytes, *, max_elements: int | None = None, encodings: tuple[str, ...] | None = None
                  ) -> dict[str, np.ndarray]:
    """Named float32 tensors from AdapterWeights bytes; a malformed payload raises TransferError."""
    msg = pb.AdapterWeights()
    try:
        msg.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise TransferError("malformed_payload", f"the payload is not an AdapterWeights message: {exc}") from None
    if len(msg.tensors) > MAX_TENSORS:
        raise TransferError("malformed_payload", f"{len(msg.tensors)} tensors; at most {MAX_TENSORS}")
    out: dict[str, np.ndarray] = {}
    budget = max_elements
    for t in msg.tensors:
        if t.name in out:
            raise TransferError("malformed_payload", f"tensor {t.name!r} appears twice")
        encoding = encoding_from_proto(t.encoding)
        if encodings is not None and encoding not in encodings:
            raise TransferError("wrong_encoding", f"tensor {t.name!r} is {encoding}; expected {' or '.join(encodings)}")
        array = decode_tensor(EncodedTensor(t.name, tuple(int(d) for d in t.shape), encoding, bytes(t.data)),
                              max_elements=budget)
        if budget is not None:
            budget -= array.size
        out[t.name] = array
    return out


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def chunks(data: bytes, offset: int, chunk_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) pieces of `data` from `offset` on."""
    for start in range(offset, len(data), chunk_bytes):
        yield start, data[start:start + chunk_bytes]


class ChunkBuffer:
    """Receives one announced payload (total size, sha256) chunk by chunk; optionally backed by a file so a
    restarted process continues where it stopped."""

    def __init__(self, total_bytes: int, digest: bytes, *, path: Path | None = None) -> None:
        self.total = int(total_bytes)
        self.digest = bytes(digest)
        self.path = path
        self._parts: list[bytes] = []
        self._size = 0
        if path is not None and path.exists():
            held = path.read_bytes()
            if len(held) <= self.total:
                self._parts, self._size = [held], len(held)
            else:
                path.unlink()

    @property
    def offset(self) -> int:
        return self._size

    @property
    def complete(self) -> bool:
        return self._size == self.total

    def add(self, offset: int, data: bytes) -> None:
        if offset != self._size:
            raise TransferError("bad_offset", f"chunk at offset {offset}, expected {self._size}")
        if self._size + len(data) > self.total:
            raise TransferError("oversized", f"chunks exceed the announced {self.total} bytes")
        self._parts.append(bytes(data))
        self._size += len(data)
        if self.path is not None:
            with self.path.open("ab") as f:
                f.write(data)

    def payload(self) -> bytes:
        """The whole payload once complete and its sha256 matches (else TransferError; the buffer is reset)."""
        if not self.complete:
            raise TransferError("incomplete", f"{self._size} of {self.total} bytes received")
        data = b"".join(self._parts)
        if sha256(data) != self.digest:
            self.reset()
            raise TransferError("bad_sha256", "the payload's sha256 does not match the announced one")
        return data

    def reset(self) -> None:
        self._parts, self._size = [], 0
        if self.path is not None:
            self.path.unlink(missing_ok=True)
