"""Database URLs: which engine, where, and a form safe to print (password masked)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from edge_sdk.storage.errors import StorageError

Dialect = Literal["sqlite", "postgresql"]
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed `--db` value. `target` is the SQLite path (or ":memory:") or the libpq connection URL."""

    dialect: Dialect
    target: str
    display: str  # for messages and logs: the password replaced by ***

    @property
    def is_memory(self) -> bool:
        return self.dialect == "sqlite" and self.target == ":memory:"

    def __str__(self) -> str:
        return self.display


def mask_password(url: str) -> str:
    """`url` with any password (user:PASSWORD@ or ?password=...) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = urlencode([(k, "***" if k.lower() == "password" else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_url(value: str | Path) -> DatabaseURL:
    """Parse a `--db` value: a path (SQLite), `sqlite:///path`, `:memory:` or `postgresql://...`."""
    text = str(value).strip()
    if not text:
        raise StorageError("empty database URL: give an SQLite file (poai.sqlite) or postgresql://user@host/db")
    match = _SCHEME.match(text)
    if match is None:
        if text == ":memory:":
            return DatabaseURL("sqlite", ":memory:", ":memory:")
        path = str(Path(text).expanduser())
        return DatabaseURL("sqlite", path, path)
    scheme = match.group(1).lower()
    if scheme == "sqlite":
        rest = text[len("sqlite://"):]
        if rest in ("", "/", "/:memory:"):
            return DatabaseURL("sqlite", ":memory:", ":memory:")
        if not rest.startswith("/"):
            raise StorageError(f"bad SQLite URL {text!r}: write sqlite:///relative.db or sqlite:////abs/path.db, "
                               "or just the file path")
        path = str(Path(rest[1:]).expanduser())
        return DatabaseURL("sqlite", path, path)
    if scheme in _POSTGRES_SCHEMES:
        parts = urlsplit(text)
        if not parts.hostname and "host=" not in parts.query:
            raise StorageError(f"PostgreSQL URL {mask_password(text)!r} names no host: "
                               "use postgresql://user:password@host:5432/dbname")
        if not parts.path.strip("/"):
            raise StorageError(f"PostgreSQL URL {mask_password(text)!r} names no database: "
                               "add it after the host, e.g. postgresql://user@host:5432/edgeproof")
        return DatabaseURL("postgresql", text, mask_password(text))
    raise StorageError(f"unsupported database URL scheme {scheme!r} in {mask_password(text)!r}: "
                       "use an SQLite file path, sqlite:///path or postgresql://user@host/dbname")
