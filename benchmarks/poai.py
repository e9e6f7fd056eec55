"""PoAI benchmark on the default `standard` plan: detection against attacks on each guarantee, survival
statistics against the stated bounds, honest false positives, verifier cost and challenger throughput.

    python benchmarks/poai.py                     # full run (~20 min on 2 cores)
    python benchmarks/poai.py --quick             # smoke run (fewer sessions and draws)

Everything runs for real on this machine over gRPC on 127.0.0.1, on the shipped defaults (the `standard`
plan sized from each claim, default ChallengerConfig; the only change is the rate limit, off because one
benchmark node runs more sessions than a real node would in an hour). Results: rich tables on stdout and
benchmarks/results/poai.json.

1. honest: >= 50 sessions of the full plan (compute, memory, inference), alternating the llama.cpp and
   torch node backends, against a challenger process pinned to one core; the node is pinned to the other
   core and claims what it measures there. Gives the false-positive count, the verifier's cost per
   challenge as a fraction of the node's work, and sessions per minute per challenger core (the
   challenger process's CPU seconds per session, from psutil).
2. survival: each bound measured on the verifier itself: one cheating commitment, many fresh opening
   draws, each verified in full; measured survival beside the stated bound.
3. detection: one end-to-end session per attack against an in-process challenger on the standard plan.
"""

from __future__ import annotations

import argparse
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

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from edge_sdk.identity import NodeKey  # noqa: E402
from poai import kinds  # noqa: E402
from poai.challenger import ChallengerConfig  # noqa: E402
from poai.challenger.background import BackgroundChallenger  # noqa: E402
from poai.claim import NodeClaim  # noqa: E402
from poai.node import SessionError, Solver  # noqa: E402
from poai.node import adversarial as adv  # noqa: E402
from poai.node import adversarial_protocol as advp  # noqa: E402
from poai.node.local import run_local_sessions, run_node_sessions  # noqa: E402
from poai.store import IntegrityStore  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 170)
TARGET_RATIO = 0.05


# ------------------------------------------------------------------------------------------ helpers


def measured_claim(memory_bytes: int, backends: tuple[str, ...] = ()) -> NodeClaim:
    """What the node agent claims by default on this machine now (its own measurements, x0.8)."""
    from poai.node.agent import HONEST_CLAIM_MARGIN
    from poai.node.device import measure_memory_bandwidth_gbs, measure_tflops

    return NodeClaim(
        "cpu",
        platform.processor() or "cpu",
        memory_bytes,
        round(HONEST_CLAIM_MARGIN * measure_tflops("cpu"), 6),
        backends,
        "bench",
        memory_bandwidth_gbs=round(HONEST_CLAIM_MARGIN * measure_memory_bandwidth_gbs("cpu", memory_bytes), 4),
    )


def engines_for(backend: str) -> Any:
    from poai.node.inference import InferenceEngines

    return InferenceEngines((backend,), None, "cpu")


def _pin(cores: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)


# ------------------------------------------------------------------------------------------ 1. honest


