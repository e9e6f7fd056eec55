"""Persistent integrity records: nodes, sessions (with every check's result), strikes, smoothed scores.

How it is used: the challenger calls `record_session(...)` once per finished session; the validator reads
`get_score(node_id)` / `list_scores()` and `session_history(node_id, limit)` for reports.

    store = SQLiteIntegrityStore("poai.sqlite")
    node = store.record_session(node_id, claim, scoring.score_session(claim, results), results)
    store.get_score(node_id).effective

One write is one transaction (session row + strike row + node row), so a crash or `kill -9` at any point
leaves either the whole session recorded or none of it. SQLite runs in WAL mode with synchronous=FULL
(committed sessions survive power loss too). The SQL is plain (no SQLite-only functions; upserts use
`INSERT ... ON CONFLICT`, which PostgreSQL shares), and all of it lives in this module, so a PostgreSQL
implementation of `IntegrityStore` can reuse the statements with its own placeholders and connection.
Recording the same session_id twice is a no-op that returns the node's current score (safe retries).

Schema version 2 adds each session's status (ok / failed_check / incomplete / challenger_fault) and verified
capacity, the node's latest verified capacity, and `session_starts`, the per-node admission log behind the
rate limit (`admit_session`: a check-and-insert in one write transaction, so several challengers on one
database enforce one limit).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge_sdk.errors import EdgeProofError
from poai.challenges.common import CheckResult, Claim
from poai.scoring import NodeScore, ScoringConfig, SessionScore, update_history

__all__ = [
    "IntegrityStore",
    "SCHEMA_VERSION",
    "SQLiteIntegrityStore",
    "SessionRecord",
    "StoreError",
    "StrikeRecord",
]

SCHEMA_VERSION = 2

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS nodes (
        node_id TEXT PRIMARY KEY,
        claim_json TEXT NOT NULL,
        smoothed REAL NOT NULL,
        last_score REAL NOT NULL,
        sessions INTEGER NOT NULL,
        strikes_total INTEGER NOT NULL,
        first_seen REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        node_id TEXT NOT NULL REFERENCES nodes(node_id),
        started_at REAL NOT NULL,
        finished_at REAL NOT NULL,
        score REAL NOT NULL,
        strike INTEGER NOT NULL,
        smoothed_after REAL NOT NULL,
        reasons_json TEXT NOT NULL,
        components_json TEXT NOT NULL,
        checks_json TEXT NOT NULL,
        claim_json TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_by_node ON sessions (node_id, finished_at)",
    """CREATE TABLE IF NOT EXISTS strikes (
        session_id TEXT PRIMARY KEY REFERENCES sessions(session_id),
        node_id TEXT NOT NULL,
        at REAL NOT NULL,
        reason TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS strikes_by_node ON strikes (node_id, at)",
]

