"""The shared engine: PostgreSQL through a psycopg 3 connection pool, for deployments of several processes.

Every transaction borrows a pooled connection (checked before use, so a server restart costs one reconnect,
not an error). Writes run at READ COMMITTED; `Transaction.lock(key)` takes a transaction-scoped advisory
lock, the guard that makes a read-modify-write of one key safe when several processes write at once. Reads
run at REPEATABLE READ, READ ONLY: several queries see one snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from edge_sdk.storage.database import Database, Params, Row, Transaction
from edge_sdk.storage.errors import StorageError
from edge_sdk.storage.url import DatabaseURL


def _psycopg() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise StorageError("PostgreSQL needs psycopg 3 with its pool: pip install 'edgeproof[postgres]' "
                           "(or use an SQLite file for --db)") from exc
    return psycopg, psycopg_pool


def lock_id(key: str) -> int:
    """A stable signed 64-bit advisory-lock id for `key` (the same in every process and release)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def _adapt(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (shared statements contain no literal ? or %)."""
    if "%" in sql:
        raise ValueError("shared SQL must not contain '%' (write it as a parameter)")
    return sql.replace("?", "%s")


def explain_connect_error(url: DatabaseURL, exc: Exception) -> StorageError:
    """A clear message for a failed connection: which URL (password masked) and what to check."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = str(exc).lower()
    if "password authentication failed" in low or "no password supplied" in low or "authentication" in low:
        hint = "the user name or password is wrong: fix them in the URL (or in ~/.pgpass / PGPASSWORD)"
    elif "does not exist" in low and "database" in low:
        hint = "the database does not exist: create it (createdb NAME) or name an existing one in the URL"
    elif "connection refused" in low or "could not connect" in low or "timeout" in low or "no route" in low:
        hint = "no PostgreSQL server answers there: start it, or fix the host and port in the URL"
    else:
        hint = "check the URL, the server and its pg_hba.conf"
    return StorageError(f"cannot connect to the database {url}: {text}. {hint}.")


class PostgresTransaction(Transaction):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return int(self._conn.execute(_adapt(sql), tuple(params)).rowcount)

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self._conn.execute(_adapt(sql), tuple(params))
        return [tuple(r) for r in cur.fetchall()] if cur.description is not None else []

    def lock(self, key: str) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_id(key),))

    def table_exists(self, name: str) -> bool:
        return self.scalar("SELECT to_regclass(?) IS NOT NULL", (name,)) is True


class PostgresDatabase(Database):
    """A pool of `min_size`..`max_size` connections to one PostgreSQL database."""

    def __init__(self, url: DatabaseURL, *, min_size: int = 1, max_size: int = 4,
                 connect_timeout_s: float = 10.0, acquire_timeout_s: float = 30.0) -> None:
        psycopg, psycopg_pool = _psycopg()
        self.url = url
        self._closed = False
        # One direct connection first: its error says what is wrong (refused, bad password, no database);
        # a pool would only time out.
        try:
            psycopg.connect(url.target, connect_timeout=max(1, int(connect_timeout_s)),
                            autocommit=True).close()
        except psycopg.Error as exc:
            raise explain_connect_error(url, exc) from None
        self._pool = psycopg_pool.ConnectionPool(
            url.target, min_size=min_size, max_size=max(min_size, max_size), open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout_s))},
            check=psycopg_pool.ConnectionPool.check_connection, timeout=acquire_timeout_s,
            name="edgeproof",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except psycopg_pool.PoolTimeout as exc:
            self._pool.close()
            raise explain_connect_error(url, exc) from None
        self._errors = psycopg.Error

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._connection() as conn, conn.transaction():
            yield PostgresTransaction(conn)

    @contextmanager
    def read(self) -> Iterator[PostgresTransaction]:
        with self._connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PostgresTransaction(conn)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._closed:
            raise StorageError(f"the database {self.url} is closed")
        try:
            cm = self._pool.connection()
            conn = cm.__enter__()
        except Exception as exc:  # noqa: BLE001 - PoolTimeout or OperationalError: the server went away
            raise explain_connect_error(self.url, exc) from None
        try:
            yield conn
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            cm.__exit__(None, None, None)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.close()
