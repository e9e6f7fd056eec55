"""What a coordinator must not lose: its task, every global adapter version, every round and every accepted update.

    store = FederationStore("federation.sqlite")          # or "postgresql://user@host/db"

Any engine of `edge_sdk.storage`. An accepted update is one row, written before the client is told it was
accepted, keyed by (task, round, attempt, client): a client that uploads again (after a lost receipt or a
coordinator restart) is told "already accepted" and is never counted twice. Closing a round is one transaction
that writes the new global version and marks the round completed, so a kill at any point leaves either the
open round with its accepted updates (the restarted coordinator finishes it) or the completed round with its
version, never half of it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from edge_sdk.errors import InvalidRequestError
from edge_sdk.storage import Database, Migration, Schema, migrate, open_database

_BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA"}


def schema(dialect: str) -> Schema:
    blob = _BLOB[dialect]
    return Schema(component="federation", migrations=(
        Migration(1, "tasks, versions, rounds, updates, clients, rejections", (
            """CREATE TABLE IF NOT EXISTS fed_tasks (
                task_id TEXT PRIMARY KEY,
                spec_json TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
            f"""CREATE TABLE IF NOT EXISTS fed_versions (
                task_id TEXT NOT NULL REFERENCES fed_tasks(task_id),
                version INTEGER NOT NULL,
                round INTEGER NOT NULL,
                payload {blob} NOT NULL,
                sha256 TEXT NOT NULL,
                eval_loss DOUBLE PRECISION,
                info_json TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (task_id, version)
            )""",
            """CREATE TABLE IF NOT EXISTS fed_rounds (
                task_id TEXT NOT NULL REFERENCES fed_tasks(task_id),
                round INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                state TEXT NOT NULL,
                base_version INTEGER NOT NULL,
                seed BIGINT NOT NULL,
                selected_json TEXT NOT NULL,
                deadline DOUBLE PRECISION NOT NULL,
                opened_at DOUBLE PRECISION NOT NULL,
                closed_at DOUBLE PRECISION,
                reason TEXT NOT NULL,
                PRIMARY KEY (task_id, round, attempt)
            )""",
            f"""CREATE TABLE IF NOT EXISTS fed_updates (
                task_id TEXT NOT NULL,
                round INTEGER NOT NULL,
                attempt INTEGER NOT NULL,
                client_id TEXT NOT NULL,
                base_version INTEGER NOT NULL,
                num_examples BIGINT NOT NULL,
                steps INTEGER NOT NULL,
                train_loss DOUBLE PRECISION NOT NULL,
                update_norm DOUBLE PRECISION NOT NULL,
                epsilon DOUBLE PRECISION NOT NULL,
                payload {blob} NOT NULL,
                sha256 TEXT NOT NULL,
                accepted_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (task_id, round, attempt, client_id)
            )""",
            """CREATE TABLE IF NOT EXISTS fed_clients (
                client_id TEXT PRIMARY KEY,
                scheme TEXT NOT NULL,
                public_key TEXT NOT NULL,
                device_json TEXT NOT NULL,
                first_seen DOUBLE PRECISION NOT NULL,
                last_seen DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS fed_rejections (
                task_id TEXT NOT NULL,
                round INTEGER NOT NULL,
                client_id TEXT NOT NULL,
                code TEXT NOT NULL,
                reason TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS fed_rejections_by_task ON fed_rejections (task_id, at)",
        )),
    ))


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    spec: dict[str, Any]
    state: str  # "running", "finished" or "failed"
    reason: str


@dataclass(frozen=True)
class VersionRecord:
    version: int
    round: int  # the round that produced it (0: the initial adapter)
    payload: bytes  # serialized AdapterWeights (FLOAT32)
    sha256: str
    eval_loss: float | None
    info: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class RoundRecord:
    round: int
    attempt: int
    state: str  # "open", "completed" or "abandoned"
    base_version: int
    seed: int
    selected: tuple[str, ...]
    deadline: float
    opened_at: float
    closed_at: float | None
    reason: str


@dataclass(frozen=True)
class UpdateRecord:
    client_id: str
    round: int
    attempt: int
    base_version: int
    num_examples: int
    steps: int
    train_loss: float
    update_norm: float
    epsilon: float
    payload: bytes  # serialized AdapterWeights of the delta, as the client sent it
    sha256: str
    accepted_at: float


class FederationStore:
    def __init__(self, db: str | Database) -> None:
        self.db = db if isinstance(db, Database) else open_database(db)
        migrate(self.db, schema(self.db.dialect))

    @property
    def url(self) -> str:
        return self.db.url.display

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------------------------------- tasks
    def ensure_task(self, task_id: str, spec: dict[str, Any], initial: VersionRecord) -> TaskRecord:
        """Create the task with its version 0, or return the stored one. A stored task with another spec is
        refused: its rounds were run under that spec."""
        spec_json = json.dumps(spec, sort_keys=True, default=str)
        with self.db.transaction() as tx:
            tx.lock(f"fed-task:{task_id}")
            row = tx.one("SELECT spec_json, state, reason FROM fed_tasks WHERE task_id = ?", (task_id,))
            if row is not None:
                if row[0] != spec_json:
                    raise InvalidRequestError(
                        f"task {task_id!r} is already stored in {self.url} with other settings; resume it with "
                        "the same settings, give the new run another task id, or use another database")
                return TaskRecord(task_id, json.loads(row[0]), row[1], row[2])
            now = time.time()
            tx.execute("INSERT INTO fed_tasks (task_id, spec_json, state, reason, created_at, updated_at) "
                       "VALUES (?, ?, 'running', '', ?, ?)", (task_id, spec_json, now, now))
            self._insert_version(tx, task_id, initial)
        return TaskRecord(task_id, spec, "running", "")

    def task(self, task_id: str) -> TaskRecord | None:
        with self.db.read() as tx:
            row = tx.one("SELECT spec_json, state, reason FROM fed_tasks WHERE task_id = ?", (task_id,))
        return None if row is None else TaskRecord(task_id, json.loads(row[0]), row[1], row[2])

    def set_task_state(self, task_id: str, state: str, reason: str = "") -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE fed_tasks SET state = ?, reason = ?, updated_at = ? WHERE task_id = ?",
                       (state, reason, time.time(), task_id))

    # ---------------------------------------------------------------------------------------- versions
    @staticmethod
    def _insert_version(tx: Any, task_id: str, v: VersionRecord) -> None:
        tx.execute("INSERT INTO fed_versions (task_id, version, round, payload, sha256, eval_loss, info_json, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (task_id, v.version, v.round, v.payload, v.sha256, v.eval_loss,
                    json.dumps(v.info, default=str), v.created_at))

    @staticmethod
    def _version(row: tuple) -> VersionRecord:
        return VersionRecord(int(row[0]), int(row[1]), bytes(row[2]), row[3], row[4], json.loads(row[5]),
                             float(row[6]))

    _VERSION_COLS = "version, round, payload, sha256, eval_loss, info_json, created_at"

    def latest_version(self, task_id: str) -> VersionRecord:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {self._VERSION_COLS} FROM fed_versions WHERE task_id = ? "
                         "ORDER BY version DESC LIMIT 1", (task_id,))
        if row is None:
            raise InvalidRequestError(f"task {task_id!r} has no global adapter in {self.url}")
        return self._version(row)

    def version(self, task_id: str, version: int) -> VersionRecord | None:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {self._VERSION_COLS} FROM fed_versions WHERE task_id = ? AND version = ?",
                         (task_id, version))
        return None if row is None else self._version(row)

    def versions(self, task_id: str) -> list[VersionRecord]:
        """Every version, oldest first (payloads included: callers that only want losses can drop them)."""
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {self._VERSION_COLS} FROM fed_versions WHERE task_id = ? ORDER BY version",
                          (task_id,))
        return [self._version(r) for r in rows]

    # ------------------------------------------------------------------------------------------ rounds
    def open_round(self, task_id: str, r: RoundRecord) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO fed_rounds (task_id, round, attempt, state, base_version, seed, selected_json, "
                       "deadline, opened_at, closed_at, reason) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, NULL, '')",
                       (task_id, r.round, r.attempt, r.base_version, r.seed, json.dumps(list(r.selected)),
                        r.deadline, r.opened_at))

    def extend_deadline(self, task_id: str, round_no: int, attempt: int, deadline: float) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE fed_rounds SET deadline = ? WHERE task_id = ? AND round = ? AND attempt = ?",
                       (deadline, task_id, round_no, attempt))

    def close_round(self, task_id: str, round_no: int, attempt: int, *, state: str, reason: str,
                    new_version: VersionRecord | None = None) -> None:
        """Mark the round completed (with its new version, atomically) or abandoned."""
        with self.db.transaction() as tx:
            if new_version is not None:
                self._insert_version(tx, task_id, new_version)
            tx.execute("UPDATE fed_rounds SET state = ?, reason = ?, closed_at = ? WHERE task_id = ? AND round = ? "
                       "AND attempt = ? AND state = 'open'", (state, reason, time.time(), task_id, round_no, attempt))

    @staticmethod
    def _round(row: tuple) -> RoundRecord:
        return RoundRecord(int(row[0]), int(row[1]), row[2], int(row[3]), int(row[4]), tuple(json.loads(row[5])),
                           float(row[6]), float(row[7]), None if row[8] is None else float(row[8]), row[9])

    _ROUND_COLS = "round, attempt, state, base_version, seed, selected_json, deadline, opened_at, closed_at, reason"

    def rounds(self, task_id: str) -> list[RoundRecord]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {self._ROUND_COLS} FROM fed_rounds WHERE task_id = ? ORDER BY round, attempt",
                          (task_id,))
        return [self._round(r) for r in rows]

    def open_round_record(self, task_id: str) -> RoundRecord | None:
        with self.db.read() as tx:
            row = tx.one(f"SELECT {self._ROUND_COLS} FROM fed_rounds WHERE task_id = ? AND state = 'open' "
                         "ORDER BY round DESC, attempt DESC LIMIT 1", (task_id,))
        return None if row is None else self._round(row)

    # ----------------------------------------------------------------------------------------- updates
    def add_update(self, task_id: str, u: UpdateRecord) -> bool:
        """Store an accepted update; False when this client already has one for the round and attempt."""
        with self.db.transaction() as tx:
            tx.lock(f"fed-update:{task_id}:{u.round}:{u.attempt}:{u.client_id}")
            if tx.one("SELECT 1 FROM fed_updates WHERE task_id = ? AND round = ? AND attempt = ? AND client_id = ?",
                      (task_id, u.round, u.attempt, u.client_id)) is not None:
                return False
            tx.execute("INSERT INTO fed_updates (task_id, round, attempt, client_id, base_version, num_examples, "
                       "steps, train_loss, update_norm, epsilon, payload, sha256, accepted_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (task_id, u.round, u.attempt, u.client_id, u.base_version, u.num_examples, u.steps,
                        u.train_loss, u.update_norm, u.epsilon, u.payload, u.sha256, u.accepted_at))
        return True

    _UPDATE_COLS = ("client_id, round, attempt, base_version, num_examples, steps, train_loss, update_norm, "
                    "epsilon, payload, sha256, accepted_at")

    def updates(self, task_id: str, round_no: int, attempt: int) -> list[UpdateRecord]:
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {self._UPDATE_COLS} FROM fed_updates WHERE task_id = ? AND round = ? "
                          "AND attempt = ? ORDER BY accepted_at, client_id", (task_id, round_no, attempt))
        return [UpdateRecord(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), float(r[6]),
                             float(r[7]), float(r[8]), bytes(r[9]), r[10], float(r[11])) for r in rows]

    def update_clients(self, task_id: str, round_no: int, attempt: int) -> set[str]:
        with self.db.read() as tx:
            rows = tx.all("SELECT client_id FROM fed_updates WHERE task_id = ? AND round = ? AND attempt = ?",
                          (task_id, round_no, attempt))
        return {r[0] for r in rows}

    # --------------------------------------------------------------------------------- clients, refusals
    def record_client(self, client_id: str, scheme: str, public_key: bytes, device: dict[str, Any]) -> None:
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO fed_clients (client_id, scheme, public_key, device_json, first_seen, last_seen) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET "
                       "device_json = excluded.device_json, last_seen = excluded.last_seen",
                       (client_id, scheme, public_key.hex(), json.dumps(device, sort_keys=True), now, now))

    def record_rejection(self, task_id: str, round_no: int, client_id: str, code: str, reason: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO fed_rejections (task_id, round, client_id, code, reason, at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (task_id, round_no, client_id, code, reason[:1000], time.time()))

    def rejections(self, task_id: str) -> list[tuple[int, str, str, str]]:
        """(round, client_id, code, reason), oldest first."""
        with self.db.read() as tx:
            rows = tx.all("SELECT round, client_id, code, reason FROM fed_rejections WHERE task_id = ? "
                          "ORDER BY at", (task_id,))
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]
