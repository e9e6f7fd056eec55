"""`open_database(url)`: the one entry point that turns a `--db` value into an open engine."""

from __future__ import annotations

from pathlib import Path

from edge_sdk.storage.database import Database
from edge_sdk.storage.url import DatabaseURL, parse_url


def open_database(url: str | Path | DatabaseURL, *, must_exist: bool = False, sqlite_synchronous: str = "FULL",
                  pool_size: int = 4) -> Database:
    """Open the database `url` names (see the package docstring for the forms). `must_exist`: refuse an
    SQLite path with no file behind it instead of creating one (readers such as reports). Raises
    StorageError with the URL (password masked) and what to do when it cannot be used."""
    from edge_sdk.storage.errors import StorageError

    parsed = url if isinstance(url, DatabaseURL) else parse_url(url)
    if parsed.dialect == "sqlite":
        from edge_sdk.storage.sqlite import SQLiteDatabase

        if must_exist and not parsed.is_memory and not Path(parsed.target).is_file():
            raise StorageError(f"no database at {parsed.target}: check the path (--db)")
        return SQLiteDatabase(parsed, synchronous=sqlite_synchronous)
    from edge_sdk.storage.postgres import PostgresDatabase

    return PostgresDatabase(parsed, max_size=pool_size)
