"""`edgeproof demo` pointed at real endpoints instead of its embedded ones: a challenger and a federation coordinator
running as their own processes, and one PostgreSQL database for the PoAI history, the federation and the chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from procs import ROOT, start_challenger_process, start_coordinator_process, stop_process

pytestmark = pytest.mark.slow
DATA = ROOT / "examples" / "data"


def test_the_demo_runs_against_a_running_challenger_coordinator_and_postgresql(tmp_path, postgres_url):
    challenger, ready_c = start_challenger_process(postgres_url, "standard")
    coordinator, ready_f = start_coordinator_process(
        tmp_path / "federation.sqlite", "--eval", str(DATA / "private_facts_heldout.jsonl"), "--task", "external",
        "--rounds", "1", "--local-steps", "4", "--clients-per-round", "3", "--quorum", "3", "--over-selection", "1.0")
    try:
        out = tmp_path / "run"
        proc = subprocess.run(
            [sys.executable, "-m", "edgeproof_cli.main", "demo", "--out", str(out), "--sessions", "2",
             "--challenger", f"127.0.0.1:{ready_c['port']}", "--poai-db", postgres_url,
             "--coordinator", f"127.0.0.1:{ready_f['port']}", "--coordinator-id", ready_f["coordinator_id"],
             "--db", postgres_url, "--json"],
            capture_output=True, text=True, cwd=ROOT, timeout=900,
            env={**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        result = json.loads(proc.stdout)
    finally:
        stop_process(coordinator)
        stop_process(challenger)
    assert result["poai"]["challenger"] == f"127.0.0.1:{ready_c['port']}"
    assert result["federation"]["coordinator"] == f"127.0.0.1:{ready_f['port']}"
    assert not (out / "poai.sqlite").exists() and not (out / "chain.sqlite").exists()  # all in PostgreSQL
    versions = result["federation"]["versions"]
    assert [v["version"] for v in versions] == [0, 1] and versions[1]["eval_loss"] < versions[0]["eval_loss"]
    assert all(result["outcomes"][k] for k in ("cheat_caught", "cheat_miner_zero_weight", "copy_below_original",
                                               "good_miner_paid", "adapter_beats_base"))
    from poai.report import node_standings

    standings = node_standings(postgres_url)  # the running challenger recorded every session there
    for node in result["poai"]["nodes"]:
        assert standings[node["node_id"]].sessions == 2
    from validator.chain.local import LocalChain

    chain = LocalChain(postgres_url, result["subnet"]["netuid"])
    try:
        assert len(chain.weight_history(result["subnet"]["validator"])) == 1
    finally:
        chain.close()
