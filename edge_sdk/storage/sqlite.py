"""The embedded engine: one SQLite file in WAL mode, one connection behind a lock per process.

Write transactions start with BEGIN IMMEDIATE, which takes the database's write lock before the first read,
so a read-modify-write cannot interleave with another process (that is what `Transaction.lock` means here).
synchronous=FULL makes a committed transaction survive power loss; a killed process leaves the last
transaction rolled back by the journal.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge_sdk.storage.database import Database, Params, Row, Transaction
from edge_sdk.storage.errors import StorageError
from edge_sdk.storage.url import DatabaseURL

SYNCHRONOUS_MODES = ("FULL", "NORMAL", "EXTRA")


class SQLiteTransaction(Transaction):
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cur = cursor

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._cur.execute(sql, tuple(params)).rowcount

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(r) for r in self._cur.execute(sql, tuple(params)).fetchall()]

    def lock(self, key: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already holds the database's single write lock."""

    def table_exists(self, name: str) -> bool:
        return self.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None


class SQLiteDatabase(Database):
    """An SQLite file (created with its folder on first use) or a private `:memory:` database."""

    def __init__(self, url: DatabaseURL, *, synchronous: str = "FULL", busy_timeout_s: float = 30.0) -> None:
        self.url = url
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self._lock = threading.RLock()
        self._closed = False
        path = url.target
        if not url.is_memory:
            p = Path(path)
            if p.is_dir():
                raise StorageError(f"{path} is a folder, not an SQLite file: give a file path for --db")
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
            self._setup(synchronous.upper(), busy_timeout_s)
        except sqlite3.OperationalError as exc:
            raise StorageError(f"cannot open the SQLite database {path}: {exc} (another process kept it locked "
                               f"for more than {busy_timeout_s:.0f} s, or the folder is read-only)") from exc
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open the SQLite database {path}: {exc}. If this file is not a "
                               "database, point --db at another path (nothing was changed in it).") from exc

    def _setup(self, synchronous: str, busy_timeout_s: float) -> None:
        """WAL, durability and foreign keys. Switching a new file to WAL (and a connection's first look at
        the WAL index) can meet a lock that SQLite's busy handler does not wait for, so processes opening
        one new file at once retry here until the busy timeout."""
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(f"PRAGMA synchronous={synchronous}")
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # reads the header
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTransaction]:
        with self._lock, self._begin("BEGIN IMMEDIATE") as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[SQLiteTransaction]:
        with self._lock, self._begin("BEGIN") as tx:  # deferred: a snapshot from the first read on
            yield tx

    @contextmanager
    def _begin(self, statement: str) -> Iterator[SQLiteTransaction]:
        if self._closed:
            raise StorageError(f"the database {self.url} is closed")
        cur = self._conn.cursor()
        try:
            cur.execute(statement)
        except sqlite3.OperationalError as exc:
            raise StorageError(f"cannot start a transaction on {self.url}: {exc} (another process holds the "
                               "write lock for too long, or the disk is read-only)") from exc
        try:
            yield SQLiteTransaction(cur)
        except BaseException:
            if self._conn.in_transaction:
                cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
