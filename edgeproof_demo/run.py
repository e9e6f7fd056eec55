"""`run_demo()`: bring the whole network up on loopback, run one full cycle, write the report, shut everything down
(also on Ctrl-C or an error: every started part is registered on one ExitStack the moment it starts)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
from pathlib import Path
from typing import Any

from edgeproof_demo.config import DemoConfig
from edgeproof_demo.outcomes import outcomes
from edgeproof_demo.federation_stage import answer_side_by_side, run_federation_stage
from edgeproof_demo.poai_stage import run_poai_stage
from edgeproof_demo.progress import ProgressFn, silent
from edgeproof_demo.report import write_report
from edgeproof_demo.subnet_stage import run_subnet_stage

def databases(config: DemoConfig, run_dir: Path) -> dict[str, str]:
    """Where each part keeps its state: SQLite files in the run folder, or the --db PostgreSQL database for the
    shared stores (the validator's own state stays a file of this run: its epochs are per chain)."""
    shared = {name: config.db or str(run_dir / f"{name}.sqlite") for name in ("poai", "federation", "chain")}
    if config.poai_db:
        shared["poai"] = config.poai_db
    return {**shared, "validator": str(run_dir / "validator.sqlite")}


def _settings(config: DemoConfig) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = str(value) if isinstance(value, Path) else value
    if config.db:
        from edge_sdk.storage.url import mask_password

        out["db"] = mask_password(config.db)
    return out


def _quiet_progress_bars() -> None:
    """transformers' own tqdm bars (loading GGUF weights) would tear through the demo's progress bars."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # the lean install: no torch backend in use
        return
    hf_logging.disable_progress_bar()


def run_demo(config: DemoConfig | None = None, progress: ProgressFn = silent) -> dict[str, Any]:
    """Run the demo; returns the run's JSON (also written to <out>/report/run.json beside the HTML page)."""
    config = config or DemoConfig()
    config.check()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # clients train in threads of one process
    _quiet_progress_bars()
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    run_dir = Path(config.out_dir or Path("edgeproof-demo") / run_id).expanduser().resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    dbs = databases(config, run_dir)
    # a fresh subnet id where the chain's database may be shared (PostgreSQL); 1 in this run's own file
    netuid = config.netuid if config.netuid is not None else (secrets.randbelow(60000) + 1000 if config.db else 1)
    started = time.time()
    result: dict[str, Any] = {"run_id": run_id, "run_dir": str(run_dir), "started_at": started,
                              "settings": _settings(config)}
    with contextlib.ExitStack() as stack:
        t0 = time.monotonic()
        result["poai"], node_keys = run_poai_stage(config, stack, run_dir, dbs["poai"], progress)
        result["poai"]["seconds"] = round(time.monotonic() - t0, 1)
        result["federation"], adapter = run_federation_stage(config, stack, run_dir, dbs["federation"],
                                                             f"demo-{run_id}", progress)
        t0 = time.monotonic()
        result["answers"] = answer_side_by_side(config, adapter, progress)
        result["answers"]["seconds"] = round(time.monotonic() - t0, 1)
        result["subnet"] = run_subnet_stage(config, stack, run_dir, dbs, netuid, node_keys, progress)
        progress("report", 0, 1, "shutting the network down")
    result["seconds"] = round(time.time() - started, 1)
    result["outcomes"] = outcomes(result)
    progress("report", 0, 1, "plots and HTML")
    write_report(result, run_dir / "report")
    progress("report", 1, 1, f"written to {run_dir / 'report'}")
    return result
