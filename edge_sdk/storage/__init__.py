"""One storage layer for every service: SQLite embedded by default, PostgreSQL for shared deployments.

A URL picks the engine, the same for every command that takes `--db`:

    poai.sqlite, ./state/x.db, sqlite:///abs/path.db     an SQLite file (created on first use)
    :memory:                                              a private in-memory SQLite database
    postgresql://user:password@host:5432/dbname           PostgreSQL (pooled connections, psycopg 3)

    db = open_database("poai.sqlite")
    migrate(db, MY_SCHEMA)                       # versioned SQL, per component, all-or-nothing
    with db.transaction() as tx:                 # one write transaction
        tx.lock(f"node:{node_id}")               # serialise writers of this key across processes
        row = tx.one("SELECT ... WHERE id = ?", (node_id,))

Statements use `?` placeholders and SQL both engines share (`INSERT ... ON CONFLICT`, DOUBLE PRECISION,
TEXT, INTEGER/BIGINT); everything engine-specific lives in this package.
"""

from edge_sdk.storage.database import Database, Transaction
from edge_sdk.storage.errors import StorageError
from edge_sdk.storage.migrations import Migration, Schema, migrate, schema_version
from edge_sdk.storage.open import open_database
from edge_sdk.storage.url import DatabaseURL, parse_url

__all__ = [
    "Database",
    "DatabaseURL",
    "Migration",
    "Schema",
    "StorageError",
    "Transaction",
    "migrate",
    "open_database",
    "parse_url",
    "schema_version",
]
