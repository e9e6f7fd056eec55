"""Persistent integrity records: nodes, sessions (with every check's result), strikes, smoothed scores.

How it is used: the challenger calls `record_session(...)` once per finished session; the validator reads
`get_score(node_id)` / `list_scores()` and `session_history(node_id, limit)` for reports.

    store = IntegrityStore("poai.sqlite")                     # or "postgresql://user@host/db"
    node = store.record_session(node_id, claim, scoring.score_session(claim, results), results)
    store.get_score(node_id).effective

The database is any engine of `edge_sdk.storage` (a URL picks it); all the SQL is shared. One recorded
session is one write transaction (session row + strike row + node row), so a crash or `kill -9` at any
point leaves either the whole session recorded or none of it. Inside it, a lock on the node
(`Transaction.lock`: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) guards the read-modify-write
of the node's history, so two challengers recording sessions of one node at the same moment lose no update.
Recording the same session_id twice is a no-op that returns the node's current score (safe retries).

Schema (component "poai" of `edge_sdk.storage.migrations`): version 2 added each session's status
(ok / failed_check / incomplete / challenger_fault) and verified capacity, the node's latest verified
capacity, and `session_starts`, the per-node admission log behind the rate limit. Version 3 adds
`sessions.node_seq`, the session's ordinal in its node's history (the commit order of that node's sessions).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.storage import Database, Migration, Schema, Transaction, migrate, open_database
from poai.challenges.common import CheckResult, Claim
from poai.scoring import NodeScore, ScoringConfig, SessionScore, update_history

__all__ = [
    "IntegrityStore",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SessionRecord",
    "StrikeRecord",
]

SCHEMA = Schema(
    component="poai",
    legacy_version_table="schema_version",  # SQLite files written before the storage layer (versions 1-2)
    migrations=(
        Migration(1, "nodes, sessions, strikes", (
            """CREATE TABLE IF NOT EXISTS nodes (
                node_id TEXT PRIMARY KEY,
                claim_json TEXT NOT NULL,
                smoothed DOUBLE PRECISION NOT NULL,
                last_score DOUBLE PRECISION NOT NULL,
                sessions INTEGER NOT NULL,
                strikes_total INTEGER NOT NULL,
                first_seen DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS sessions (
                session_id TEXT PRIMARY KEY,
                node_id TEXT NOT NULL REFERENCES nodes(node_id),
                started_at DOUBLE PRECISION NOT NULL,
                finished_at DOUBLE PRECISION NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                strike INTEGER NOT NULL,
                smoothed_after DOUBLE PRECISION NOT NULL,
                reasons_json TEXT NOT NULL,
                components_json TEXT NOT NULL,
                checks_json TEXT NOT NULL,
                claim_json TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS sessions_by_node ON sessions (node_id, finished_at)",
            """CREATE TABLE IF NOT EXISTS strikes (
                session_id TEXT PRIMARY KEY REFERENCES sessions(session_id),
                node_id TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL,
                reason TEXT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS strikes_by_node ON strikes (node_id, at)",
        )),
        Migration(2, "session status and verified capacity; rate-limit admissions", (
            "ALTER TABLE sessions ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'",
            "ALTER TABLE sessions ADD COLUMN capacity_json TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE nodes ADD COLUMN capacity_json TEXT NOT NULL DEFAULT '{}'",
            """CREATE TABLE IF NOT EXISTS session_starts (
                session_id TEXT PRIMARY KEY,
                node_id TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS session_starts_by_node ON session_starts (node_id, at)",
        )),
        Migration(3, "each session's ordinal in its node's history", (
            "ALTER TABLE sessions ADD COLUMN node_seq INTEGER NOT NULL DEFAULT 0",
            """UPDATE sessions SET node_seq = (
                SELECT COUNT(*) FROM sessions AS earlier WHERE earlier.node_id = sessions.node_id
                AND (earlier.finished_at < sessions.finished_at
                     OR (earlier.finished_at = sessions.finished_at AND earlier.session_id <= sessions.session_id)))""",
            "CREATE INDEX IF NOT EXISTS sessions_by_node_seq ON sessions (node_id, node_seq)",
        )),
    ),
)
SCHEMA_VERSION = SCHEMA.latest


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    node_id: str
    started_at: float
    finished_at: float
    score: float
    strike: bool
    smoothed_after: float
    reasons: tuple[str, ...]
    components: dict[str, float]
    checks: tuple[CheckResult, ...]
    claim: Claim
    status: str = "ok"
    capacity: dict[str, float] | None = None
    node_seq: int = 0  # ordinal in the node's history: 1 for its first recorded session

    def session_score(self) -> SessionScore:
        """The score this session was recorded with (replays of a history start from these)."""
        return SessionScore(score=self.score, strike=self.strike, reasons=self.reasons,
                            components=dict(self.components), status=self.status, capacity=dict(self.capacity or {}))


