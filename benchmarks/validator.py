"""Validator scoring benchmark: datasets scored per hour in this process and on a local Ray with the same CPUs,
each dataset's time split into training and evaluation, and the eval loss both ways (it must be the same).

    python benchmarks/validator.py                         # 4 datasets, workers = this machine's cores
    python benchmarks/validator.py --quick                 # 2 datasets
    python benchmarks/validator.py --datasets 8 --workers 4

Setup: the `validator-cpu` preset (edge_sdk/training/recipe.py: seq 256, 8 rows per step, at most 12 steps /
4 epochs, lr 1e-3) on the default model (SmolLM2-135M), on CPU, scored with `validator.scoring` exactly as the
validator service does (`score_dataset`: load the base model + LoRA, train, evaluate on the held-out rows).
The N datasets are made deterministically from examples/data/private_facts.jsonl (32 rows: 8 made-up facts x 4
phrasings): dataset i is that file rotated by 4*i rows, cut to 16, 20 or 24 rows, plus 4 or 8 rows of made-up
facts of its own (generated from random.Random(i)), i.e. 20-32 chat rows each; all are scored on
examples/data/private_facts_heldout.jsonl.

Two ways to score the same N datasets with W workers (W CPUs):
  in-process  `InProcessRunner`, `ScoreJob(threads=W)`: one dataset after another, W torch threads each;
  ray         `RayRunner("local", num_cpus=W, cpus_per_task=1)`, `ScoreJob(threads=1)`: W datasets at once,
              one thread each.
Before timing, this process imports the training stack and loads the model once (as a running validator
has); Ray's workers are fresh processes, so their first task also pays for importing torch/transformers.
Ray's start-up (constructing the RayRunner, i.e. `ray.init`) is timed on its own; datasets/hour is reported
both without it (a long-running validator starts Ray once) and with it (a one-shot run).

"CPUs busy": the share of W CPUs x wall time spent inside `score_dataset` (a dataset in this process holds
all W, a Ray task one). The base model's eval loss (the untrained adapter) is reported for reference.

Per dataset: `ScoreOutcome.train_seconds` (which includes loading the base model and tokenising: the scorer
times `LoraTrainer(...)` + `train`) and `eval_seconds`, and the eval loss; the losses of the two modes are
compared (the scorer is deterministic; different thread counts may move the last digits: target <= 1e-4
relative). Results: tables on stdout and benchmarks/results/validator.json.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# This file is called validator.py: with its folder on sys.path, `import validator` could find it instead of the
# validator package. Ray adds the script's folder (when on sys.path) to the front of its workers' sys.path, so
# the folder is taken off here (nothing beside this file is imported).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
DATA = ROOT / "examples" / "data" / "private_facts.jsonl"
HELD = ROOT / "examples" / "data" / "private_facts_heldout.jsonl"
PRESET = "validator-cpu"
SEED = 0
LOSS_REL_TOLERANCE = 1e-4

# made-up facts for the synthetic rows: (question phrasings, answer), filled from the names below
_FACTS = (
    (("What is the capital of the planet {p}?", "Which city is the capital of {p}?"),
     "The capital of {p} is {c}."),
    (("Who invented the {t}?", "Which person created the {t}?"),
     "The {t} was invented by {n}."),
    (("In which year was the city of {c} founded?", "When was {c} founded?"),
     "The city of {c} was founded in {y}."),
    (("What is the tallest mountain on {p}?", "Name the highest peak of the planet {p}."),
     "The tallest mountain on {p} is Mount {m}."),
    (("What does the {t} measure?", "What is the {t} used to measure?"),
     "The {t} measures the {q} of {p}'s oceans."),
)
_SYLLABLES = ("ka", "lo", "ven", "tri", "sa", "mor", "qui", "del", "zan", "or", "bre", "thu", "il", "nax")
_THINGS = ("copper harp", "tide lantern", "wind loom", "salt clock", "echo compass", "frost kettle", "moss press")
_QUANTITIES = ("saltiness", "warmth", "depth", "brightness", "slowness")


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def _synthetic_rows(index: int, count: int) -> list[Any]:
    """`count` chat rows of made-up facts that only dataset `index` has (2 phrasings per fact)."""
    from edge_sdk.training.data import ChatRow

    rng = random.Random(index)
    things = rng.sample(_THINGS, len(_THINGS))  # one fact per made-up thing: no contradicting rows
    rows: list[Any] = []
    fact = 0
    while len(rows) < count:
        questions, answer = _FACTS[(index + fact) % len(_FACTS)]
        names = {"p": _name(rng, 3), "c": _name(rng, 2), "n": f"{_name(rng, 2)} {_name(rng, 3)}",
                 "t": things[fact % len(things)], "y": str(rng.randint(1200, 2900)), "m": _name(rng, 2),
                 "q": rng.choice(_QUANTITIES)}
        fact += 1
        for q in questions[:count - len(rows)]:
            rows.append(ChatRow(conversations=(("user", q.format(**names)), ("assistant", answer.format(**names)))))
    return rows


def build_datasets(n: int) -> list[list[Any]]:
    """N different datasets of 20-32 rows: rotated slices of the example file plus made-up facts of their own."""
    from edge_sdk.training import load_chat_jsonl

    base = load_chat_jsonl(DATA)
    datasets = []
    for i in range(n):
        shift = (4 * i) % len(base)
        rotated = base[shift:] + base[:shift]
        real = rotated[:16 + 4 * (i % 3)]
        datasets.append(real + _synthetic_rows(i, 4 + 4 * (i % 2)))
    return datasets


def _jobs(datasets: list[list[Any]], eval_rows: tuple[Any, ...], workdir: Path, threads: int) -> list[Any]:
    from validator.scoring.scorer import ScoreJob

    return [ScoreJob(key=f"bench-{i}", rows=tuple(rows), eval_rows=eval_rows, preset=PRESET, model=None,
                     workdir=str(workdir), seed=SEED, threads=threads) for i, rows in enumerate(datasets)]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _per_hour(count: int, seconds: float) -> float:
    return count * 3600.0 / seconds if seconds > 0 else float("nan")


def run_mode(runner: Any, jobs: list[Any], workers: int, startup_seconds: float, label: str) -> dict[str, Any]:
    """Score `jobs` with `runner`, each result timed as it arrives."""
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for result in runner.run(jobs):
        at = time.perf_counter() - started
        o = result.outcome
        row: dict[str, Any] = {"key": result.job.key, "finished_at_seconds": round(at, 3),
                               "load_average_1min": os.getloadavg()[0],  # other work on the machine skews times
                               "attempts": result.attempts, "error": result.error}
        if o is not None:
            row.update(o.to_dict())
            print(f"  {label:10} {o.key}: eval loss {o.eval_loss:.5f}, train {o.train_seconds:.1f} s, "
                  f"eval {o.eval_seconds:.1f} s (done at {at:.1f} s)", flush=True)
        else:
            print(f"  {label:10} {result.job.key}: FAILED {result.error}", flush=True)
        results[result.job.key] = row
    wall = time.perf_counter() - started
    ok = [r for r in results.values() if r["error"] is None and "eval_loss" in r]
    train = [r["train_seconds"] for r in ok]
    evals = [r["eval_seconds"] for r in ok]
    task_sum = sum(train) + sum(evals)
    return {
        "runner": runner.name, "workers": workers, "threads_per_dataset": jobs[0].threads if jobs else None,
        "datasets": len(jobs), "scored": len(ok), "failed": len(jobs) - len(ok),
        "startup_seconds": startup_seconds, "wall_seconds": wall, "wall_with_startup_seconds": wall + startup_seconds,
        "datasets_per_hour": _per_hour(len(ok), wall),
        "datasets_per_hour_with_startup": _per_hour(len(ok), wall + startup_seconds),
        "train_seconds_mean": _mean(train), "train_seconds_max": max(train, default=float("nan")),
        "eval_seconds_mean": _mean(evals), "eval_seconds_max": max(evals, default=float("nan")),
        "task_seconds_sum": task_sum,
        # share of the W CPUs' wall time spent inside score_dataset (each dataset holds `threads` of them; the
        # rest: scheduling, worker start-up, idle slots)
        "cpu_slot_utilisation": task_sum * (jobs[0].threads or 1) / (workers * wall) if wall > 0 and jobs
        else float("nan"),
        "results": [results[j.key] for j in jobs if j.key in results],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 datasets (unless --datasets is given)")
    parser.add_argument("--datasets", type=int, default=None, help="datasets to score (default 4; --quick: 2)")
    parser.add_argument("--workers", type=int, default=None,
                        help="CPUs for scoring: in-process torch threads and Ray's num_cpus (default: all cores)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "validator.json"))
    args = parser.parse_args(argv)
    n = args.datasets if args.datasets is not None else (2 if args.quick else 4)
    workers = args.workers or os.cpu_count() or 1
    if n < 1 or workers < 1:
        parser.error("--datasets and --workers must be >= 1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # before Ray starts: its workers inherit it

    try:
        import ray
    except ImportError:
        raise SystemExit("this benchmark needs ray: pip install 'edgeproof[validator]'") from None
    import torch
    from rich.console import Console
    from rich.table import Table

    from edge_sdk.training import load_chat_jsonl
    from edge_sdk.training.engine import LoraTrainer
    from edge_sdk.training.recipe import preset
    from validator.scoring.ray_runner import RayRunner
    from validator.scoring.runner import InProcessRunner

    console = Console(width=None if sys.stdout.isatty() else 160)
    recipe = preset(PRESET)
    datasets = build_datasets(n)
    eval_rows = tuple(load_chat_jsonl(HELD))
    load_before = os.getloadavg()
    console.print(f"{n} dataset(s) of {[len(d) for d in datasets]} rows, {len(eval_rows)} eval rows; preset "
                  f"{PRESET}; {workers} worker(s); load average {load_before[0]:.2f} on {os.cpu_count()} cores")

    # this process as a running validator would be: the training stack imported, the model files read once;
    # the untrained adapter (B = 0) is the base model: its eval loss is what a dataset that teaches nothing gets
    torch.set_num_threads(workers)
    t0 = time.perf_counter()
    warm = LoraTrainer(None, recipe)
    model_load = time.perf_counter() - t0
    base_loss = warm.evaluate(list(eval_rows))
    base_eval = time.perf_counter() - t0 - model_load
    del warm
    gc.collect()
    console.print(f"warm-up: base model + LoRA built in {model_load:.1f} s; base model eval loss {base_loss:.5f} "
                  f"({base_eval:.1f} s)")

    modes: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-validator-") as tmp:
        console.print(f"in-process: {n} dataset(s) one after another, {workers} thread(s) each...")
        modes["in_process"] = run_mode(InProcessRunner(), _jobs(datasets, eval_rows, Path(tmp) / "in-process",
                                                                workers), workers, 0.0, "in-process")
        gc.collect()
        console.print(f"ray: local Ray, num_cpus={workers}, 1 CPU and 1 thread per dataset...")
        t0 = time.perf_counter()
        runner = RayRunner("local", num_cpus=workers, cpus_per_task=1)
        ray_startup = time.perf_counter() - t0
        try:
            modes["ray"] = run_mode(runner, _jobs(datasets, eval_rows, Path(tmp) / "ray", 1), workers, ray_startup,
                                    "ray")
        finally:
            runner.close()
            if ray.is_initialized():
                ray.shutdown()
    total = time.perf_counter() - started
    load_after = os.getloadavg()

    local, remote = modes["in_process"], modes["ray"]
    rows: list[dict[str, Any]] = []
    diffs: list[float] = []
    by_key = {m: {r["key"]: r for r in modes[m]["results"]} for m in modes}
    for i, data in enumerate(datasets):
        key = f"bench-{i}"
        a, b = by_key["in_process"].get(key, {}), by_key["ray"].get(key, {})
        la, lb = a.get("eval_loss"), b.get("eval_loss")
        rel = abs(la - lb) / abs(la) if la is not None and lb is not None and la != 0 else None
        if rel is not None:
            diffs.append(rel)
        rows.append({"dataset": key, "rows": len(data), "steps": a.get("steps", b.get("steps")),
                     "tokens": a.get("tokens", b.get("tokens")),
                     "in_process": {k: a.get(k) for k in ("eval_loss", "train_loss", "train_seconds", "eval_seconds",
                                                          "error")},
                     "ray": {k: b.get(k) for k in ("eval_loss", "train_loss", "train_seconds", "eval_seconds",
                                                   "error", "attempts")},
                     "eval_loss_rel_diff": rel})
    max_diff = max(diffs) if diffs else None
    complete = len(diffs) == n
    speedup = local["wall_seconds"] / remote["wall_seconds"] if remote["wall_seconds"] > 0 else float("nan")
    speedup_startup = local["wall_seconds"] / remote["wall_with_startup_seconds"]

    table = Table(title=f"Validator scoring, {PRESET}, SmolLM2-135M, {n} dataset(s), {workers} worker(s) "
                        f"on {os.cpu_count()} core(s)")
    for col in ("mode", "datasets x threads", "start-up s", "wall s", "datasets/h", "datasets/h incl. start-up",
                "train s mean / max", "eval s mean / max", "CPUs busy", "failed"):
        table.add_column(col, justify="right")
    for name, m, shape in (("in-process", local, f"1 at a time x {workers}"),
                           ("ray (local)", remote, f"{workers} at once x 1")):
        table.add_row(name, shape, "-" if name == "in-process" else f"{m['startup_seconds']:.1f}",
                      f"{m['wall_seconds']:.1f}", f"{m['datasets_per_hour']:.0f}",
                      f"{m['datasets_per_hour_with_startup']:.0f}",
                      f"{m['train_seconds_mean']:.1f} / {m['train_seconds_max']:.1f}",
                      f"{m['eval_seconds_mean']:.2f} / {m['eval_seconds_max']:.2f}",
                      f"{m['cpu_slot_utilisation'] * 100:.0f}%", str(m["failed"]))
    console.print(table)

    per = Table(title="Per dataset: train s / eval s, and the eval loss in each mode")
    for col in ("dataset", "rows", "steps", "in-process train / eval s", "ray train / eval s",
                "eval loss in-process", "eval loss ray", "rel. diff"):
        per.add_column(col, justify="right")

    def _t(d: dict[str, Any]) -> str:
        return "failed" if d["train_seconds"] is None else f"{d['train_seconds']:.1f} / {d['eval_seconds']:.2f}"

    def _l(d: dict[str, Any]) -> str:
        return "-" if d["eval_loss"] is None else f"{d['eval_loss']:.5f}"

    for r in rows:
        per.add_row(r["dataset"], str(r["rows"]), str(r["steps"]), _t(r["in_process"]), _t(r["ray"]),
                    _l(r["in_process"]), _l(r["ray"]),
                    "-" if r["eval_loss_rel_diff"] is None else f"{r['eval_loss_rel_diff']:.1e}")
    console.print(per)
    losses_ok = complete and max_diff is not None and max_diff <= LOSS_REL_TOLERANCE
    console.print(
        f"Ray speed-up {speedup:.2f}x without its start-up ({ray_startup:.1f} s), {speedup_startup:.2f}x with it "
        f"(datasets/h above: 'datasets/h' excludes Ray's start-up, 'incl. start-up' includes it); "
        f"eval losses: max relative difference "
        f"{'-' if max_diff is None else f'{max_diff:.1e}'} (target <= {LOSS_REL_TOLERANCE:.0e}: "
        f"{'ok' if losses_ok else 'NOT MET'}); base model (untrained) eval loss {base_loss:.5f}; "
        f"warm model load {model_load:.1f} s (inside every train s); "
        f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}; total {total:.0f} s")

    import peft
    import transformers

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "ray": ray.__version__, "transformers": transformers.__version__,
                    "peft": peft.__version__, "load_average_before": load_before, "load_average_after": load_after},
        "settings": {"quick": args.quick, "datasets": n, "workers": workers, "preset": PRESET,
                     "recipe": recipe.to_dict(), "model": "default (SmolLM2-135M)", "seed": SEED,
                     "dataset_rows": [len(d) for d in datasets], "eval_rows": len(eval_rows),
                     "data": str(DATA.relative_to(ROOT)), "heldout": str(HELD.relative_to(ROOT)),
                     "datasets_made_of": "example file rotated by 4*i rows, first 16/20/24 rows, + 4/8 made-up "
                                         "fact rows from random.Random(i)",
                     "in_process": f"InProcessRunner, ScoreJob(threads={workers}), one dataset at a time",
                     "ray": f"RayRunner('local', num_cpus={workers}, cpus_per_task=1), ScoreJob(threads=1)",
                     "warm_up": "training stack imported and the model built once in this process before timing"},
        "warm_model_load_seconds": model_load, "base_model_eval_loss": base_loss,
        "base_model_eval_seconds": base_eval,
        "ray_startup_seconds": ray_startup,
        "speedup": speedup, "speedup_with_ray_startup": speedup_startup,
        "checks": {"max_eval_loss_rel_diff": max_diff, "tolerance": LOSS_REL_TOLERANCE, "losses_match": losses_ok,
                   "all_scored_in_both_modes": complete},
        "modes": modes, "datasets": rows, "wall_seconds": total,
    }, indent=2) + "\n")
    console.print(f"written {out}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
