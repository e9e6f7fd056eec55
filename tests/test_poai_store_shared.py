"""Several challenger processes on one database: one history per node whichever challenger served the session,
no lost update when two record the same node at once, and nothing half-written when one is killed mid-record."""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from procs import start_challenger_process, stop_process

from edge_sdk.identity import NodeKey
from poai.claim import NodeClaim
from poai.node.swarm import run_spread
from poai.node.solver import Solver
from poai.scoring import update_history
from poai.store import IntegrityStore

PLAN = "lightweight:compute"
CLAIM = NodeClaim("cpu", "shared-db test", 1 << 20, 0.001, (), "test")


def _started(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("poai_sessions_started_total "):
                return float(line.split()[1])
    return 0.0


def _replay_matches(store: IntegrityStore, node_id: str, expected_sessions: int) -> None:
    """The node's stored history equals a sequential replay of its sessions in commit order."""
    records = store.sessions_in_commit_order(node_id)
    assert [r.node_seq for r in records] == list(range(1, expected_sessions + 1))
    node, strikes = None, []
    for r in records:
        node = update_history(node_id, node, r.session_score(), r.finished_at, strikes, store.config)
        strikes.append(r.finished_at) if r.strike else None
        assert r.smoothed_after == pytest.approx(node.smoothed, abs=1e-12)
    stored = store.get_score(node_id, now=records[-1].finished_at)
    assert stored is not None and node is not None
    assert (stored.sessions, stored.strikes_total) == (node.sessions, node.strikes_total) == (expected_sessions,
                                                                                             len(strikes))
    assert stored.smoothed == pytest.approx(node.smoothed, abs=1e-12)


@pytest.mark.slow
def test_two_challengers_share_one_postgres_history(postgres_url: str) -> None:
    """100 sessions of 5 nodes through 2 challenger processes at once, each node in a session on both
    challengers at the same time: every session recorded once, each node's count and smoothed score equal
    to a sequential replay in commit order."""
    procs = [start_challenger_process(postgres_url, PLAN, "--rate-limit", "0", "--workers", "1") for _ in range(2)]
    solvers = [Solver(NodeKey.generate(), CLAIM, "cpu", None) for _ in range(5)]
    try:
        result = asyncio.run(run_spread([f"127.0.0.1:{r['port']}" for _, r in procs], solvers, 10,
                                        lanes_per_node=2))
        started = [_started(r["metrics_port"]) for _, r in procs]
    finally:
        codes = [stop_process(p) for p, _ in procs]
    assert codes == [0, 0]
    assert not result.errors, result.errors[:3]
    assert result.sessions == 100 and all(o.ok for o in result.outcomes), \
        [o.reasons for o in result.outcomes if not o.ok][:3]
    assert started == [50.0, 50.0]  # both challengers served half of every node's sessions
    ids = {o.session_id for o in result.outcomes}
    with IntegrityStore(postgres_url) as store:
        assert store.count_sessions() == len(ids) == 100  # every session recorded, once
        for solver in solvers:
            _replay_matches(store, solver.key.node_id, 20)


# A challenger whose store stops for good inside the recording transaction, after the node row is written
# and before the session row: the moment a SIGKILL must not leave half a session behind.
STALLING_CHALLENGER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from poai.store import IntegrityStore

    marker = Path(sys.argv.pop(1))

    def stall(self, *args, **kwargs):
        marker.write_text("inside the transaction")
        time.sleep(3600)

    IntegrityStore._insert_session = stall
    from edgeproof_cli.poai import app
    app()
""")


@pytest.mark.slow
def test_challenger_killed_while_recording_leaves_no_half_session(db_url: str, tmp_path: Path) -> None:
    from poai.node.local import run_node_sessions

    script, marker = tmp_path / "stalling_challenger.py", tmp_path / "inside"
    script.write_text(STALLING_CHALLENGER)
    solver = Solver(NodeKey.generate(), CLAIM, "cpu", None)
    good, ready = start_challenger_process(db_url, PLAN, "--rate-limit", "0")
    try:
        assert run_node_sessions(f"127.0.0.1:{ready['port']}", solver, 1)[0].ok  # the node row exists
    finally:
        stop_process(good)
    with IntegrityStore(db_url) as store:
        before = store.get_score(solver.key.node_id)
        assert before is not None and before.sessions == 1

    stalling, ready = start_challenger_process(db_url, PLAN, "--rate-limit", "0",
                                               launcher=(str(script), str(marker)))
    outcome: list = []
    node = threading.Thread(target=lambda: outcome.extend(
        run_node_sessions(f"127.0.0.1:{ready['port']}", solver, 1)), daemon=True)
    node.start()
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert stalling.poll() is None and time.monotonic() < deadline, "the challenger never started recording"
        time.sleep(0.05)
    os.kill(stalling.pid, signal.SIGKILL)
    assert stalling.wait(timeout=30) == -signal.SIGKILL
    node.join(timeout=60)

    with IntegrityStore(db_url) as store:
        after = store.get_score(solver.key.node_id)
        assert after == before  # the node row written inside the killed transaction is gone
        assert store.count_sessions() == 1 and store.strikes(solver.key.node_id) == []
        _replay_matches(store, solver.key.node_id, 1)
    good, ready = start_challenger_process(db_url, PLAN, "--rate-limit", "0")  # and the database works on
    try:
        assert run_node_sessions(f"127.0.0.1:{ready['port']}", solver, 1)[0].ok
    finally:
        stop_process(good)
    with IntegrityStore(db_url) as store:
        _replay_matches(store, solver.key.node_id, 2)


def test_challenger_refuses_a_bad_database_before_serving(postgres_cluster, tmp_path: Path) -> None:
    """Wrong password, a newer schema, a file that is not a database: the command stops with the URL (password
    masked) and what to do, and the database keeps what it held."""
    from typer.testing import CliRunner

    from edgeproof_cli.poai import app

    runner = CliRunner()
    wrong = postgres_cluster.url("postgres", password="wrong-password")
    res = runner.invoke(app, ["challenger", "--port", "0", "--metrics-port", "-1", "--db", wrong])
    assert res.exit_code != 0 and "password is wrong" in res.output and "wrong-password" not in res.output
    assert "edgeproof:***@127.0.0.1" in res.output

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all " * 50)
    res = runner.invoke(app, ["challenger", "--port", "0", "--metrics-port", "-1", "--db", str(junk)])
    assert res.exit_code != 0 and "not a database" in res.output and str(junk) in res.output.replace("\n", "")
    assert junk.read_bytes() == b"not a database at all " * 50

    url = postgres_cluster.create_database("newer_schema")
    with IntegrityStore(url) as store, store.db.transaction() as tx:
        tx.execute("UPDATE edgeproof_schema SET version = version + 1 WHERE component = 'poai'")
    res = runner.invoke(app, ["report", "--db", url])
    assert res.exit_code != 0 and "upgrade edgeproof" in res.output and postgres_cluster.password not in res.output
