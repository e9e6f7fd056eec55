"""The storage layer (edge_sdk.storage) on both engines: URLs, clear errors for bad databases, versioned
migrations that are all-or-nothing, and the per-key lock that keeps concurrent read-modify-writes whole."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_sdk.storage import Migration, Schema, StorageError, migrate, open_database, parse_url, schema_version
from edge_sdk.storage.url import mask_password

ROOT = Path(__file__).resolve().parents[1]

COUNTER = Schema("test_counter", (
    Migration(1, "counters", ("CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",)),
))


# ----------------------------------------------------------------------------------------------- URLs

@pytest.mark.parametrize("value, dialect, target", [
    ("poai.sqlite", "sqlite", "poai.sqlite"),
    ("/var/lib/x.db", "sqlite", "/var/lib/x.db"),
    ("sqlite:///rel/x.db", "sqlite", "rel/x.db"),
    ("sqlite:////abs/x.db", "sqlite", "/abs/x.db"),
    (":memory:", "sqlite", ":memory:"),
    ("sqlite://", "sqlite", ":memory:"),
    ("postgresql://u@db.example:5432/poai", "postgresql", "postgresql://u@db.example:5432/poai"),
    ("postgres://u@h/poai", "postgresql", "postgres://u@h/poai"),
])
def test_url_picks_the_engine(value: str, dialect: str, target: str) -> None:
    url = parse_url(value)
    assert (url.dialect, url.target) == (dialect, target)


def test_passwords_are_masked_wherever_they_are() -> None:
    assert mask_password("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert "s3cret" not in mask_password("postgresql://u@h/db?password=s3cret&sslmode=require")
    assert "sslmode=require" in mask_password("postgresql://u@h/db?password=s3cret&sslmode=require")
    assert str(parse_url("postgresql://u:s3cret@h/db")) == "postgresql://u:***@h/db"


@pytest.mark.parametrize("value, message", [
    ("mysql://u@h/db", "unsupported database URL scheme 'mysql'"),
    ("postgresql://u:pw@h:5432/", "names no database"),
    ("postgresql:///db", "names no host"),
    ("", "empty database URL"),
])
def test_bad_urls_say_what_to_write(value: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as err:
        parse_url(value)
    assert ":pw@" not in str(err.value)


# ------------------------------------------------------------------------------------- bad databases

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_is_named_with_its_password_masked() -> None:
    url = f"postgresql://edgeproof:hunter2@127.0.0.1:{_free_port()}/poai"
    with pytest.raises(StorageError, match="no PostgreSQL server answers") as err:
        open_database(url)
    assert "hunter2" not in str(err.value) and "edgeproof:***@127.0.0.1" in str(err.value)


def test_wrong_password_and_missing_database_are_told_apart(postgres_cluster) -> None:
    with pytest.raises(StorageError, match="user name or password is wrong") as err:
        open_database(postgres_cluster.url("postgres", password="not-the-password"))
    assert "not-the-password" not in str(err.value)
    with pytest.raises(StorageError, match="does not exist"):
        open_database(postgres_cluster.url("no_such_database"))


def test_sqlite_missing_file_with_must_exist_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no database at"):
        open_database(tmp_path / "none.sqlite", must_exist=True)
    assert not (tmp_path / "none.sqlite").exists()
    with pytest.raises(StorageError, match="is a folder"):
        open_database(tmp_path)


# --------------------------------------------------------------------------------------- migrations

def test_migrations_run_once_and_components_share_a_database(db_url: str) -> None:
    other = Schema("test_other", (Migration(1, "t", ("CREATE TABLE other_things (id TEXT PRIMARY KEY)",)),))
    with open_database(db_url) as db:
        assert schema_version(db, "test_counter") is None
        assert migrate(db, COUNTER) == 1 and migrate(db, COUNTER) == 1  # the second is a no-op
        assert migrate(db, other) == 1
        assert schema_version(db, "test_counter") == 1 and schema_version(db, "test_other") == 1


def test_a_failing_migration_leaves_the_previous_version_whole(db_url: str) -> None:
    broken = Schema("test_counter", COUNTER.migrations + (
        Migration(2, "half", ("CREATE TABLE half_done (x INTEGER)", "ALTER TABLE no_such_table ADD COLUMN y TEXT")),
    ))
    with open_database(db_url) as db:
        migrate(db, COUNTER)
        with db.transaction() as tx:
            tx.execute("INSERT INTO counters (name, value) VALUES (?, ?)", ("kept", 7))
        with pytest.raises(Exception):  # noqa: B017 - each engine raises its own error type
            migrate(db, broken)
        assert schema_version(db, "test_counter") == 1
        with db.read() as tx:
            assert not tx.table_exists("half_done")  # DDL rolled back with the version
            assert tx.scalar("SELECT value FROM counters WHERE name = ?", ("kept",)) == 7


def test_a_newer_schema_is_refused_with_what_to_do(db_url: str) -> None:
    with open_database(db_url) as db:
        migrate(db, COUNTER)
        with db.transaction() as tx:
            tx.execute("UPDATE edgeproof_schema SET version = 5 WHERE component = 'test_counter'")
        with pytest.raises(StorageError, match="version 5, newer than the 1 .* upgrade edgeproof"):
            migrate(db, COUNTER)


def test_migrations_must_be_numbered_in_order() -> None:
    with pytest.raises(ValueError, match="numbered 1..N"):
        Schema("x", (Migration(2, "skip", ()),))


def test_an_exception_rolls_the_transaction_back(db_url: str) -> None:
    with open_database(db_url) as db:
        migrate(db, COUNTER)
        with pytest.raises(RuntimeError), db.transaction() as tx:
            tx.execute("INSERT INTO counters (name, value) VALUES (?, ?)", ("gone", 1))
            raise RuntimeError("boom")
        with db.read() as tx:
            assert tx.scalar("SELECT COUNT(*) FROM counters") == 0


# ------------------------------------------------------------------------------------------ the lock

INCREMENTER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from edge_sdk.storage import open_database

    with open_database(sys.argv[1]) as db:
        for _ in range(int(sys.argv[2])):
            with db.transaction() as tx:
                tx.lock("counter:c")
                value = tx.scalar("SELECT value FROM counters WHERE name = 'c'")
                tx.execute("UPDATE counters SET value = ? WHERE name = 'c'", (value + 1,))
""")


