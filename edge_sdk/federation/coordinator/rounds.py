"""Runs the task's rounds: select, assign, accept updates until the round can close, aggregate, evaluate, store.

State that must survive a kill lives in the store before anyone is told: a round is stored open (with its
selection and deadline) before assignments go out; an update is stored before its receipt; the new version
and the round's completion are one transaction. A restarted coordinator therefore finds the open round with
the updates already accepted and finishes it (its deadline moved to at least `round_deadline_s` after the
restart, so the clients still missing have time to reconnect and upload); a client re-uploading an accepted
update is told "already accepted" and counted once.

Accepting updates and closing a round are serialised by one lock, so an update is either in the aggregate
or refused as late, never stored after the round's updates were read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.federation._proto import federation_pb2 as pb
from edge_sdk.federation.aggregation import ClientUpdate, aggregate
from edge_sdk.federation.coordinator.connection import ClientConn, Coordinator, global_version, rejected
from edge_sdk.federation.store import RoundRecord, UpdateRecord, VersionRecord
from edge_sdk.federation.tensors import add, update_problems
from edge_sdk.federation.transfer import ChunkBuffer, TransferError, parse_weights, sha256, weights_bytes

log = logging.getLogger("edgeproof.federation")


@dataclass
class OpenRound:
    record: RoundRecord
    accepted: set[str]
    declined: dict[str, str] = field(default_factory=dict)
    closing: bool = False


@dataclass
class PendingUpload:
    begin: Any  # pb.UpdateBegin
    buffer: ChunkBuffer


class RoundDriver:
    def __init__(self, service: Coordinator) -> None:
        self.svc = service
        self.current: OpenRound | None = None
        self.state = "running"  # then "finished" or "failed"
        self.reason = ""
        self._lock = asyncio.Lock()
        self._uploads: dict[tuple[str, int, int], PendingUpload] = {}
        self.last_round_no = 0  # the newest round opened (or resumed)

    @property
    def task(self):  # noqa: ANN201
        return self.svc.task

    @property
    def current_round_no(self) -> int:
        return self.current.record.round if self.current else 0

    # ------------------------------------------------------------------------------------------ loop
    async def run(self) -> None:
        svc, task = self.svc, self.task
        try:
            stored = await svc.run_io(svc.store.task, task.task_id)
            if stored is not None and stored.state != "running":
                self.state, self.reason = stored.state, stored.reason
                return
            while True:
                rounds = await svc.run_io(svc.store.rounds, task.task_id)
                completed = sum(1 for r in rounds if r.state == "completed")
                if completed >= task.rounds:
                    await self._finish("finished", f"{completed} rounds completed")
                    return
                record = next((r for r in rounds if r.state == "open"), None)
                if record is not None:
                    record = await self._resume(record)
                else:
                    round_no = completed + 1
                    attempt = 1 + sum(1 for r in rounds if r.round == round_no and r.state == "abandoned")
                    if attempt > task.max_attempts:
                        await self._finish("failed", f"round {round_no} was abandoned {task.max_attempts} times "
                                           "without a quorum of updates")
                        return
                    if attempt > 1:
                        await asyncio.sleep(task.retry_delay_s)
                    record = await self._open(round_no, attempt)
                accepted = await svc.run_io(svc.store.update_clients, task.task_id, record.round, record.attempt)
                self.current = OpenRound(record, accepted)
                self.last_round_no = record.round
                for client_id in record.selected:
                    conn = svc.clients.get(client_id)
                    if conn is not None and client_id not in accepted:
                        await conn.send(self._assignment(record, client_id))
                await self._wait(self.current)
                await self._close(self.current)
                self.current = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or a store failure: stop the task, say why
            log.exception("round driver failed")
            self.state, self.reason = "failed", f"coordinator error: {exc!r}"[:500]

    async def _finish(self, state: str, reason: str) -> None:
        svc = self.svc
        self.state, self.reason = state, reason
        await svc.run_io(svc.store.set_task_state, self.task.task_id, state, reason)
        await svc.broadcast(pb.CoordinatorMessage(finished=pb.TaskFinished(
            task_id=self.task.task_id, global_adapter=global_version(svc.version), failed=state == "failed",
            reason=reason)))
        log.info("task ended", extra={"task_id": self.task.task_id, "state": state, "reason": reason})

    async def _resume(self, record: RoundRecord) -> RoundRecord:
        deadline = max(record.deadline, time.time() + self.task.round_deadline_s)
        await self.svc.run_io(self.svc.store.extend_deadline, self.task.task_id, record.round, record.attempt,
                              deadline)
        log.info("resuming open round", extra={"round": record.round, "attempt": record.attempt})
        return RoundRecord(record.round, record.attempt, record.state, record.base_version, record.seed,
                           record.selected, deadline, record.opened_at, record.closed_at, record.reason)

    async def _open(self, round_no: int, attempt: int) -> RoundRecord:
        """Wait for enough eligible clients, select among them, store the open round."""
        svc, task = self.svc, self.task
        assert svc.changed is not None
        announced = 0.0
        while True:
            eligible = sorted(c.client_id for c in svc.clients.values() if c.eligible)
            if len(eligible) >= task.clients_to_open:
                break
            if time.monotonic() - announced > 30:
                log.info("waiting for eligible clients", extra={"round": round_no, "eligible": len(eligible),
                                                                "needed": task.clients_to_open})
                announced = time.monotonic()
            await self._changed(1.0)
        seed = task.round_seed(round_no, attempt)
        rng = np.random.default_rng(seed)
        k = min(len(eligible), task.selected_per_round)
        selected = tuple(sorted(rng.choice(eligible, size=k, replace=False).tolist()))
        now = time.time()
        assert svc.version is not None
        record = RoundRecord(round_no, attempt, "open", svc.version.version, seed, selected,
                             now + task.round_deadline_s, now, None, "")
        await svc.run_io(svc.store.open_round, task.task_id, record)
        log.info("round opened", extra={"round": round_no, "attempt": attempt, "selected": list(selected),
                                        "eligible": len(eligible)})
        return record

    def _assignment(self, record: RoundRecord, client_id: str) -> pb.CoordinatorMessage:
        """The client's own seed differs per client (its row order and dropout) and is fixed by the round."""
        version = self.svc.version
        assert version is not None and version.version == record.base_version
        seed = (record.seed + int.from_bytes(sha256(client_id.encode())[:8], "big")) % 2**63
        return pb.CoordinatorMessage(assignment=pb.RoundAssignment(
            round=record.round, attempt=record.attempt, base=global_version(version),
            deadline_unix_ms=int(record.deadline * 1000), local_steps=self.task.local_steps, seed=seed))

    async def _wait(self, current: OpenRound) -> None:
        """Until `clients_per_round` updates are in, every selected client answered, or the deadline."""
        svc = self.svc
        assert svc.changed is not None
        selected = set(current.record.selected)
        while True:
            answered = current.accepted | set(current.declined)
            if len(current.accepted) >= self.task.clients_per_round or selected <= answered:
                return
            left = current.record.deadline - time.time()
            if left <= 0:
                return
            await self._changed(min(left, 1.0))

    async def _changed(self, timeout: float) -> None:
        """Wait until something changes (clients, eligibility, uploads) or `timeout` passes. Not wait_for: on
        Python 3.11 it can swallow a cancel that arrives as the event is set, and stop() would hang."""
        changed = self.svc.changed
        assert changed is not None
        changed.clear()
        waiter = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()

    async def _close(self, current: OpenRound) -> None:
        svc, task, record = self.svc, self.task, current.record
        async with self._lock:
            current.closing = True
        updates = await svc.run_io(svc.store.updates, task.task_id, record.round, record.attempt)
        for key in [k for k in self._uploads if k[1:] == (record.round, record.attempt)]:
            del self._uploads[key]
        started = record.opened_at
        if len(updates) < task.quorum:
            reason = (f"{len(updates)} of the {task.quorum} updates needed arrived by the deadline"
                      + (f"; declined: {current.declined}" if current.declined else ""))
            await svc.run_io(lambda: svc.store.close_round(task.task_id, record.round, record.attempt,
                                                           state="abandoned", reason=reason))
            svc.metrics.rounds.labels("abandoned").inc()
            log.warning("round abandoned", extra={"round": record.round, "attempt": record.attempt, "reason": reason})
            await svc.broadcast(pb.CoordinatorMessage(round_closed=pb.RoundClosed(
                round=record.round, attempt=record.attempt, outcome=pb.ABANDONED,
                global_adapter=global_version(svc.version), updates=len(updates), reason=reason)))
            return
        new_version = await svc.run_compute(self._aggregate, record, updates)
        await svc.run_io(lambda: svc.store.close_round(task.task_id, record.round, record.attempt,
                                                       state="completed", reason="", new_version=new_version))
        svc.set_version(new_version)
        svc.metrics.rounds.labels("completed").inc()
        svc.metrics.round_seconds.observe(time.time() - started)
        log.info("round completed", extra={"round": record.round, "attempt": record.attempt,
                                           "version": new_version.version, "eval_loss": new_version.eval_loss,
                                           "updates": len(updates), "rule": task.aggregation})
        await svc.broadcast(pb.CoordinatorMessage(round_closed=pb.RoundClosed(
            round=record.round, attempt=record.attempt, outcome=pb.COMPLETED,
            global_adapter=global_version(new_version), updates=len(updates))))

    def _aggregate(self, record: RoundRecord, updates: list[UpdateRecord]) -> VersionRecord:
        """Client adapters = base + delta; the task's rule; the result scored on the held-out rows."""
        svc, task = self.svc, self.task
        base = svc.global_tensors
        clients = [ClientUpdate(u.client_id, add(base, parse_weights(u.payload)), u.num_examples) for u in updates]
        result = aggregate(task.aggregation, clients, **task.aggregation_params)
        loss = svc.global_model.evaluate(result.tensors)
        payload = weights_bytes(result.tensors, "float32")
        info = {"rule": task.aggregation, "clients": [u.client_id for u in updates],
                "num_examples": {u.client_id: u.num_examples for u in updates},
                "train_loss": {u.client_id: u.train_loss for u in updates},
                "epsilon": {u.client_id: u.epsilon for u in updates},
                "aggregate": _jsonable(result.info), "attempt": record.attempt}
        assert svc.version is not None
        return VersionRecord(svc.version.version + 1, record.round, payload, sha256(payload).hex(), loss, info,
                             time.time())

    # ------------------------------------------------------------------------------ client messages
    async def on_connect(self, conn: ClientConn) -> None:
        """A (re)connected client that is selected in the open round and has no update in: assign it again."""
        current = self.current
        if current is None or current.closing or conn.client_id not in current.record.selected:
            return
        if conn.client_id not in current.accepted:
            await conn.send(self._assignment(current.record, conn.client_id))

    def on_disconnect(self, conn: ClientConn) -> None:
        """Nothing is dropped: the client may reconnect and resume its transfer before the deadline."""

    async def decline(self, conn: ClientConn, msg: Any) -> None:
        current = self.current
        if current is not None and msg.round == current.record.round and conn.client_id in current.record.selected:
            current.declined[conn.client_id] = msg.reason[:300]
            log.info("client declined the round", extra={"client_id": conn.client_id, "round": msg.round,
                                                         "reason": msg.reason[:300]})
            self.svc.notify()

    def _upload_problem(self, conn: ClientConn, round_no: int, attempt: int | None) -> tuple[str, str] | None:
        current = self.current
        if current is None:
            if round_no <= self.last_round_no:
                return "stale_round", f"round {round_no} is closed; no round is open now"
            return "no_open_round", f"round {round_no} is not open: no round is open now"
        rec = current.record
        if round_no != rec.round or (attempt is not None and attempt != rec.attempt):
            return "stale_round", (f"round {round_no} attempt {attempt} is not open; the open round is "
                                   f"{rec.round} attempt {rec.attempt}")
        if current.closing or time.time() > rec.deadline:
            return "late_update", f"round {rec.round} closed (deadline passed); the update is dropped"
        if conn.client_id not in rec.selected:
            return "not_selected", f"client {conn.client_id} is not selected for round {rec.round}"
        return None

    async def begin_upload(self, conn: ClientConn, msg: Any) -> None:
        task = self.task
        problem = self._upload_problem(conn, msg.round, msg.attempt)
        if problem is None and self.current is not None and conn.client_id in self.current.accepted:
            await conn.send(pb.CoordinatorMessage(receipt=pb.UpdateReceipt(
                round=msg.round, accepted=True, code="already_accepted",
                reason="this client's update for the round is already accepted; it counts once")))
            return
        if problem is None and self.current is not None and msg.base_version != self.current.record.base_version:
            problem = ("wrong_base_version", f"the update is from global version {msg.base_version}; round "
                       f"{msg.round} trains from version {self.current.record.base_version}")
        if problem is None and not 0 < msg.total_bytes <= task.max_update_bytes:
            problem = ("oversized" if msg.total_bytes else "empty_update",
                       f"the update is {msg.total_bytes} bytes; the limit is {task.max_update_bytes}")
        if problem is None and len(msg.sha256) != 32:
            problem = ("malformed_update", "sha256 must be 32 bytes")
        if problem is None and not 1 <= msg.num_examples <= task.max_examples:
            problem = ("bad_num_examples", f"num_examples must be 1..{task.max_examples}, got {msg.num_examples}")
        if problem is not None:
            await self._refuse(conn, msg.round, *problem)
            return
        key = (conn.client_id, msg.round, msg.attempt)
        pending = self._uploads.get(key)
        if pending is None or pending.buffer.digest != bytes(msg.sha256) or pending.buffer.total != msg.total_bytes:
            pending = PendingUpload(msg, ChunkBuffer(msg.total_bytes, bytes(msg.sha256)))
            self._uploads[key] = pending
        else:
            pending.begin = msg
        await conn.send(pb.CoordinatorMessage(upload_ready=pb.UploadReady(round=msg.round,
                                                                          offset=pending.buffer.offset)))

    async def add_chunk(self, conn: ClientConn, msg: Any) -> None:
        svc = self.svc
        current = self.current
        attempt = current.record.attempt if current is not None else 0
        key = (conn.client_id, msg.round, attempt)
        pending = self._uploads.get(key)
        if pending is None:
            problem = self._upload_problem(conn, msg.round, None) or (
                "no_upload", "send UpdateBegin before the update's chunks")
            await self._refuse(conn, msg.round, *problem)
            return
        try:
            pending.buffer.add(msg.offset, msg.data)
        except TransferError as exc:
            del self._uploads[key]
            await self._refuse(conn, msg.round, exc.code, str(exc))
            return
        svc.metrics.bytes_received.inc(len(msg.data))
        if pending.buffer.complete:
            del self._uploads[key]
            await self._complete(conn, pending)

    async def _complete(self, conn: ClientConn, pending: PendingUpload) -> None:
        svc, begin = self.svc, pending.begin
        try:
            payload = pending.buffer.payload()
            problems = await svc.run_compute(self._check_update, payload)
        except TransferError as exc:
            await self._refuse(conn, begin.round, exc.code, str(exc))
            return
        if problems:
            code = "non_finite" if any("non-finite" in p for p in problems) else "invalid_update"
            await self._refuse(conn, begin.round, code, "update refused: " + " ".join(problems))
            return
        record = UpdateRecord(conn.client_id, begin.round, begin.attempt, begin.base_version, begin.num_examples,
                              begin.steps, begin.train_loss, begin.update_norm, begin.epsilon, payload,
                              bytes(begin.sha256).hex(), time.time())
        async with self._lock:
            problem = self._upload_problem(conn, begin.round, begin.attempt)
            if problem is not None:
                await self._refuse(conn, begin.round, *problem)
                return
            stored = await svc.run_io(svc.store.add_update, self.task.task_id, record)
            assert self.current is not None
            self.current.accepted.add(conn.client_id)
        code = "accepted" if stored else "already_accepted"
        svc.metrics.updates.labels(code).inc()
        log.info("update accepted", extra={"client_id": conn.client_id, "round": begin.round, "code": code,
                                           "bytes": len(payload), "num_examples": begin.num_examples})
        await conn.send(pb.CoordinatorMessage(receipt=pb.UpdateReceipt(round=begin.round, accepted=True, code=code,
                                                                       reason="")))
        svc.notify()

    def _check_update(self, payload: bytes) -> list[str]:
        """Decode under the size of the global adapter (a hostile payload cannot allocate more) and compare
        names, shapes and finiteness with it."""
        reference = self.svc.global_tensors
        limit = sum(t.size for t in reference.values())
        try:
            delta = parse_weights(payload, max_elements=limit, encodings=(self.task.update_encoding,))
        except TransferError:
            raise
        except Exception as exc:  # noqa: BLE001 - codec errors name the tensor and what was wrong
            code = "non_finite" if "finite" in str(exc).lower() or "nan" in str(exc).lower() else "malformed_update"
            raise TransferError(code, str(exc)) from None
        return update_problems(reference, delta)

    async def _refuse(self, conn: ClientConn, round_no: int, code: str, reason: str) -> None:
        svc = self.svc
        svc.metrics.updates.labels(code).inc()
        log.warning("update refused", extra={"client_id": conn.client_id, "round": round_no, "code": code,
                                             "reason": reason})
        await svc.run_io(svc.store.record_rejection, self.task.task_id, round_no, conn.client_id, code, reason)
        await conn.send(rejected(code, reason, round_no=round_no))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
