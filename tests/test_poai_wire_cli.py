"""`edgeproof poai ...` commands: keygen, challenger + node as real processes, report (table and JSON)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edge_sdk.identity import NodeKey
from edgeproof_cli.poai import _parse_size, app
from poai.report import integrity_scores, load_report

from procs import ROOT, start_challenger_process, stop_process
from procs import env as _env

runner = CliRunner()


def test_keygen_writes_a_private_key_file(tmp_path) -> None:
    out = tmp_path / "node.key"
    res = runner.invoke(app, ["keygen", "--out", str(out)])
    assert res.exit_code == 0, res.output
    key = NodeKey.load(out)
    assert key.node_id in res.output.replace("\n", "")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    again = runner.invoke(app, ["keygen", "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_user_errors_are_one_line_messages(tmp_path) -> None:
    res = runner.invoke(app, ["report", "--db", str(tmp_path / "none.sqlite")])
    assert res.exit_code == 2 and "no integrity database" in res.output
    res = runner.invoke(app, ["node", "--challenger", "127.0.0.1:1"])
    assert res.exit_code == 2 and "needs a key" in res.output
    res = runner.invoke(app, ["challenger", "--port", "0", "--metrics-port", "-1", "--db", str(tmp_path / "c.sqlite"),
                              "--tls-cert", str(tmp_path / "nope.pem")])
    assert res.exit_code == 2 and "both a certificate and its private key" in res.output
    assert not (tmp_path / "c.sqlite").exists()  # refused before anything was created
    key = tmp_path / "node.key"
    assert runner.invoke(app, ["keygen", "--out", str(key)]).exit_code == 0
    res = runner.invoke(app, ["node", "--key", str(key), "--once", "--tls-ca", str(tmp_path / "ca.pem")])
    assert res.exit_code == 2 and "cannot read the TLS CA certificate" in res.output
    assert _parse_size("512M") == 512 << 20 and _parse_size("1.5G") == 3 << 29 and _parse_size("100") == 100


@pytest.mark.slow
def test_challenger_and_node_processes_then_report(tmp_path) -> None:
    db = tmp_path / "cli.sqlite"
    key_path = tmp_path / "node.key"
    assert runner.invoke(app, ["keygen", "--out", str(key_path)]).exit_code == 0
    node_id = NodeKey.load(key_path).node_id
    proc, ready = start_challenger_process(db, "lightweight:compute,memory")
    try:
        node = subprocess.run(
            [
                sys.executable,
                "-m",
                "edgeproof_cli.poai",
                "node",
                "--challenger",
                f"127.0.0.1:{ready['port']}",
                "--key",
                str(key_path),
                "--once",
                "--json",
                "--backend",
                "none",
                "--tflops",
                "0.001",
                "--memory",
                "16M",
                "--log-level",
                "warning",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(),
            cwd=ROOT,
        )
    finally:
        assert stop_process(proc) == 0
    assert node.returncode == 0, node.stderr[-2000:]
    outcome = json.loads(node.stdout)
    assert outcome["ok"] and outcome["score"] == 1.0

    res = runner.invoke(app, ["report", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    (row,) = data["nodes"]
    assert row["node_id"] == node_id and row["sessions"] == 1 and row["last_reasons"] == ["all checks passed"]
    assert integrity_scores(db) == {node_id: pytest.approx(row["score"])}
    table = runner.invoke(app, ["report", "--db", str(db), "--node", node_id], terminal_width=200)
    assert table.exit_code == 0 and "PoAI integrity" in table.output and "recent sessions" in table.output
    assert load_report(db, node_id=node_id)["sessions"][0]["session_id"] == outcome["session_id"]
