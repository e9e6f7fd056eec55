"""Scale and failure: 200 concurrent sessions against a challenger process while its health checks stay fast;
a node process killed with SIGKILL mid-session is recorded as failed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request

import pytest

from edge_sdk.identity import NodeKey
from poai.challenger.probe import HealthProbe
from poai.claim import NodeClaim
from poai.node.swarm import run_swarm
from poai.store import IntegrityStore

from procs import ROOT, start_challenger_process, stop_process
from procs import env as _env


@pytest.mark.slow
def test_200_concurrent_sessions_keep_health_checks_responsive(tmp_path) -> None:
    db = tmp_path / "load.sqlite"
    # compute only: 200 simulated nodes share this machine's 2 cores, so the memory stage's latency bounds
    # (meant for a node on its own machine) would fail on node-side contention, not on the challenger.
    proc, ready = start_challenger_process(db, "lightweight:compute")
    address = f"127.0.0.1:{ready['port']}"
    claim = NodeClaim("cpu", "load test", 1 << 20, 0.001, (), "test")
    try:
        with HealthProbe(address, interval_s=0.05) as probe:
            time.sleep(0.5)  # idle baseline samples
            result = asyncio.run(run_swarm(address, 200, claim, start_spread_s=1.0))
        with urllib.request.urlopen(f"http://127.0.0.1:{ready['metrics_port']}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
    finally:
        assert stop_process(proc) == 0
    health = probe.stats.summary()
    print(f"\n200 sessions in {result.wall_seconds:.1f} s; health check latency {json.dumps(health)}")
    assert not result.errors, result.errors[:3]
    assert result.sessions == 200
    assert sum(o.ok for o in result.outcomes) >= 196, [o.reasons for o in result.outcomes if not o.ok][:3]
    assert health["failures"] == 0 and health["count"] >= 10
    assert health["p99_ms"] < 1000.0 and health["p50_ms"] < 250.0
    assert "poai_sessions_started_total 200.0" in metrics
    store = IntegrityStore(db)
    try:
        nodes = store.list_scores()
        assert len(nodes) == 200 and all(n.sessions == 1 for n in nodes)  # every session recorded
    finally:
        store.close()


@pytest.mark.slow
def test_node_process_killed_mid_session_is_recorded_as_failed(tmp_path) -> None:
    from poai.challenger import ChallengerConfig
    from poai.challenger.background import BackgroundChallenger

    key = NodeKey.generate()
    key_path = key.save(tmp_path / "node.key")
    cfg = ChallengerConfig(
        port=0, metrics_port=None, db=str(tmp_path / "kill.sqlite"), plan="standard:compute,memory"
    )
    with BackgroundChallenger(cfg) as ch:
        node = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edgeproof_cli.poai",
                "node",
                "--challenger",
                ch.address,
                "--key",
                str(key_path),
                "--once",
                "--backend",
                "none",
                "--tflops",
                "0.01",
                "--memory",
                "1G",
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 120
            while ch.service.active_sessions == 0:
                assert node.poll() is None, "node exited before its session started"
                assert time.monotonic() < deadline, "node never connected"
                time.sleep(0.05)
            time.sleep(0.5)  # inside the plan (compute or the ~1 GiB memory fill, several seconds here)
            assert ch.service.active_sessions == 1, f"session already over: {ch.service.reports[-1:]}"
            node.kill()  # SIGKILL: no goodbye on the stream
            node.wait(timeout=10)
            for _ in range(200):
                if ch.service.reports:
                    break
                time.sleep(0.05)
        finally:
            if node.poll() is None:
                node.kill()
        report = ch.service.reports[-1]
        assert report.node_id == key.node_id and report.failure_code == "disconnected"
        store = IntegrityStore(cfg.db)
        try:
            (session,) = store.session_history(key.node_id)
        finally:
            store.close()
    assert session.score == 0.0 and not session.strike
    assert "session incomplete (disconnected)" in session.reasons[0]
