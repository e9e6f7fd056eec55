"""What every engine provides: transactions, a cross-process lock on a key, and shared-SQL statements.

Callers write one SQL text with `?` placeholders; each engine adapts the placeholders and runs it. A write
transaction is all-or-nothing on both engines: leaving the `with` block by an exception (or the process
dying) rolls it back, so a record is stored whole or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from edge_sdk.storage.url import DatabaseURL

Params = Sequence[Any]
Row = tuple[Any, ...]


class Transaction(ABC):
    """One open transaction. Rows come back as tuples in the order of the SELECT list."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the number of rows it changed (-1 when the engine does not say)."""

    @abstractmethod
    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.one(sql, params)
        return None if row is None else row[0]

    @abstractmethod
    def lock(self, key: str) -> None:
        """Hold an exclusive lock on `key` until this transaction ends, across every process using the
        database: the guard around a read-modify-write (SQLite's write transactions already hold the whole
        database; PostgreSQL takes a transaction-scoped advisory lock)."""

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether a table of this name exists (for migrations from layouts older than this layer)."""


class Database(ABC):
    """An open database: a pool of connections (PostgreSQL) or one guarded connection (SQLite)."""

    url: DatabaseURL

    @property
    def dialect(self) -> str:
        return self.url.dialect

    @abstractmethod
    def transaction(self) -> Any:
        """`with db.transaction() as tx:` one write transaction, committed when the block ends normally."""

    @abstractmethod
    def read(self) -> Any:
        """`with db.read() as tx:` a read-only transaction that sees one consistent snapshot."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Safe to call twice."""

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.display!r})"

