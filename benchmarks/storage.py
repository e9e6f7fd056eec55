"""Storage benchmark: PoAI sessions recorded per second on SQLite and on PostgreSQL under the same load.

    python benchmarks/storage.py                 # 1, 2 and 4 writer processes x 1000 sessions, both engines
    python benchmarks/storage.py --quick         # 1 and 2 writers x 60 sessions

Load: W writer processes (as W challengers would be) record sessions of the same 5 nodes at once through
`poai.store.IntegrityStore.record_session` (one transaction per session: node lock, strike lookup, node
upsert, session row with its checks, strike row), on the shipped settings (SQLite synchronous=FULL in WAL
mode; PostgreSQL 15 in a throwaway local cluster with fsync on, pool of 4). Beside each figure, the baseline:
the same engine writing the same session row with one bare INSERT per transaction (what the storage layer,
the lock and the history update cost on top). Results: a table on stdout and benchmarks/results/storage.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from edge_sdk.storage.local_postgres import LocalPostgres  # noqa: E402

WRITER = r"""
import json, sys, time, uuid
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from edge_sdk.storage import open_database
from poai.challenges.common import CheckResult, Claim
from poai.scoring import score_session
from poai.store import IntegrityStore

url, mode, n, index, go = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), Path(sys.argv[6])
claim = Claim(device_kind="cpu", memory_bytes=256 << 20, tflops=0.08)
checks = [CheckResult("compute", True, "ok", {"matmul_tops": 0.08, "node_seconds": 0.9}, 0.01),
          CheckResult("memory", True, "ok", {"memory_bytes": 256.0 * 2**20, "bandwidth_gbs": 2.4}, 0.03)]
score = score_session(claim, checks)
row = json.dumps([c.to_dict() for c in checks])
if mode == "store":
    store = IntegrityStore(url)
else:
    db = open_database(url)  # the table was created by the parent
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
t0 = time.time()
for i in range(n):
    node, sid, now = f"node-{i % 5}", uuid.uuid4().hex, time.time()
    if mode == "store":
        store.record_session(node, claim, score, checks, session_id=sid, finished_at=now)
    else:
        with db.transaction() as tx:
            tx.execute("INSERT INTO bare (session_id, node_id, finished_at, score, checks_json) VALUES (?, ?, ?, ?, ?)",
                       (sid, node, now, score.score, row))
print(json.dumps({"start": t0, "end": time.time()}), flush=True)
"""


def prepare(url: str, mode: str) -> None:
    """Schema first, in this process, so the writers time recording only."""
    from edge_sdk.storage import open_database
    from poai.store import IntegrityStore

    if mode == "store":
        IntegrityStore(url).close()
        return
    with open_database(url) as db, db.transaction() as tx:
        tx.execute("CREATE TABLE bare (session_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, finished_at DOUBLE "
                   "PRECISION NOT NULL, score DOUBLE PRECISION NOT NULL, checks_json TEXT NOT NULL)")


def run_load(url: str, mode: str, writers: int, per_writer: int, tmp: Path) -> dict[str, Any]:
    script, go = tmp / "writer.py", tmp / f"go-{time.time_ns()}"
    script.write_text(WRITER)
    prepare(url, mode)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(script), str(ROOT), url, mode, str(per_writer), str(i), str(go)],
                              stdout=subprocess.PIPE, text=True, env=env) for i in range(writers)]
    spans = []
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a writer failed to start (rc={p.wait()})")
        go.write_text("go")
        for p in procs:
            assert p.stdout is not None
            spans.append(json.loads(p.stdout.readline()))
            if p.wait(timeout=600) != 0:
                raise RuntimeError(f"writer failed with {p.returncode}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    wall = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    total = writers * per_writer
    return {"writers": writers, "sessions": total, "wall_s": round(wall, 3), "per_s": round(total / wall, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 and 2 writers x 60 sessions")
    parser.add_argument("--sessions", type=int, default=1000, help="sessions per writer process")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "storage.json"))
    args = parser.parse_args(argv)
    writer_counts = [1, 2] if args.quick else [1, 2, 4]
    per_writer = 60 if args.quick else args.sessions
    console = Console(width=None if sys.stdout.isatty() else 140)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name, LocalPostgres() as pg:
        tmp = Path(tmp_name)
        for writers in writer_counts:
            for engine in ("sqlite", "postgresql"):
                for mode in ("store", "bare"):
                    name = f"{engine}_{mode}_{writers}"
                    url = str(tmp / f"{name}.sqlite") if engine == "sqlite" else pg.create_database(name)
                    result = run_load(url, mode, writers, per_writer, tmp)
                    rows.append({"engine": engine, "mode": mode, **result})
                    console.print(f"  {engine:10} {mode:5} writers={writers}: {result['per_s']:8.1f} sessions/s")
    table = Table(title="PoAI sessions recorded per second (same load on both engines)")
    for col in ("writers", "engine", "IntegrityStore.record_session /s", "baseline: bare INSERT /s", "ratio"):
        table.add_column(col, justify="right")
    for writers in writer_counts:
        for engine in ("sqlite", "postgresql"):
            ours = next(r for r in rows if (r["engine"], r["mode"], r["writers"]) == (engine, "store", writers))
            base = next(r for r in rows if (r["engine"], r["mode"], r["writers"]) == (engine, "bare", writers))
            table.add_row(str(writers), engine, f"{ours['per_s']:.1f}", f"{base['per_s']:.1f}",
                          f"{ours['per_s'] / base['per_s']:.2f}x")
    console.print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                               "sessions_per_writer": per_writer, "results": rows}, indent=2) + "\n")
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
