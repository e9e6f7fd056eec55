"""The integrity store on both engines (SQLite file, real PostgreSQL): records, reads, restarts, schema versions,
and crash safety (os._exit / SIGKILL mid-write). Each test taking `db_url` runs once per engine."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from poai.challenges.common import CheckResult, Claim
from poai.scoring import ScoringConfig, score_session
from edge_sdk.storage import StorageError, open_database, schema_version
from poai.store import SCHEMA_VERSION, IntegrityStore

ROOT = Path(__file__).resolve().parents[1]
CLAIM = Claim(device_kind="cpu", memory_bytes=1 << 30, tflops=0.05)


def results(ok: bool = True) -> list[CheckResult]:
    return [
        CheckResult("compute", ok, "ok" if ok else "tile mismatch", {"matmul_tops": 0.05, "node_seconds": 0.4},
                    0.01),
        CheckResult("memory", True, "ok", {"memory_bytes": 64.0 * 2**20}, 0.02),
    ]


def record(store, node="n1", ok=True, t=1000.0, sid=None):
    res = results(ok)
    return store.record_session(node, CLAIM, score_session(CLAIM, res), res, session_id=sid, finished_at=t)


def test_record_read_and_restart(db_url: str) -> None:
    db = db_url
    with IntegrityStore(db) as store:
        assert schema_version(store.db, "poai") == SCHEMA_VERSION
        record(store, t=1000.0, sid="s1")
        record(store, t=1001.0, sid="s2")
        node = record(store, ok=False, t=1002.0, sid="s3")
        assert node.sessions == 3 and node.strikes_total == 1 and node.last_score == 0.0
        record(store, node="n2", t=1003.0)
    with IntegrityStore(db) as store:  # a restart loses nothing
        n1 = store.get_score("n1", now=1010.0)
        assert n1 is not None and n1.sessions == 3 and n1.recent_strikes == 1
        assert [s.node_id for s in store.list_scores(now=1010.0)] == ["n1", "n2"]
        hist = store.session_history("n1", limit=2)
        assert [h.session_id for h in hist] == ["s3", "s2"]
        assert hist[0].strike and hist[0].checks[0].reason == "tile mismatch"
        assert hist[0].claim == CLAIM and hist[1].smoothed_after > 0
        assert [s.session_id for s in store.strikes("n1")] == ["s3"]
        assert store.strikes("n1", since=1005.0) == []
        assert store.get_score("nobody") is None


def test_same_session_twice_is_idempotent(db_url: str) -> None:
    with IntegrityStore(db_url) as store:
        a = record(store, sid="dup", ok=False)
        b = record(store, sid="dup", ok=False)
        assert a.sessions == b.sessions == 1 and b.strikes_total == 1


def test_strikes_expire_at_read_time(db_url: str) -> None:
    cfg = ScoringConfig(max_strikes=2, strike_window_s=100.0)
    with IntegrityStore(db_url, cfg) as store:
        record(store, ok=False, t=0.0)
        record(store, ok=False, t=1.0)
        assert store.get_score("n1", now=2.0).banned
        later = store.get_score("n1", now=500.0)
        assert not later.banned and later.recent_strikes == 0


def test_newer_schema_is_refused_and_left_untouched(db_url: str) -> None:
    with IntegrityStore(db_url) as store:
        record(store, sid="kept")
        with store.db.transaction() as tx:
            tx.execute("UPDATE edgeproof_schema SET version = ? WHERE component = 'poai'", (SCHEMA_VERSION + 1,))
    with pytest.raises(StorageError, match="upgrade edgeproof") as err:
        IntegrityStore(db_url)
    assert "***" in str(err.value) or "postgresql" not in db_url  # the URL is named, its password masked
    with open_database(db_url) as db, db.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM sessions") == 1  # nothing lost


def test_sqlite_file_that_is_not_a_database_is_refused_unchanged(tmp_path: Path) -> None:
    bad = tmp_path / "junk.sqlite"
    content = b"this is not a database" * 100
    bad.write_bytes(content)
    with pytest.raises(StorageError, match="junk.sqlite.*not a database|not a database.*junk.sqlite"):
        IntegrityStore(bad)
    assert bad.read_bytes() == content


def _consistent(url: str) -> tuple[int, int]:
    """Invariants that a torn write would break, checked through the store's own engine. Returns
    (sessions, strikes)."""
    with open_database(url) as db, db.read() as tx:
        if db.dialect == "sqlite":
            assert tx.scalar("PRAGMA integrity_check") == "ok"
        for node_id, sessions, strikes_total, smoothed in tx.all(
                "SELECT node_id, sessions, strikes_total, smoothed FROM nodes"):
            assert tx.scalar("SELECT COUNT(*) FROM sessions WHERE node_id = ?", (node_id,)) == sessions
            assert tx.scalar("SELECT COUNT(*) FROM strikes WHERE node_id = ?", (node_id,)) == strikes_total
            seqs = [r[0] for r in tx.all("SELECT node_seq FROM sessions WHERE node_id = ? ORDER BY node_seq",
                                         (node_id,))]
            assert seqs == list(range(1, sessions + 1))  # no gap, no duplicate: nothing half-written
            last = tx.one("SELECT smoothed_after FROM sessions WHERE node_id = ? AND node_seq = ?",
                          (node_id, sessions))
            assert last is not None and last[0] == pytest.approx(smoothed)
        return (tx.scalar("SELECT COUNT(*) FROM sessions"), tx.scalar("SELECT COUNT(*) FROM strikes"))


WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from poai.challenges.common import CheckResult, Claim
    from poai.scoring import score_session
    from poai.store import IntegrityStore

    claim = Claim(device_kind="cpu", memory_bytes=1 << 30, tflops=0.05)
    mode = sys.argv[2]

    class Dying(IntegrityStore):
        # dies between writing the node row and the session row, inside the transaction
        def _insert_session(self, *a, **k):
            if self.die:
                os._exit(3)
            return super()._insert_session(*a, **k)

    store = Dying(sys.argv[1])
    store.die = False
    i = 0
    base = store.count_sessions()  # later runs continue the clock
    while True:
        ok = i % 3 != 0
        res = [CheckResult("compute", ok, "x", {{"matmul_tops": 0.05}}, 0.0)]
        if mode == "exit" and i == 5:
            store.die = True
        store.record_session("node-%d" % (i % 4), claim, score_session(claim, res), res,
                             finished_at=1000.0 + base + i)
        i += 1
        if mode == "exit" and i > 10:
            break
        if i == 20:
            print("ready", flush=True)
""")


