"""PoAI benchmark: verifier cost vs node work, challenger throughput, cheat detection, honest false positives.

    EDGEPROOF_CACHE_DIR=/work/cache python benchmarks/poai.py            # full run (~10 min on 2 cores)
    python benchmarks/poai.py --quick --no-inference                     # smoke run

Everything runs for real on this machine over gRPC on 127.0.0.1: a challenger (in a thread, or pinned to one
core as its own process for the throughput figure), node agents with the honest and the cheating strategies
of poai/node/adversarial.py. Results: a rich table on stdout and benchmarks/results/poai.json.

Figures:
1. cost: per challenge, the node's work time (challenger clock, net of RTT) against the challenger's
   verification time; the target is <= 5% for compute and memory. Inference compares one teacher-forced
   forward pass per prompt with the node's token-by-token decode. Compute and memory are also measured
   outside the wire at several sizes: the verifier's cost is fixed per session, so the ratio falls as the
   node's work (the claim) grows. Honest sessions claim 256 MiB of memory; the cheats claim 32 MiB.
2. throughput: sessions per minute that one challenger core sustains on lightweight plans, from the
   challenger process's own CPU time (psutil) while it is pinned to one core, and the wall-clock rate.
3. detection: each cheat -> score, detected?, the stated reason; and the false-positive rate over honest
   sessions of the full plan (both inference backends when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from poai.challenger import ChallengerConfig  # noqa: E402
from poai.challenger.background import BackgroundChallenger  # noqa: E402
from poai.identity import NodeClaim, NodeKey  # noqa: E402
from poai.node import NodeAgent, NodeConfig, SessionError, Solver  # noqa: E402
from poai.node import adversarial as adv  # noqa: E402
from poai.store import SQLiteIntegrityStore  # noqa: E402

# One event loop for every node session of the benchmark: grpc.aio keeps per-loop state, and a fresh
# asyncio.run() per session leaves callbacks aimed at closed loops.
_NODE_LOOP = asyncio.new_event_loop()
console = Console(width=None if sys.stdout.isatty() else 160)
TARGET_RATIO = 0.05


# ------------------------------------------------------------------------------------------ helpers


def run_sessions(ch: BackgroundChallenger, solver: Solver, sessions: int = 1) -> list[Any]:
    agent = NodeAgent(
        NodeConfig(challenger=ch.address, backends=(), max_message_bytes=256 << 20), solver=solver
    )

    async def go() -> list[Any]:
        out: list[Any] = []
        for _ in range(sessions):
            try:
                out.append(await agent.run_once())
            except SessionError as exc:
                out.append(exc)
        return out

    before = len(ch.service.reports)
    results = _NODE_LOOP.run_until_complete(go())
    ch.wait_for_reports(before + sessions)
    return results


def stored(ch: BackgroundChallenger, node_id: str) -> list[Any]:
    store = SQLiteIntegrityStore(ch.config.db_path)
    try:
        return store.session_history(node_id, 10)
    finally:
        store.close()


def honest_claim(backends: tuple[str, ...] = (), memory_bytes: int = 32 << 20) -> NodeClaim:
    from poai.node.agent import HONEST_CLAIM_MARGIN
    from poai.node.device import measure_tflops

    return NodeClaim(
        "cpu",
        platform.processor() or "cpu",
        memory_bytes,
        HONEST_CLAIM_MARGIN * measure_tflops("cpu"),
        backends,
        "bench",
    )


def inference_plan(tmp: Path) -> str:
    plan = tmp / "plan_full.json"
    plan.write_text(
        json.dumps(
            {
                "budget": "standard",
                "stages": ["compute", "memory", "inference"],
                "overrides": {"inference_prompts": 3, "inference_max_tokens": 32},
            }
        )
    )
    return str(plan)


# ------------------------------------------------------------------------------------------ 1. cost


def bench_offline_compute(sizes: list[tuple[int, int, int]]) -> list[dict[str, float]]:
    from poai.challenges import compute
    from poai.challenges.common import Budget

    rng = np.random.default_rng()
    rows = []
    for n, steps, tile in sizes:
        budget = Budget(compute_n=n, compute_steps=steps, compute_tile_rows=tile, compute_tile_cols=tile)
        spec = compute.make_spec(budget, rng)
        work = compute.NodeWork(spec, "cpu")
        t0 = time.perf_counter()
        commitment = work.run()
        node_s = time.perf_counter() - t0
        req = compute.choose_openings(spec, commitment, rng)
        res = compute.verify(spec, commitment, req, work.open(req), node_seconds=node_s)
        rows.append(
            {
                "n": n,
                "steps": steps,
                "tile": tile,
                "node_seconds": node_s,
                "verify_seconds": res.verify_seconds,
                "ratio": res.verify_seconds / node_s,
                "tflops": res.metrics.get("tflops", 0.0),
                "passed": float(res.passed),
            }
        )
    return rows


def bench_offline_memory(sizes_mib: list[int]) -> list[dict[str, float]]:
    """Node work (fill + nonce pass + openings) vs verification for memory claims of several sizes, in process.

    The verifier's work is fixed (16 openings of 64 KiB blocks), the node's grows with the claimed memory."""
    from poai.challenges import memory
    from poai.challenges.common import Budget

    rng = np.random.default_rng()
    rows = []
    for mib in sizes_mib:
        budget = Budget(claimed_memory_bytes=mib << 20, memory_bytes=mib << 20)
        spec = memory.make_spec(budget, rng)
        res = memory.run_local_session(spec, memory.NodeWork(spec, "cpu"), rng)
        node_s = res.metrics["node_seconds"]
        rows.append({"mib": mib, "node_seconds": node_s, "verify_seconds": res.verify_seconds,
                     "ratio": res.verify_seconds / node_s, "passed": float(res.passed)})
    return rows


def cost_from_sessions(outcomes: list[Any]) -> dict[str, dict[str, float]]:
    by: dict[str, list[tuple[float, float]]] = {}
    for o in outcomes:
        if isinstance(o, SessionError):
            continue
        for c in o.checks:
            m = c["metrics"]
            if c["name"] in ("compute", "memory", "inference") and m.get("node_seconds", 0) > 0:
                by.setdefault(c["name"], []).append((m["node_seconds"], m["verify_seconds"]))
    out = {}
    for name, pairs in by.items():
        node = [p[0] for p in pairs]
        ver = [p[1] for p in pairs]
        out[name] = {
            "sessions": float(len(pairs)),
            "node_seconds_median": statistics.median(node),
            "verify_seconds_median": statistics.median(ver),
            "ratio_median": statistics.median(v / n for n, v in pairs),
            "ratio_max": max(v / n for n, v in pairs),
        }
    return out


# ------------------------------------------------------------------------------------ 2. throughput


def bench_throughput(sessions: int, concurrency: int, tmp: Path) -> dict[str, float]:
    """Challenger process pinned to core 0, node swarm pinned to the other cores."""
    import psutil

    from poai.challenger.probe import HealthProbe
    from poai.node.swarm import run_swarm

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    challenger_core, node_cores = cores[0], (cores[1:] or cores)
    db = tmp / "throughput.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeproof_cli.poai",
            "challenger",
            "--port",
            "0",
            "--metrics-port",
            "-1",
            "--db",
            str(db),
            "--plan",
            "lightweight:compute,memory",
            "--log-level",
            "warning",
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
        preexec_fn=(lambda: os.sched_setaffinity(0, {challenger_core}))
        if hasattr(os, "sched_setaffinity")
        else None,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    address = f"127.0.0.1:{ready['port']}"
    own = psutil.Process()
    old_affinity = own.cpu_affinity() if hasattr(own, "cpu_affinity") else None
    if old_affinity is not None:
        own.cpu_affinity(node_cores)
    claim = NodeClaim("cpu", "swarm", 1 << 20, 0.001, (), "bench")
    try:
        ch_proc = psutil.Process(proc.pid)
        cpu0 = sum(ch_proc.cpu_times()[:2])
        done = 0
        ok = 0
        t0 = time.perf_counter()
        with HealthProbe(address, interval_s=0.05) as probe:
            while done < sessions:
                n = min(concurrency, sessions - done)
                res = _NODE_LOOP.run_until_complete(run_swarm(address, n, claim, start_spread_s=0.2))
                done += n
                ok += sum(o.ok for o in res.outcomes)
        wall = time.perf_counter() - t0
        cpu = sum(ch_proc.cpu_times()[:2]) - cpu0
    finally:
        if old_affinity is not None:
            own.cpu_affinity(old_affinity)
        proc.terminate()
        proc.wait(timeout=30)
    store = SQLiteIntegrityStore(db)
    recorded = sum(n.sessions for n in store.list_scores())
    store.close()
    return {
        "sessions": float(sessions),
        "recorded": float(recorded),
        "passed": float(ok),
        "wall_seconds": wall,
        "challenger_cpu_seconds": cpu,
        "sessions_per_minute_wall": 60.0 * sessions / wall,
        "sessions_per_minute_per_core": 60.0 * sessions / cpu if cpu > 0 else 0.0,
        "concurrency": float(concurrency),
        **{f"health_{k}": v for k, v in probe.stats.summary().items()},
    }


# ------------------------------------------------------------------------------------- 3. detection

CAP = 0.5  # a "capped" score: at most half of an honest node's


def verdict(results: list[Any], history: list[Any]) -> dict[str, Any]:
    """Detected: the last session scored 0, or was capped at <= CAP, with a reason."""
    last = results[-1]
    if isinstance(last, SessionError):
        rec = history[0] if history else None
        score = rec.score if rec else 0.0
        reason = rec.reasons[0] if rec else f"node side: {last}"
    else:
        score = last.score
        reason = "; ".join(r for r in last.reasons if r != "all checks passed") or "all checks passed"
    return {
        "score": score,
        "detected": bool(score <= CAP and reason != "all checks passed"),
        "reason": reason,
    }


def bench_detection(tmp: Path, claim: NodeClaim, with_inference: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    light = ChallengerConfig(
        port=0,
        metrics_port=None,
        db_path=str(tmp / "det_light.sqlite"),
        plan="lightweight:compute,memory",
        deadline_floor_s=5.0,
        max_message_bytes=4 << 20,
    )
    scaled = ChallengerConfig(
        port=0,
        metrics_port=None,
        db_path=str(tmp / "det_scaled.sqlite"),
        plan="standard:compute,memory",
        deadline_floor_s=10.0,
    )
    relay_plan = tmp / "relay.json"
    relay_plan.write_text(
        json.dumps({"budget": "lightweight", "stages": ["compute"], "overrides": {"max_rtt_s": 0.15}})
    )
    relay = ChallengerConfig(
        port=0,
        metrics_port=None,
        db_path=str(tmp / "det_relay.sqlite"),
        plan=str(relay_plan),
        pings_per_stage=2,
    )

    class Overclaim(adv.OverclaimTflops):
        factor = 50.0

    class Big(adv.OversizedOpening):
        pad_bytes = 8 << 20

    class Relay(adv.RelayNode):
        delay_s = 0.3

    groups: list[tuple[ChallengerConfig, list[tuple[str, type, NodeClaim]]]] = [
        (
            scaled,
            [
                ("overclaim-tflops", Overclaim, claim),
                ("overclaim-memory", adv.OverclaimMemory, claim),
                ("regenerate-memory", adv.RegenerateMemory, claim),
            ],
        ),
        (
            light,
            [
                (name, a.solver, claim)
                for name, a in adv.ADVERSARIES.items()
                if name not in ("overclaim-tflops", "overclaim-memory", "regenerate-memory", "relay")
                and "inference" not in a.stages
            ]
            + [("oversized", Big, claim)],
        ),
        (relay, [("relay", Relay, claim)]),
    ]
    if with_inference:
        groups.append(
            (
                ChallengerConfig(
                    port=0,
                    metrics_port=None,
                    db_path=str(tmp / "det_inf.sqlite"),
                    plan=inference_plan(tmp),
                    deadline_floor_s=10.0,
                ),
                [(name, a.solver, claim) for name, a in adv.ADVERSARIES.items() if "inference" in a.stages],
            )
        )
    for cfg, cheats in groups:
        with BackgroundChallenger(cfg) as ch:
            seen = set()
            for name, cls, c in cheats:
                if name in seen:
                    continue
                seen.add(name)
                sessions = adv.ADVERSARIES[name].sessions if name in adv.ADVERSARIES else 1
                solver = cls(NodeKey.generate(), c, "cpu", None)
                t0 = time.perf_counter()
                results = run_sessions(ch, solver, sessions)
                row = {
                    "cheat": name,
                    "description": adv.ADVERSARIES[name].description,
                    "plan": cfg.plan if not cfg.plan.endswith(".json") else Path(cfg.plan).stem,
                    "seconds": time.perf_counter() - t0,
                    **verdict(results, stored(ch, solver.key.node_id)),
                }
                rows.append(row)
                console.print(
                    f"  {name:20s} score {row['score']:.3f} detected={row['detected']}  {row['reason'][:100]}"
                )
    return rows


def bench_honest(tmp: Path, n: int, claim: NodeClaim, backends: list[str]) -> dict[str, Any]:
    from poai.node.inference import InferenceEngines

    plan = inference_plan(tmp) if backends else "standard:compute,memory"
    cfg = ChallengerConfig(
        port=0, metrics_port=None, db_path=str(tmp / "honest.sqlite"), plan=plan, deadline_floor_s=10.0
    )
    outcomes: list[Any] = []
    per_backend: dict[str, list[float]] = {}
    with BackgroundChallenger(cfg) as ch:
        solvers = []
        for b in backends or [""]:
            c = NodeClaim(
                claim.device_kind,
                claim.device_model,
                claim.memory_bytes,
                claim.claimed_tflops,
                (b,) if b else (),
                "bench",
            )
            engines = InferenceEngines((b,), None, "cpu") if b else None
            s = Solver(NodeKey.generate(), c, "cpu", engines)
            s.warm_up()
            solvers.append((b or "none", s))
        for i in range(n):
            label, solver = solvers[i % len(solvers)]
            (o,) = run_sessions(ch, solver, 1)
            outcomes.append(o)
            score = 0.0 if isinstance(o, SessionError) else o.score
            per_backend.setdefault(label, []).append(score)
            if isinstance(o, SessionError) or not o.ok:
                console.print(
                    f"  [red]honest session {i} ({label}) not ok:[/] "
                    f"{o if isinstance(o, SessionError) else o.reasons}"
                )
    bad = [o for o in outcomes if isinstance(o, SessionError) or not o.ok]
    scores = [0.0 if isinstance(o, SessionError) else o.score for o in outcomes]
    return {
        "sessions": n,
        "false_positives": len(bad),
        "false_positive_rate": len(bad) / max(1, n),
        "score_min": min(scores),
        "score_mean": statistics.fmean(scores),
        "per_backend_min": {k: min(v) for k, v in per_backend.items()},
        "plan": "full (compute, memory, inference)" if backends else "standard:compute,memory",
        "false_positive_reasons": [str(o) if isinstance(o, SessionError) else o.reasons for o in bad],
        "_outcomes": outcomes,
    }


# ------------------------------------------------------------------------------------------ output


def tables(results: dict[str, Any]) -> None:
    t = Table(title="1. verifier cost vs node work (challenger clock)")
    for col in ("challenge", "where", "node s", "verify s", "ratio", "target"):
        t.add_column(col)
    for name, m in results["cost_sessions"].items():
        target = f"<= {TARGET_RATIO:.0%}" if name in ("compute", "memory") else "1 fwd pass < decode"
        ok = m["ratio_median"] <= TARGET_RATIO if name in ("compute", "memory") else m["ratio_median"] < 1
        t.add_row(
            name,
            f"wire, {m['sessions']:.0f} sessions",
            f"{m['node_seconds_median']:.3f}",
            f"{m['verify_seconds_median']:.4f}",
            f"[{'green' if ok else 'red'}]{m['ratio_median']:.1%}[/]",
            target,
        )
    for r in results["cost_memory_sizes"]:
        ok = r["ratio"] <= TARGET_RATIO
        t.add_row(
            "memory",
            f"offline {r['mib']} MiB",
            f"{r['node_seconds']:.3f}",
            f"{r['verify_seconds']:.4f}",
            f"[{'green' if ok else 'red'}]{r['ratio']:.1%}[/]",
            f"<= {TARGET_RATIO:.0%}",
        )
    for r in results["cost_compute_sizes"]:
        ok = r["ratio"] <= TARGET_RATIO
        t.add_row(
            "compute",
            f"offline n={r['n']} x{r['steps']} tile {r['tile']}",
            f"{r['node_seconds']:.3f}",
            f"{r['verify_seconds']:.4f}",
            f"[{'green' if ok else 'red'}]{r['ratio']:.1%}[/]",
            f"<= {TARGET_RATIO:.0%}",
        )
    console.print(t)
    tp = results["throughput"]
    t = Table(
        title="2. challenger throughput (lightweight plan: compute + memory; one challenger core). "
        "'passed' < sessions: the simulated nodes share the other core and some miss the memory time bounds"
    )
    for col in (
        "sessions",
        "recorded",
        "passed",
        "wall s",
        "challenger CPU s",
        "sessions/min/core",
        "sessions/min wall",
        "health p50 ms",
        "health p99 ms",
        "health failures",
    ):
        t.add_column(col)
    t.add_row(
        *(f"{tp[k]:.0f}" for k in ("sessions", "recorded", "passed")),
        f"{tp['wall_seconds']:.1f}",
        f"{tp['challenger_cpu_seconds']:.1f}",
        f"{tp['sessions_per_minute_per_core']:.0f}",
        f"{tp['sessions_per_minute_wall']:.0f}",
        f"{tp.get('health_p50_ms', 0):.1f}",
        f"{tp.get('health_p99_ms', 0):.1f}",
        f"{tp.get('health_failures', 0):.0f}",
    )
    console.print(t)
    t = Table(title="3. cheat detection", show_lines=False)
    for col in ("cheat", "what it does", "plan", "score", "detected", "stated reason"):
        t.add_column(col, overflow="fold")
    for r in results["detection"]:
        t.add_row(
            r["cheat"],
            r["description"],
            r["plan"],
            f"{r['score']:.3f}",
            "[green]yes[/]" if r["detected"] else "[red]NO[/]",
            r["reason"][:160],
        )
    console.print(t)
    h = results["honest"]
    d = results["detection"]
    console.print(
        f"detection: {sum(r['detected'] for r in d)}/{len(d)} cheats caught; honest: {h['false_positives']} "
        f"false positives in {h['sessions']} sessions ({h['plan']}), min score {h['score_min']:.3f}, "
        f"per backend min {h['per_backend_min']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer sessions (smoke run)")
    parser.add_argument("--no-inference", action="store_true", help="skip everything that loads the model")
    parser.add_argument("--honest", type=int, default=20, help="honest sessions for the false-positive rate")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "poai.json"))
    args = parser.parse_args(argv)
    from edge_sdk.runtime import available_backends

    backends = [] if args.no_inference else [b for b in ("llamacpp", "torch") if b in available_backends()]
    honest_n = 4 if args.quick else max(20, args.honest)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        console.print("[bold]measuring this machine's honest claim[/]")
        claim = honest_claim()  # the cheats' claim: 32 MiB keeps the many cheat sessions short
        # honest sessions claim 256 MiB, the low end of what an edge device offers (phones have GiBs)
        honest_c = dataclasses.replace(claim, memory_bytes=256 << 20)
        console.print(f"  claim: {claim.claimed_tflops:.4g} TFLOPS, {honest_c.memory_bytes >> 20} MiB (honest), "
                      f"{claim.memory_bytes >> 20} MiB (cheats)")
        console.print(f"[bold]honest sessions[/] ({honest_n}, backends {backends or 'none'})")
        honest = bench_honest(tmp, honest_n, honest_c, backends)
        console.print("[bold]offline compute sizes[/]")
        # 1024 x 64: the default CPU preset (~2 s here); the smaller ones show the fixed verifier cost
        sizes = [(512, 8, 32), (1024, 16, 32), (1024, 64, 32)] + ([] if args.quick else [(2048, 6, 64)])
        offline = bench_offline_compute(sizes)
        console.print("[bold]offline memory sizes[/]")
        offline_memory = bench_offline_memory([32, 128] + ([] if args.quick else [512]))
        console.print("[bold]throughput[/] (challenger pinned to one core)")
        throughput = bench_throughput(100 if args.quick else 400, 100, tmp)
        console.print("[bold]cheats[/]")
        detection = bench_detection(tmp, claim, with_inference=bool(backends))
    outcomes = honest.pop("_outcomes")
    results = {
        "generated_at": time.time(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "claim": {"tflops": claim.claimed_tflops, "memory_bytes_honest": honest_c.memory_bytes,
                  "memory_bytes_cheats": claim.memory_bytes},
        "cost_sessions": cost_from_sessions(outcomes),
        "cost_compute_sizes": offline,
        "cost_memory_sizes": offline_memory,
        "throughput": throughput,
        "detection": detection,
        "detection_rate": sum(r["detected"] for r in detection) / max(1, len(detection)),
        "honest": honest,
        "wall_seconds": time.perf_counter() - t_start,
    }
    tables(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
