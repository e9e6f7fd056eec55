"""examples/federated_local.py runs as the README says: a coordinator and three clients on SmolLM2, then the base
model and the new global adapter answer side by side on llama.cpp."""

from __future__ import annotations

import subprocess
import sys

import pytest

from procs import ROOT, env

pytestmark = pytest.mark.slow


def test_federated_local_example_runs_and_learns():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "federated_local.py"), "--rounds", "1",
                          "--local-steps", "3"], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    losses = next(line for line in lines if line.startswith("task finished; held-out loss per version"))
    v0, v1 = (float(part.split()[1]) for part in losses.split(": ", 1)[1].split(", "))
    assert v1 < v0, losses
    assert any(line.startswith("base") for line in lines) and any(line.startswith("global adapter") for line in lines)