def test_exit_inside_transaction_leaves_nothing_half_written(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    proc = subprocess.run([sys.executable, str(script), db_url, "exit"], timeout=120)
    assert proc.returncode == 3
    sessions, strikes = _consistent(db_url)
    assert sessions == 5 and strikes == 2  # sessions 0..4 committed (0 and 3 struck), the 6th rolled back
    with IntegrityStore(db_url) as store:  # and the store keeps working after the crash
        store.record_session("node-1", CLAIM, score_session(CLAIM, results()), results())
    assert _consistent(db_url)[0] == 6


def test_sigkill_during_writes_keeps_db_consistent(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), db_url, "loop"], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.07 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        sessions, _ = _consistent(db_url)
        assert sessions >= 20 * (round_ + 1)  # every run committed at least its first 20 sessions


def test_v1_database_migrates_to_current_schema(tmp_path: Path) -> None:
    """A database written by schema 1 (no status, no capacity, no rate-limit log) opens and upgrades."""
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    for stmt in _V1_SCHEMA:
        con.execute(stmt)
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    con.execute("INSERT INTO nodes VALUES ('n1', '{}', 0.3, 1.0, 1, 0, 1.0, 1.0)")
    con.execute("INSERT INTO sessions VALUES ('old', 'n1', 1.0, 1.0, 1.0, 0, 0.3, '[]', '{}', '[]', ?)",
                (json.dumps(CLAIM.to_dict()),))
    con.commit()
    con.close()
    with IntegrityStore(db) as store:
        assert schema_version(store.db, "poai") == SCHEMA_VERSION
        assert store.get_score("n1").smoothed == pytest.approx(0.3)
        node = record(store, "n1", t=2000.0)
        assert node.sessions == 2
        assert store.session_history("n1", 1)[0].status == "ok"
        assert store.capacity("n1") == {"matmul_tops": 0.05}
        order = [(r.session_id, r.node_seq) for r in store.sessions_in_commit_order("n1")]
        assert order[0] == ("old", 1) and order[1][1] == 2  # migration 3 numbered the old session
    con = sqlite3.connect(db)  # the old version table follows, so an older edgeproof refuses the file
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_rate_limit_is_one_limit_for_every_store_on_the_database(db_url: str) -> None:
    db = db_url
    a, b = IntegrityStore(db), IntegrityStore(db)
    try:
        admitted = [s.admit_session("n1", f"s{i}", limit=5, window_s=60.0, now=1000.0 + i)[0]
                    for i, s in enumerate([a, b] * 4)]
        assert admitted == [True] * 5 + [False] * 3
        assert a.admit_session("n2", "other", limit=5, window_s=60.0, now=1010.0)[0]  # per node id
        assert a.admit_session("n1", "later", limit=5, window_s=60.0, now=1070.0)[0]  # the window moved
    finally:
        a.close()
        b.close()


def test_challenger_fault_is_recorded_but_leaves_the_history_alone(db_url: str) -> None:
    import dataclasses

    from poai.scoring import STATUS_CHALLENGER_FAULT

    with IntegrityStore(db_url) as store:
        good = record(store, "n1", t=1000.0)
        fault = dataclasses.replace(score_session(CLAIM, results()), score=0.0, status=STATUS_CHALLENGER_FAULT)
        after = store.record_session("n1", CLAIM, fault, results(), session_id="f", finished_at=1001.0)
        assert after.smoothed == pytest.approx(good.smoothed) and after.recent_strikes == 0
        assert store.session_history("n1", 1)[0].status == STATUS_CHALLENGER_FAULT


_V1_SCHEMA = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE nodes (node_id TEXT PRIMARY KEY, claim_json TEXT NOT NULL, smoothed REAL NOT NULL,
        last_score REAL NOT NULL, sessions INTEGER NOT NULL, strikes_total INTEGER NOT NULL,
        first_seen REAL NOT NULL, updated_at REAL NOT NULL)""",
    """CREATE TABLE sessions (session_id TEXT PRIMARY KEY, node_id TEXT NOT NULL REFERENCES nodes(node_id),
        started_at REAL NOT NULL, finished_at REAL NOT NULL, score REAL NOT NULL, strike INTEGER NOT NULL,
        smoothed_after REAL NOT NULL, reasons_json TEXT NOT NULL, components_json TEXT NOT NULL,
        checks_json TEXT NOT NULL, claim_json TEXT NOT NULL)""",
    """CREATE TABLE strikes (session_id TEXT PRIMARY KEY REFERENCES sessions(session_id), node_id TEXT NOT NULL,
        at REAL NOT NULL, reason TEXT NOT NULL)""",
]