def test_locked_read_modify_write_loses_no_update_across_processes(db_url: str, tmp_path: Path) -> None:
    """Three processes increment one counter 60 times each by read-then-write: every increment lands."""
    with open_database(db_url) as db:
        migrate(db, COUNTER)
        with db.transaction() as tx:
            tx.execute("INSERT INTO counters (name, value) VALUES ('c', 0)")
    script = tmp_path / "inc.py"
    script.write_text(INCREMENTER.format(root=str(ROOT)))
    procs = [subprocess.Popen([sys.executable, str(script), db_url, "60"]) for _ in range(3)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    with open_database(db_url) as db, db.read() as tx:
        assert tx.scalar("SELECT value FROM counters WHERE name = 'c'") == 180


OPENER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from edge_sdk.storage import migrate, open_database
    from edge_sdk.storage.migrations import Migration, Schema

    schema = Schema("test_counter", (Migration(1, "counters", (
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",)),))
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    time.sleep(float(sys.argv[3]))
    with open_database(sys.argv[1]) as db:
        version = migrate(db, schema)
        for i in range(40):  # write while the others are still opening
            with db.transaction() as tx:
                tx.execute("INSERT INTO counters (name, value) VALUES (?, ?)", (f"{{sys.argv[3]}}-{{i}}", i))
        print(version)
""")


def test_processes_opening_a_new_database_at_once_all_succeed(db_url: str, tmp_path: Path) -> None:
    """Six challengers started together on one new database, a few ms apart, each writing as soon as it is
    open while the next ones open: each opens it, the schema is created once, every write lands."""
    script, go = tmp_path / "open.py", tmp_path / "go"
    script.write_text(OPENER.format(root=str(ROOT)))
    procs = [subprocess.Popen([sys.executable, str(script), db_url, str(go), f"{0.004 * i:.3f}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(6)]
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err[-500:] for _, err in outs]
    assert [out.strip() for out, _ in outs] == ["1"] * 6
    with open_database(db_url) as db, db.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM edgeproof_schema WHERE component = 'test_counter'") == 1
        assert tx.scalar("SELECT COUNT(*) FROM counters") == 6 * 40