@dataclass(frozen=True)
class StrikeRecord:
    session_id: str
    node_id: str
    at: float
    reason: str


class IntegrityStore:
    """What the challenger writes and the validator reads, on the database `db` names (a URL or path, or an
    open `edge_sdk.storage.Database`, which then stays the caller's to close). Thread-safe."""

    def __init__(self, db: str | Path | Database, config: ScoringConfig | None = None, *,
                 must_exist: bool = False, sqlite_synchronous: str = "FULL") -> None:
        self.config = config or ScoringConfig()
        self._owns_db = not isinstance(db, Database)
        self.db = open_database(db, must_exist=must_exist, sqlite_synchronous=sqlite_synchronous) \
            if not isinstance(db, Database) else db
        try:
            migrate(self.db, SCHEMA)
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """Where the records live, password masked."""
        return self.db.url.display

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> IntegrityStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- writes

    def record_session(self, node_id: str, claim: Claim, session: SessionScore, checks: Sequence[CheckResult],
                       *, session_id: str | None = None, started_at: float | None = None,
                       finished_at: float | None = None) -> NodeScore:
        """Store one finished session and update the node's smoothed score and strikes, atomically."""
        if not node_id:
            raise ValueError("node_id must be a non-empty string")
        session_id = session_id or uuid.uuid4().hex
        finished = float(finished_at if finished_at is not None else time.time())
        started = float(started_at if started_at is not None else finished)
        with self.db.transaction() as tx:
            tx.lock(f"poai.node:{node_id}")
            if tx.one("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)):
                node = self._node(tx, node_id, finished)
                assert node is not None
                return node
            previous = self._node(tx, node_id, finished)
            strike_times = [r[0] for r in tx.all(
                "SELECT at FROM strikes WHERE node_id = ? AND at > ?",
                (node_id, finished - self.config.strike_window_s))]
            updated = update_history(node_id, previous, session, finished, strike_times, self.config)
            self._upsert_node(tx, node_id, claim, updated, session.capacity)
            self._insert_session(tx, session_id, node_id, claim, session, checks, started, finished, updated)
            if session.strike:
                self._insert_strike(tx, session_id, node_id, finished, "; ".join(session.reasons))
            return updated

    def _upsert_node(self, tx: Transaction, node_id: str, claim: Claim, node: NodeScore,
                     capacity: dict[str, float] | None) -> None:
        """The node row; its capacity is the last session's verified capacity (empty when that failed)."""
        tx.execute(
            """INSERT INTO nodes (node_id, claim_json, smoothed, last_score, sessions, strikes_total,
                                  first_seen, updated_at, capacity_json)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (node_id) DO UPDATE SET claim_json = excluded.claim_json,
                   smoothed = excluded.smoothed, last_score = excluded.last_score,
                   sessions = excluded.sessions, strikes_total = excluded.strikes_total,
                   updated_at = excluded.updated_at, capacity_json = excluded.capacity_json""",
            (node_id, json.dumps(claim.to_dict()), node.smoothed, node.last_score, node.sessions,
             node.strikes_total, node.updated_at, node.updated_at, json.dumps(capacity or {})),
        )

    def _insert_session(self, tx: Transaction, session_id: str, node_id: str, claim: Claim,
                        session: SessionScore, checks: Sequence[CheckResult], started: float, finished: float,
                        node: NodeScore) -> None:
        tx.execute(
            """INSERT INTO sessions (session_id, node_id, started_at, finished_at, score, strike,
                                     smoothed_after, reasons_json, components_json, checks_json, claim_json,
                                     status, capacity_json, node_seq)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (session_id, node_id, started, finished, session.score, int(session.strike), node.smoothed,
             json.dumps(list(session.reasons)), json.dumps(session.components),
             json.dumps([c.to_dict() for c in checks], allow_nan=True), json.dumps(claim.to_dict()),
             session.status, json.dumps(session.capacity), node.sessions),
        )

    def _insert_strike(self, tx: Transaction, session_id: str, node_id: str, at: float, reason: str) -> None:
        tx.execute("INSERT INTO strikes (session_id, node_id, at, reason) VALUES (?, ?, ?, ?)",
                   (session_id, node_id, at, reason))

    def admit_session(self, node_id: str, session_id: str, *, limit: int, window_s: float,
                      now: float | None = None) -> tuple[bool, int]:
        """Rate limit: admit `session_id` of `node_id` unless the node already started `limit` sessions in
        the last `window_s` seconds. Returns (admitted, sessions counted in the window). Check and insert
        are one write transaction under the node's lock, so challengers sharing the database cannot both
        admit the last slot."""
        now = time.time() if now is None else float(now)
        with self.db.transaction() as tx:
            tx.lock(f"poai.admit:{node_id}")
            tx.execute("DELETE FROM session_starts WHERE at < ?", (now - max(window_s, 86400.0),))
            count = int(tx.scalar("SELECT COUNT(*) FROM session_starts WHERE node_id = ? AND at > ?",
                                  (node_id, now - window_s)))
            if count >= limit:
                return False, count
            tx.execute("INSERT INTO session_starts (session_id, node_id, at) VALUES (?, ?, ?) "
                       "ON CONFLICT (session_id) DO NOTHING", (session_id, node_id, now))
            return True, count + 1

    # ----------------------------------------------------------------------------------- reads

    def _node(self, tx: Transaction, node_id: str, now: float) -> NodeScore | None:
        row = tx.one(
            "SELECT smoothed, last_score, sessions, strikes_total, updated_at FROM nodes WHERE node_id = ?",
            (node_id,))
        if row is None:
            return None
        recent = int(tx.scalar("SELECT COUNT(*) FROM strikes WHERE node_id = ? AND at > ?",
                               (node_id, now - self.config.strike_window_s)))
        return NodeScore(node_id=node_id, smoothed=float(row[0]), last_score=float(row[1]), sessions=int(row[2]),
                         strikes_total=int(row[3]), recent_strikes=recent,
                         banned=recent >= self.config.max_strikes, updated_at=float(row[4]))

    def get_score(self, node_id: str, now: float | None = None) -> NodeScore | None:
        """The node's record with strikes counted as of `now` (default: the current time)."""
        with self.db.read() as tx:
            return self._node(tx, node_id, time.time() if now is None else now)

    def list_scores(self, now: float | None = None) -> list[NodeScore]:
        now = time.time() if now is None else now
        with self.db.read() as tx:
            ids = [r[0] for r in tx.all("SELECT node_id FROM nodes ORDER BY node_id")]
            return [n for n in (self._node(tx, i, now) for i in ids) if n is not None]

    _SESSION_COLUMNS = """session_id, node_id, started_at, finished_at, score, strike, smoothed_after,
        reasons_json, components_json, checks_json, claim_json, status, capacity_json, node_seq"""

    def session_history(self, node_id: str, limit: int = 20) -> list[SessionRecord]:
        """The node's most recent sessions, newest first."""
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {self._SESSION_COLUMNS} FROM sessions WHERE node_id = ? "
                          "ORDER BY finished_at DESC, session_id DESC LIMIT ?", (node_id, int(limit)))
        return [self._session_record(r) for r in rows]

    def sessions_in_commit_order(self, node_id: str) -> list[SessionRecord]:
        """Every session of the node in the order they were recorded (node_seq 1, 2, ...)."""
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {self._SESSION_COLUMNS} FROM sessions WHERE node_id = ? ORDER BY node_seq",
                          (node_id,))
        return [self._session_record(r) for r in rows]

    def count_sessions(self) -> int:
        with self.db.read() as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM sessions"))

    @staticmethod
    def _session_record(r: Sequence[Any]) -> SessionRecord:
        return SessionRecord(
            session_id=r[0], node_id=r[1], started_at=float(r[2]), finished_at=float(r[3]), score=float(r[4]),
            strike=bool(r[5]), smoothed_after=float(r[6]), reasons=tuple(json.loads(r[7])),
            components=json.loads(r[8]), checks=tuple(CheckResult.from_dict(c) for c in json.loads(r[9])),
            claim=Claim.from_dict(json.loads(r[10])), status=r[11], capacity=json.loads(r[12]),
            node_seq=int(r[13]),
        )

    def capacity(self, node_id: str) -> dict[str, float]:
        """The node's latest verified capacity (empty when its last session proved nothing)."""
        with self.db.read() as tx:
            row = tx.one("SELECT capacity_json FROM nodes WHERE node_id = ?", (node_id,))
        return json.loads(row[0]) if row else {}

    def strikes(self, node_id: str, since: float | None = None) -> list[StrikeRecord]:
        sql = "SELECT session_id, node_id, at, reason FROM strikes WHERE node_id = ?"
        args: tuple[Any, ...] = (node_id,)
        if since is not None:
            sql += " AND at >= ?"
            args += (float(since),)
        with self.db.read() as tx:
            rows = tx.all(sql + " ORDER BY at", args)
        return [StrikeRecord(r[0], r[1], float(r[2]), r[3]) for r in rows]
