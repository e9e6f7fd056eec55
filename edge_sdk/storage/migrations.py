"""Versioned SQL migrations, one numbered list per component, applied all-or-nothing.

Each component (the PoAI integrity store, the federation coordinator, the validator) owns a `Schema`: a name
and migrations 1..N. Their versions live in one table, `edgeproof_schema (component, version)`, so several
components can share a database. `migrate(db, schema)` runs, in one write transaction under a lock on the
component (two processes starting at once do not both migrate), every migration above the stored version,
and refuses a database whose version is newer than this code knows. DDL is transactional on both engines:
a migration that fails (or a process killed during one) leaves the previous version intact.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.storage.database import Database, Transaction
from edge_sdk.storage.errors import StorageError

VERSION_TABLE = "edgeproof_schema"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class Schema:
    """`legacy_version_table`: a single-row `(version)` table that held this component's version before
    this layer existed; it is read once and then kept in step, so older releases still refuse newer files."""

    component: str
    migrations: tuple[Migration, ...]
    legacy_version_table: str | None = None

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"{self.component}: migrations must be numbered 1..N in order, got {versions}")

    @property
    def latest(self) -> int:
        return len(self.migrations)


def _ensure_version_table(tx: Transaction) -> None:
    tx.lock(f"{VERSION_TABLE}:create")  # PostgreSQL: concurrent CREATE IF NOT EXISTS can still collide
    tx.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")


def _stored_version(tx: Transaction, schema: Schema) -> int | None:
    row = tx.one(f"SELECT version FROM {VERSION_TABLE} WHERE component = ?", (schema.component,))
    if row is not None:
        return int(row[0])
    legacy = schema.legacy_version_table
    if legacy and tx.table_exists(legacy):
        value = tx.scalar(f"SELECT version FROM {legacy}")
        return None if value is None else int(value)
    return None


def schema_version(db: Database, component: str) -> int | None:
    """The component's stored schema version (None: never migrated here)."""
    with db.read() as tx:
        if not tx.table_exists(VERSION_TABLE):
            return None
        row = tx.one(f"SELECT version FROM {VERSION_TABLE} WHERE component = ?", (component,))
    return None if row is None else int(row[0])


def migrate(db: Database, schema: Schema) -> int:
    """Bring `schema` in `db` to its latest version; returns that version."""
    with db.transaction() as tx:
        _ensure_version_table(tx)
        tx.lock(f"{VERSION_TABLE}:{schema.component}")
        current = _stored_version(tx, schema) or 0
        if current > schema.latest:
            raise StorageError(
                f"{db.url} holds {schema.component} schema version {current}, newer than the {schema.latest} "
                "this edgeproof understands: upgrade edgeproof, or point --db at another database")
        for migration in schema.migrations[current:]:
            for statement in migration.statements:
                tx.execute(statement)
        if current != schema.latest or tx.one(f"SELECT 1 FROM {VERSION_TABLE} WHERE component = ?",
                                              (schema.component,)) is None:
            tx.execute(f"INSERT INTO {VERSION_TABLE} (component, version) VALUES (?, ?) "
                       "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                       (schema.component, schema.latest))
            legacy = schema.legacy_version_table
            if legacy and tx.table_exists(legacy):
                tx.execute(f"UPDATE {legacy} SET version = ?", (schema.latest,))
    return schema.latest
