"""Test helpers that run edgeproof commands as their own processes (imported by several test modules)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def env() -> dict[str, str]:
    """The environment of a child process that imports this checkout (one compute thread per process)."""
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    out.setdefault("OMP_NUM_THREADS", "1")
    return out


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`edgeproof <args>` to completion, with a wide terminal for its tables."""
    return subprocess.run([sys.executable, "-m", "edgeproof_cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def start_server_process(args: list[str], what: str) -> tuple[subprocess.Popen, dict]:
    """A server command (`python <args>`) that prints a JSON ready line on stdout; returns it and that line."""
    errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty child never blocks on it
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=errors, text=True, env=env(),
                            cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        rc = proc.wait()
        errors.seek(0)
        raise AssertionError(f"{what} exited before it was ready (rc={rc}): {errors.read()[-2000:]}")
    errors.close()
    return proc, json.loads(line)


def start_challenger_process(db: str | Path, plan: str, *extra: str,
                             launcher: tuple[str, ...] = ("-m", "edgeproof_cli.poai")) -> tuple[subprocess.Popen, dict]:
    """`edgeproof poai challenger` as its own process (or `launcher`, a script taking the same arguments);
    returns it and its ready line (ports)."""
    return start_server_process([*launcher, "challenger", "--port", "0", "--metrics-port", "0", "--db", str(db),
                                 "--plan", plan, "--log-level", "warning", *extra], "challenger")


def start_coordinator_process(db: str | Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    """`edgeproof fed serve` as its own process; returns it and its ready line (port, coordinator id)."""
    return start_server_process(["-m", "edgeproof_cli.fed", "serve", "--port", "0", "--metrics-port", "-1",
                                 "--db", str(db), "--log-level", "warning", *extra], "coordinator")


def stop_process(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
