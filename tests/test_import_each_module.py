"""Every module imports on its own, first, in a fresh interpreter: an import cycle through a package's
__init__ (e.g. edge_sdk.device -> edge_sdk.training -> edge_sdk.device) fails only in some import orders,
which one test process never sees."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for pkg in ("edge_sdk", "poai", "validator", "edgeproof_demo")
    for p in (ROOT / pkg).rglob("*.py")
    if "_proto" not in p.parts
)


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    # one interpreter per module, several modules per batch of interpreters started together
    failures = []
    for start in range(0, len(MODULES), 8):
        batch = MODULES[start:start + 8]
        procs = {m: subprocess.Popen([sys.executable, "-c", f"import {m}"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True) for m in batch}
        for module, proc in procs.items():
            _, err = proc.communicate(timeout=300)
            if proc.returncode != 0:
                failures.append(f"{module}: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    assert not failures, "\n".join(failures)