# version -> statements that bring a database of version-1 to it (run in the migration's transaction)
_MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE sessions ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'",
        "ALTER TABLE sessions ADD COLUMN capacity_json TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE nodes ADD COLUMN capacity_json TEXT NOT NULL DEFAULT '{}'",
        """CREATE TABLE IF NOT EXISTS session_starts (
            session_id TEXT PRIMARY KEY,
            node_id TEXT NOT NULL,
            at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS session_starts_by_node ON session_starts (node_id, at)",
    ],
}


class StoreError(EdgeProofError):
    """The integrity database cannot be used as it is (newer schema, unreadable file)."""


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


@dataclass(frozen=True)
class StrikeRecord:
    session_id: str
    node_id: str
    at: float
    reason: str


class IntegrityStore(Protocol):
    """What the challenger writes and the validator reads. Implementations must make `record_session`
    atomic and idempotent per session_id."""

    def record_session(self, node_id: str, claim: Claim, session: SessionScore, checks: Sequence[CheckResult],
                       *, session_id: str | None = None, started_at: float | None = None,
                       finished_at: float | None = None) -> NodeScore: ...

    def get_score(self, node_id: str, now: float | None = None) -> NodeScore | None: ...

    def list_scores(self, now: float | None = None) -> list[NodeScore]: ...

    def session_history(self, node_id: str, limit: int = 20) -> list[SessionRecord]: ...

    def strikes(self, node_id: str, since: float | None = None) -> list[StrikeRecord]: ...

    def close(self) -> None: ...


class SQLiteIntegrityStore:
    """`IntegrityStore` on one SQLite file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path, config: ScoringConfig | None = None, *,
                 synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.config = config or ScoringConfig()
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
                raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
            self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the integrity database {self.path}: {exc}. "
                             "Move the file away to start a new one.") from exc

    # ------------------------------------------------------------------------------- plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock before reading, so read-modify-write
        of a node row cannot interleave with another process."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as cur:
            for stmt in _SCHEMA:
                cur.execute(stmt)
            row = cur.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                cur.execute("INSERT INTO schema_version (version) VALUES (?)", (1,))
                version = 1
            else:
                version = int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {version}, this edgeproof understands up to "
                                 f"{SCHEMA_VERSION}: upgrade edgeproof or use another database file")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in _MIGRATIONS[target]:
                    cur.execute(stmt)
                cur.execute("UPDATE schema_version SET version = ?", (target,))

    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT version FROM schema_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteIntegrityStore:
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
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)).fetchone():
                node = self._node(cur, node_id, finished)
                assert node is not None
                return node
            previous = self._node(cur, node_id, finished)
            strike_times = [r[0] for r in cur.execute(
                "SELECT at FROM strikes WHERE node_id = ? AND at > ?",
                (node_id, finished - self.config.strike_window_s))]
            updated = update_history(node_id, previous, session, finished, strike_times, self.config)
            self._upsert_node(cur, node_id, claim, updated, session.capacity)
            self._insert_session(cur, session_id, node_id, claim, session, checks, started, finished,
                                 updated.smoothed)
            if session.strike:
                self._insert_strike(cur, session_id, node_id, finished, "; ".join(session.reasons))
            return updated

    def _upsert_node(self, cur: sqlite3.Cursor, node_id: str, claim: Claim, node: NodeScore,
                     capacity: dict[str, float] | None) -> None:
        """The node row; its capacity is the last session's verified capacity (empty when that failed)."""
        cur.execute(
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

    def _insert_session(self, cur: sqlite3.Cursor, session_id: str, node_id: str, claim: Claim,
                        session: SessionScore, checks: Sequence[CheckResult], started: float, finished: float,
                        smoothed_after: float) -> None:
        cur.execute(
            """INSERT INTO sessions (session_id, node_id, started_at, finished_at, score, strike,
                                     smoothed_after, reasons_json, components_json, checks_json, claim_json,
                                     status, capacity_json)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (session_id, node_id, started, finished, session.score, int(session.strike), smoothed_after,
             json.dumps(list(session.reasons)), json.dumps(session.components),
             json.dumps([c.to_dict() for c in checks], allow_nan=True), json.dumps(claim.to_dict()),
             session.status, json.dumps(session.capacity)),
        )

    def _insert_strike(self, cur: sqlite3.Cursor, session_id: str, node_id: str, at: float,
                       reason: str) -> None:
        cur.execute("INSERT INTO strikes (session_id, node_id, at, reason) VALUES (?, ?, ?, ?)",
                    (session_id, node_id, at, reason))

    def admit_session(self, node_id: str, session_id: str, *, limit: int, window_s: float,
                      now: float | None = None) -> tuple[bool, int]:
        """Rate limit: admit `session_id` of `node_id` unless the node already started `limit` sessions in
        the last `window_s` seconds. Returns (admitted, sessions counted in the window). Check and insert
        are one write transaction, so challengers sharing the database cannot both admit the last slot."""
        now = time.time() if now is None else float(now)
        with self._tx() as cur:
            cur.execute("DELETE FROM session_starts WHERE at < ?", (now - max(window_s, 86400.0),))
            count = int(cur.execute("SELECT COUNT(*) FROM session_starts WHERE node_id = ? AND at > ?",
                                    (node_id, now - window_s)).fetchone()[0])
            if count >= limit:
                return False, count
            cur.execute("INSERT INTO session_starts (session_id, node_id, at) VALUES (?, ?, ?) "
                        "ON CONFLICT (session_id) DO NOTHING", (session_id, node_id, now))
            return True, count + 1

    # ----------------------------------------------------------------------------------- reads

    def _node(self, cur: sqlite3.Cursor, node_id: str, now: float) -> NodeScore | None:
        row = cur.execute(
            "SELECT smoothed, last_score, sessions, strikes_total, updated_at FROM nodes WHERE node_id = ?",
            (node_id,)).fetchone()
        if row is None:
            return None
        recent = cur.execute("SELECT COUNT(*) FROM strikes WHERE node_id = ? AND at > ?",
                             (node_id, now - self.config.strike_window_s)).fetchone()[0]
        return NodeScore(node_id=node_id, smoothed=row[0], last_score=row[1], sessions=row[2],
                         strikes_total=row[3], recent_strikes=int(recent),
                         banned=int(recent) >= self.config.max_strikes, updated_at=row[4])

    def get_score(self, node_id: str, now: float | None = None) -> NodeScore | None:
        """The node's record with strikes counted as of `now` (default: the current time)."""
        with self._lock:
            return self._node(self._conn.cursor(), node_id, time.time() if now is None else now)

    def list_scores(self, now: float | None = None) -> list[NodeScore]:
        now = time.time() if now is None else now
        with self._lock:
            cur = self._conn.cursor()
            ids = [r[0] for r in cur.execute("SELECT node_id FROM nodes ORDER BY node_id")]
            return [n for n in (self._node(cur, i, now) for i in ids) if n is not None]

    def session_history(self, node_id: str, limit: int = 20) -> list[SessionRecord]:
        """The node's most recent sessions, newest first."""
        with self._lock:
            rows = self._conn.execute(
                """SELECT session_id, node_id, started_at, finished_at, score, strike, smoothed_after,
                          reasons_json, components_json, checks_json, claim_json, status, capacity_json
                   FROM sessions WHERE node_id = ? ORDER BY finished_at DESC, session_id DESC LIMIT ?""",
                (node_id, int(limit))).fetchall()
        return [self._session_record(r) for r in rows]

    @staticmethod
    def _session_record(r: Sequence[Any]) -> SessionRecord:
        return SessionRecord(
            session_id=r[0], node_id=r[1], started_at=r[2], finished_at=r[3], score=r[4], strike=bool(r[5]),
            smoothed_after=r[6], reasons=tuple(json.loads(r[7])), components=json.loads(r[8]),
            checks=tuple(CheckResult.from_dict(c) for c in json.loads(r[9])),
            claim=Claim.from_dict(json.loads(r[10])), status=r[11], capacity=json.loads(r[12]),
        )

    def capacity(self, node_id: str) -> dict[str, float]:
        """The node's latest verified capacity (empty when its last session proved nothing)."""
        with self._lock:
            row = self._conn.execute("SELECT capacity_json FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def strikes(self, node_id: str, since: float | None = None) -> list[StrikeRecord]:
        sql = "SELECT session_id, node_id, at, reason FROM strikes WHERE node_id = ?"
        args: tuple[Any, ...] = (node_id,)
        if since is not None:
            sql += " AND at >= ?"
            args += (float(since),)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY at", args).fetchall()
        return [StrikeRecord(*r) for r in rows]