def bench_honest(tmp: Path, n: int, backends: list[str], memory_bytes: int) -> dict[str, Any]:
    """Honest sessions of the full standard plan against a challenger process pinned to one core."""
    import psutil
    import torch

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    challenger_core, node_cores = cores[0], set(cores[1:] or cores)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    db = tmp / "honest.sqlite"
    cmd = [sys.executable, "-m", "edgeproof_cli.poai", "challenger", "--port", "0", "--metrics-port",
           "-1", "--db", str(db), "--log-level", "warning", "--workers", "1", "--rate-limit", "0"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
        preexec_fn=(lambda: _pin({challenger_core})) if hasattr(os, "sched_setaffinity") else None,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    address = f"127.0.0.1:{ready['port']}"
    old_affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    old_threads = torch.get_num_threads()
    _pin(node_cores)
    torch.set_num_threads(len(node_cores))
    outcomes: list[Any] = []
    labels: list[str] = []
    try:
        claim = measured_claim(memory_bytes, tuple(backends))
        console.print(f"  node claim (pinned to {len(node_cores)} core): {claim.claimed_tflops:.4g} TOPS, "
                      f"{claim.memory_bytes >> 20} MiB at {claim.memory_bandwidth_gbs:.3g} GB/s")
        solvers = []
        for b in backends:
            c = dataclasses.replace(claim, backends=(b,))
            s = Solver(NodeKey.generate(), c, "cpu", engines_for(b))
            s.warm_up()
            solvers.append((b, s))
        ch_proc = psutil.Process(proc.pid)
        cpu0 = sum(ch_proc.cpu_times()[:2])
        t0 = time.perf_counter()
        for i in range(n):
            label, solver = solvers[i % len(solvers)]
            (o,) = run_node_sessions(address, solver)
            outcomes.append(o)
            labels.append(label)
            if isinstance(o, SessionError) or not o.ok:
                console.print(f"  [red]honest session {i} ({label}) not ok:[/] "
                              f"{o if isinstance(o, SessionError) else o.reasons}")
        wall = time.perf_counter() - t0
        time.sleep(0.5)  # the last session's store write
        cpu = sum(ch_proc.cpu_times()[:2]) - cpu0
    finally:
        if old_affinity is not None:
            _pin(old_affinity)
        torch.set_num_threads(old_threads)
        proc.terminate()
        proc.wait(timeout=60)
    bad = [(lbl, o) for lbl, o in zip(labels, outcomes) if isinstance(o, SessionError) or not o.ok]
    scores: dict[str, list[float]] = {}
    for lbl, o in zip(labels, outcomes):
        scores.setdefault(lbl, []).append(0.0 if isinstance(o, SessionError) else o.score)
    with IntegrityStore(db) as store:
        recorded = sum(x.sessions for x in store.list_scores())
    return {
        "sessions": n,
        "recorded": recorded,
        "false_positives": len(bad),
        "false_positive_reasons": [str(o) if isinstance(o, SessionError) else o.reasons for _, o in bad],
        "score_min_per_backend": {k: min(v) for k, v in scores.items()},
        "score_mean_per_backend": {k: statistics.fmean(v) for k, v in scores.items()},
        "claim": {"matmul_tops": claim.claimed_tflops, "memory_bytes": claim.memory_bytes,
                  "memory_bandwidth_gbs": claim.memory_bandwidth_gbs},
        "wall_seconds": wall,
        "challenger_cpu_seconds": cpu,
        "challenger_cpu_seconds_per_session": cpu / max(1, n),
        "sessions_per_minute_per_core": 60.0 * n / cpu if cpu > 0 else 0.0,
        "cost": cost_per_challenge(outcomes),
    }


def cost_per_challenge(outcomes: list[Any]) -> dict[str, dict[str, float]]:
    by: dict[str, list[tuple[float, float]]] = {}
    for o in outcomes:
        if isinstance(o, SessionError):
            continue
        for c in o.checks:
            m = c["metrics"]
            if c["name"] in ("compute", "memory", "inference") and m.get("node_seconds", 0) > 0:
                by.setdefault(c["name"], []).append((m["node_seconds"], m["verify_seconds"]))
    return {
        name: {
            "sessions": float(len(pairs)),
            "node_seconds_median": statistics.median(p[0] for p in pairs),
            "verify_seconds_median": statistics.median(p[1] for p in pairs),
            "ratio_median": statistics.median(v / n for n, v in pairs),
            "ratio_max": max(v / n for n, v in pairs),
        }
        for name, pairs in by.items()
    }


# ---------------------------------------------------------------------------------------- 2. survival


def _draws(spec: Any, work: Any, commitment: Any, draws: int) -> int:
    from poai.challenges import compute

    passed = 0
    for _ in range(draws):
        req = compute.choose_openings(spec, commitment)  # fresh OS entropy each draw
        passed += compute.verify(spec, commitment, req, work.open(req)).passed
    return passed


def bench_survival_compute(claim: NodeClaim, draws: int) -> list[dict[str, Any]]:
    """One cheating commitment per attack on the standard plan's compute spec for `claim`; `draws` fresh
    opening draws, each verified in full by `compute.verify`."""
    from poai.challenges import compute
    from poai.challenges.common import Budget

    spec = compute.make_spec(Budget.from_claim(claim.to_core()))
    rows = []
    attacks = [
        ("compute: zero work", adv.zero_work(spec), 0.0),
        (f"compute: stop at step {spec.steps} of {spec.steps}", adv.stop_at_step_work(spec, stop_at=spec.steps),
         (spec.steps - 1) / spec.steps),
        ("compute: 90% of the rows", adv.partial_work(spec, fraction=0.9, by="rows"),
         int(spec.n * 0.9) // spec.tile_rows * spec.tile_rows / spec.n),
        ("compute: 7/8 of the columns", adv.partial_work(spec, fraction=0.875, by="columns"), 0.875),
        ("compute: lazy (commit, then compute the opened)", adv.lazy_after_commit_work(spec), 0.0),
    ]
    for name, work, w in attacks:
        t0 = time.perf_counter()
        c = work.run()
        survived = _draws(spec, work, c, draws)
        rows.append({"attack": name, "spec": f"n={spec.n} K={spec.steps} m={spec.openings}", "draws": draws,
                     "survived": survived, "rate": survived / draws, "work_fraction": w,
                     "bound": compute.survival_bound(w, spec.openings), "seconds": time.perf_counter() - t0})
        console.print(f"  {name:48s} {survived}/{draws} survived, bound {rows[-1]['bound']:.3g}")
    return rows


def bench_survival_memory(claim: NodeClaim, draws: int) -> list[dict[str, Any]]:
    """Block dropping at 5/10/25% without regeneration, on the standard plan's memory spec for `claim`:
    one fill and nonce pass, then `draws` fresh opening draws, each checked in full."""
    from poai.challenges import memory
    from poai.challenges.common import Budget

    spec = memory.make_spec(Budget.from_claim(claim.to_core()))
    rows = []
    for frac in (0.05, 0.10, 0.25):
        t0 = time.perf_counter()
        work = adv.memory_cheat_work(spec, drop_fraction=frac, regenerate_in_pass=False)
        c = work.run()
        nreq = memory.choose_nonce(spec, c)
        nc = work.nonce_pass(nreq)
        survived = 0
        for _ in range(draws):
            req = memory.choose_openings(spec, c)
            problems = memory.check_openings(spec, c, req, work.open(req), nonce_request=nreq, nonce_commitment=nc)
            survived += all(p is None for p in problems)
        bound = (1 - frac) ** spec.openings
        rows.append({"attack": f"memory: drop {frac:.0%} of blocks", "spec": f"{spec.total_bytes >> 20} MiB "
                     f"m={spec.openings}", "draws": draws, "survived": survived, "rate": survived / draws,
                     "work_fraction": 1 - frac, "bound": bound, "seconds": time.perf_counter() - t0})
        console.print(f"  {rows[-1]['attack']:48s} {survived}/{draws} survived, bound {bound:.3g}")
    return rows


def bench_survival_inference(draws: int) -> list[dict[str, Any]]:
    """Answers from another model (the reference + 10% weight noise, `PerturbedModel`'s) on w of the
    standard plan's 16 prompts, the rest honest llama.cpp answers; `draws` fresh choices of the re-scored
    answer, each judged exactly as `inference.verify` judges it (inference.opening_survival)."""
    from edge_sdk.runtime import available_backends, load_backend
    from poai.challenges import inference
    from poai.challenges.common import Budget

    budget = Budget()
    ref = load_backend("torch")
    honest_backend = load_backend("llamacpp" if "llamacpp" in available_backends() else "torch")
    cheat_backend = adv.SwappedModelEngines(adv._perturbed).backend()
    spec = inference.make_spec(budget, model=ref.model_name)
    honest = inference.answer(honest_backend, spec)
    cheat = inference.answer(cheat_backend, spec)
    n, m = len(spec.prompts), budget.inference_checked
    rows = []
    for wrong in (1, 4, 8, n):
        t0 = time.perf_counter()
        survived, _ = inference.opening_survival(spec, adv.mixed_answer(honest, cheat, wrong), ref, m, draws)
        bound = inference.survival_bound(n, wrong, m)
        rows.append({"attack": f"inference: {wrong} of {n} answers from a 10%-noise model", "spec":
                     f"{n} prompts x {budget.inference_max_tokens} tokens, m={m}", "draws": draws,
                     "survived": survived, "rate": survived / draws, "work_fraction": (n - wrong) / n,
                     "bound": bound, "seconds": time.perf_counter() - t0})
        console.print(f"  {rows[-1]['attack']:48s} {survived}/{draws} survived, bound {bound:.3g}")
    for b in (ref, honest_backend, cheat_backend):
        b.close()
    return rows


# --------------------------------------------------------------------------------------- 3. detection


@dataclasses.dataclass
class Attack:
    name: str
    solver: type[Solver]
    # "strike" | "zero" | "capped" (score <= 0.5) | "bounded" (measured work >= 90% of wall) | "refused"
    expect: str
    what: str
    sessions: int = 1
    claim: NodeClaim | None = None


def attacks(claim: NodeClaim) -> list[Attack]:
    out = [Attack(n, a.solver, "strike", a.description, a.sessions) for n, a in adv.ADVERSARIES.items()
           if n not in ("relay", "bad-signature", "wrong-key", "replay-hello", "disconnect", "oversized")]
    expect = {
        "overclaim-tflops": "zero",  # times out (no strike) or measured far below its claim (strike)
        "drop-regenerate-memory": "capped",  # passes, but its bandwidth ratio caps the score
        "nan-logprobs": "zero",  # our encoder refuses NaN: the node gives up (a raw NaN is malformed: strike)
    }
    out = [dataclasses.replace(a, expect=expect.get(a.name, a.expect)) for a in out]
    out += [
        Attack("bad-signature", adv.BadSignature, "refused", "corrupted hello signature"),
        Attack("wrong-key", adv.WrongKey, "refused", "signs with another key"),
        Attack("replay-hello", adv.ReplayHello, "refused", "re-sends an old signed hello", 2),
        Attack("disconnect", adv.DisconnectMidChallenge, "zero", "hangs up mid-challenge"),
        Attack("delay-pongs", advp.DelayPongs, "strike", "delays every pong by 0.5 s"),
        Attack("delay-pongs-near-work", advp.DelayPongsAroundWork, "bounded",
               "answers the first pings, delays the rest by 0.5 s"),
        Attack("delay-all-but-commit", advp.DelayAllButCommitments, "bounded",
               "delays pongs and openings by 0.5 s, never commitments"),
        Attack("relay-300ms", _Relay300, "bounded", "relays every message to a remote device, 0.3 s RTT"),
        Attack("refuse-opening", advp.RefuseOpening, "strike", "commits, then refuses to open"),
        Attack("partial-during-compute", advp.PartialDuringCompute, "strike", "streams a partial into compute"),
        Attack("tiny-claim", Solver, "refused", "claims 1 MiB and 0.001 TOPS",
               claim=dataclasses.replace(claim, memory_bytes=1 << 20, claimed_tflops=0.001)),
    ]
    return out


class _Relay300(adv.RelayNode):
    delay_s = 0.3


def judge(attack: Attack, results: list[Any], history: list[Any]) -> tuple[bool, str]:
    last = results[-1]
    rec = history[0] if history else None
    reasons = (rec.reasons if rec else ()) or (getattr(last, "reasons", None) or [str(last)])
    reason = "; ".join(r for r in reasons if r != "all checks passed")[:200] or "all checks passed"
    if attack.expect == "refused":
        return (not history or len(history) < attack.sessions) and not getattr(last, "ok", False), reason
    if attack.expect == "strike":
        return bool(rec and rec.strike), reason
    if attack.expect == "zero":
        return bool(rec is not None and rec.score == 0.0), reason
    if attack.expect == "capped":
        return bool(rec is not None and rec.score <= 0.5), f"score {rec.score:.2f}; {reason}" if rec else reason
    if attack.expect == "bounded":  # caught outright, or its measured work is at least 90% of the wall
        if rec is None:
            return False, reason
        if rec.strike:
            return True, reason
        m = next((c.metrics for c in rec.checks if c.name == "compute"), {})
        wall, net = m.get("wall_seconds", 0.0), m.get("node_seconds", 0.0)
        ok = wall > 0 and net >= 0.9 * wall - 1e-9
        return ok, f"measured work {net:.3f} s of {wall:.3f} s wall ({wall / max(net, 1e-9):.3f}x inflation " \
                   f"at most); score {rec.score:.2f}; {reason}"
    return False, reason


def bench_detection(tmp: Path, claim: NodeClaim, backend: str | None) -> list[dict[str, Any]]:
    cfg = ChallengerConfig(port=0, metrics_port=None, db=str(tmp / "detection.sqlite"), plan="standard",
                           rate_limit_sessions=0)
    rows = []
    with BackgroundChallenger(cfg) as ch:
        for a in attacks(claim):
            c = a.claim or claim
            inference = None
            if backend and not issubclass(a.solver, adv._SwappedModel):
                inference = engines_for(backend)
                c = dataclasses.replace(c, backends=(backend,))
            solver = a.solver(NodeKey.generate(), c, "cpu", inference)
            t0 = time.perf_counter()
            results, history = run_local_sessions(ch, solver, a.sessions)
            caught, reason = judge(a, results, history)
            rows.append({"attack": a.name, "what": a.what, "expect": a.expect, "sessions": a.sessions,
                         "caught": caught, "score": history[0].score if history else 0.0,
                         "status": history[0].status if history else "refused", "reason": reason,
                         "seconds": time.perf_counter() - t0})
            console.print(f"  {a.name:24s} caught={caught} {reason[:110]}")
        # a verifier fault must not strike: the compute verifier raises for one honest session
        solver = Solver(NodeKey.generate(), dataclasses.replace(claim, backends=(backend,) if backend else ()),
                        "cpu", engines_for(backend) if backend else None)
        kind_cls = type(kinds.get("compute"))
        original = kind_cls.verify

        def boom(self: Any, state: Any) -> Any:
            raise MemoryError("simulated: the verifier ran out of memory")

        kind_cls.verify = boom
        try:
            rec = run_local_sessions(ch, solver)[1][0]
        finally:
            kind_cls.verify = original
        rows.append({"attack": "verifier-fault", "what": "the challenger's verifier raises (not the node)",
                     "expect": "no_strike", "sessions": 1, "caught": not rec.strike
                     and rec.status == "challenger_fault", "score": rec.score, "status": rec.status,
                     "reason": "; ".join(rec.reasons)[:200], "seconds": 0.0})
    return rows


# ------------------------------------------------------------------------------------------ output


def tables(results: dict[str, Any]) -> None:
    t = Table(title="detection on the standard plan (one end-to-end session per attack)")
    for col in ("attack", "what it does", "expected", "status", "score", "caught", "stated reason"):
        t.add_column(col, overflow="fold")
    for r in results["detection"]:
        t.add_row(r["attack"], r["what"], r["expect"], r["status"], f"{r['score']:.3f}",
                  "[green]yes[/]" if r["caught"] else "[red]NO[/]", r["reason"][:150])
    console.print(t)
    t = Table(title="survival on the verifier (one cheating commitment, fresh opening draws, full verify)")
    for col in ("attack", "spec", "work done", "draws", "survived", "measured", "stated bound", "within"):
        t.add_column(col)
    for r in results["survival"]:
        within = r["rate"] <= r["bound"] + 5 * (max(r["bound"] * (1 - r["bound"]), 1 / r["draws"]) / r["draws"]) ** 0.5
        t.add_row(r["attack"], r["spec"], f"{r['work_fraction']:.3f}", str(r["draws"]), str(r["survived"]),
                  f"{r['rate']:.4f}", f"{r['bound']:.3g}", "[green]yes[/]" if within else "[red]NO[/]")
    console.print(t)
    h = results["honest"]
    if h:
        t = Table(title=f"honest: {h['sessions']} sessions of the full standard plan; verifier cost per challenge")
        for col in ("challenge", "sessions", "node s (median)", "verify s (median)", "ratio median", "ratio max",
                    "target"):
            t.add_column(col)
        for name, m in h["cost"].items():
            ok = m["ratio_median"] <= TARGET_RATIO
            t.add_row(name, f"{m['sessions']:.0f}", f"{m['node_seconds_median']:.3f}",
                      f"{m['verify_seconds_median']:.4f}", f"[{'green' if ok else 'red'}]{m['ratio_median']:.1%}[/]",
                      f"{m['ratio_max']:.1%}", f"<= {TARGET_RATIO:.0%}")
        console.print(t)
        console.print(
            f"honest: {h['false_positives']} false positives in {h['sessions']} sessions ({h['recorded']} recorded); "
            f"min score per backend {h['score_min_per_backend']}; challenger CPU "
            f"{h['challenger_cpu_seconds_per_session']:.3f} s/session -> "
            f"{h['sessions_per_minute_per_core']:.0f} sessions/min per challenger core on the default plan"
        )
    d = results["detection"]
    console.print(f"detection: {sum(r['caught'] for r in d)}/{len(d)} attacks caught or bounded")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer sessions and draws (smoke run)")
    parser.add_argument("--honest", type=int, default=50, help="honest sessions of the full plan")
    parser.add_argument("--draws", type=int, default=1000, help="opening draws per survival statistic")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: honest,survival,detection")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "poai.json"))
    args = parser.parse_args(argv)
    from edge_sdk.runtime import available_backends

    skip = {s for s in args.skip.split(",") if s}
    backends = [b for b in ("llamacpp", "torch") if b in available_backends()]
    honest_n = 4 if args.quick else max(50, args.honest)
    draws = 100 if args.quick else args.draws
    t_start = time.perf_counter()
    results: dict[str, Any] = {"honest": {}, "survival": [], "detection": []}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if "honest" not in skip:
            console.print(f"[bold]honest sessions[/] ({honest_n}, backends {backends})")
            results["honest"] = bench_honest(tmp, honest_n, backends, 256 << 20)
        console.print("[bold]the attacks' claim[/] (measured now, both cores)")
        claim = measured_claim(64 << 20)
        console.print(f"  {claim.claimed_tflops:.4g} TOPS, {claim.memory_bytes >> 20} MiB at "
                      f"{claim.memory_bandwidth_gbs:.3g} GB/s")
        if "survival" not in skip:
            console.print(f"[bold]survival[/] ({draws} draws per attack)")
            results["survival"] = bench_survival_compute(claim, draws) + bench_survival_memory(
                dataclasses.replace(claim, memory_bytes=256 << 20), draws) + bench_survival_inference(draws)
        if "detection" not in skip:
            console.print("[bold]detection[/]")
            results["detection"] = bench_detection(tmp, claim, backends[0] if backends else None)
    results.update({
        "generated_at": time.time(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "wall_seconds": time.perf_counter() - t_start,
    })
    tables(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
