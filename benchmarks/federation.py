"""Federated LoRA benchmark: time per local step and per round, bytes on the wire per round, and held-out eval
loss per round for FedAvg (float32 and int8_zlib updates), FFA-LoRA and centralised training on the same rows.

    python benchmarks/federation.py                  # 3 rounds x 5 local steps (a few minutes on 2 cores)
    python benchmarks/federation.py --quick          # 1 round x 2 local steps, FedAvg float32 / int8 + centralised
    python benchmarks/federation.py --rounds 5 --local-steps 10 --threads 2

Setup: SmolLM2-135M (the default model) on CPU, the `federated` recipe (seq 256, constant lr 1e-3, 8 rows per
optimizer step), examples/data/private_facts.jsonl split into 3 disjoint client shards (rows[i::3]), scored
on examples/data/private_facts_heldout.jsonl (mean loss per assistant token, `GlobalModel.evaluate`).

Rounds are simulated in this process with the code a real client and coordinator run, without the gRPC
transport. Per round and client: the global adapter goes through the wire format (`weights_bytes` as float32,
`parse_weights`) into a peft folder (`write_peft_folder`), `train_round` trains `local_steps` optimizer steps
under the task as the client receives it (`ReceivedTask.from_proto(task.to_proto(model))`) and the round's
seed (`task.round_seed(round, 1)` + the client's index), and `make_update` turns the result into the upload
(the delta from the global adapter, privacy off, the task's `update_encoding`). The coordinator then checks
and decodes each payload (`parse_weights`), adds it to the global adapter, aggregates with the task's rule and
scores the new version with `GlobalModel.evaluate`; its float32 serialisation is the next download.

Reported per configuration (rule, update encoding):
- eval loss per round (version 0 = the fresh adapter, B = 0, i.e. the base model) and the final loss;
- bytes per round: the uploads (sum over clients of the payload in the task's encoding) and, on the same
  deltas, their size as float32 / float32_zlib / int8_zlib (ratio fp32 : int8_zlib, target >= 3.5x), plus the
  global adapter download (one client's and all clients');
- seconds per local optimizer step (TrainResult.seconds / steps, per client) and seconds per round: the
  clients one after another in this process (as one machine would: peft folder + model load + training +
  update encoding) plus the coordinator (decode + aggregate + encode + evaluate); and, for clients on their
  own devices, the slowest client plus the coordinator. An optimizer step is 8 rows, but a shard of 10-11
  rows also has steps of 2-3 rows: compare with centralised through tokens_per_step in the JSON.
Centralised: one LoraTrainer on the union of the shards, the same recipe, rounds x local_steps optimizer
steps, trained `local_steps` at a time (stop_after_steps, resume into the same folder) and scored after each.

Results: tables on stdout and benchmarks/results/federation.json.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "examples" / "data" / "private_facts.jsonl"
HELD = ROOT / "examples" / "data" / "private_facts_heldout.jsonl"
NUM_CLIENTS = 3
ENCODINGS = ("float32", "float32_zlib", "int8_zlib")
RATIO_TARGET = 3.5  # int8_zlib at least this many times smaller than float32
LOSS_GAP_TARGET = 0.01  # int8_zlib's final eval loss within 1% of float32's


@dataclass(frozen=True)
class Config:
    name: str
    rule: str
    encoding: str


CONFIGS = (Config("fedavg-float32", "fedavg", "float32"),
           Config("fedavg-int8", "fedavg", "int8_zlib"),
           Config("ffa_lora-int8", "ffa_lora", "int8_zlib"))
QUICK_CONFIGS = CONFIGS[:2]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def run_federated(config: Config, shards: list[list[Any]], heldout: list[Any], rounds: int, local_steps: int,
                  work: Path) -> dict[str, Any]:
    """`rounds` rounds of the shipped client and coordinator code, in this process."""
    import numpy as np

    from edge_sdk.federation.aggregation import ClientUpdate, aggregate
    from edge_sdk.federation.client.local_round import make_update, train_round
    from edge_sdk.federation.coordinator.global_model import GlobalModel
    from edge_sdk.federation.peft_folder import write_peft_folder
    from edge_sdk.federation.privacy import PrivacyAccountant
    from edge_sdk.federation.task import FederationTask, ReceivedTask
    from edge_sdk.federation.tensors import add, load_adapter_tensors, subtract, update_problems
    from edge_sdk.federation.transfer import parse_weights, weights_bytes

    task = FederationTask(task_id=f"bench-{config.name}", rounds=rounds, local_steps=local_steps,
                          aggregation=config.rule, update_encoding=config.encoding,
                          clients_per_round=NUM_CLIENTS, quorum=NUM_CLIENTS)
    t0 = time.perf_counter()
    global_model = GlobalModel(None, task.client_recipe(), heldout)
    load_s = time.perf_counter() - t0
    received = ReceivedTask.from_proto(task.to_proto(global_model.model_name))  # what the wire gives a client
    global_tensors = global_model.initial_tensors()
    limit = sum(t.size for t in global_tensors.values())
    base_loss = global_model.evaluate(global_tensors)
    eval_losses = [base_loss]
    round_records = []
    for round_no in range(1, rounds + 1):
        download = weights_bytes(global_tensors, "float32")  # the coordinator serves versions as float32
        seed = task.round_seed(round_no, 1)
        clients, payloads = [], []
        for index, shard in enumerate(shards):
            client_dir = work / config.name / f"round-{round_no}" / f"client-{index}"
            global_dir, train_dir = client_dir / "global", client_dir / "train"
            t_start = time.perf_counter()
            write_peft_folder(global_dir, parse_weights(download, encodings=("float32",)), received.recipe)
            t_folder = time.perf_counter()
            result = train_round(model=None, task=received, global_dir=global_dir, rows=shard, out_dir=train_dir,
                                 seed=seed + index, default_system=None, should_stop=lambda: False, progress=None)
            t_trained = time.perf_counter()
            if result.steps < result.total_steps:
                raise SystemExit(f"{config.name}: client {index} stopped after {result.steps} of "
                                 f"{result.total_steps} steps")
            payload, norm, _epsilon = make_update(task=received, global_dir=global_dir, trained_dir=train_dir,
                                                  accountant=PrivacyAccountant(),
                                                  rng=np.random.default_rng(seed + index))
            t_end = time.perf_counter()
            # not timed: the same delta in every encoding, for the size comparison
            delta = subtract(load_adapter_tensors(train_dir), load_adapter_tensors(global_dir))
            sizes = {enc: len(payload) if enc == received.update_encoding else len(weights_bytes(delta, enc))
                     for enc in ENCODINGS}
            shutil.rmtree(client_dir, ignore_errors=True)
            payloads.append((f"client-{index}", payload, len(shard)))
            clients.append({
                "client": index, "rows": len(shard), "steps": result.steps, "train_seconds": result.seconds,
                "seconds_per_step": result.seconds / result.steps, "tokens_per_step": result.tokens / result.steps,
                "micro_batch": result.micro_batch,
                "train_loss": result.final_loss, "update_norm": norm, "upload_bytes": len(payload),
                "delta_bytes": sizes,
                "seconds": {"global_folder": t_folder - t_start, "train_round": t_trained - t_folder,
                            "model_load_and_setup": (t_trained - t_folder) - result.seconds,
                            "make_update": t_end - t_trained, "total": t_end - t_start},
            })
        # the coordinator: each payload checked as it arrives (RoundDriver._check_update), then the round
        # aggregated and scored (RoundDriver._aggregate)
        t_start = time.perf_counter()
        for client_id, payload, _n in payloads:
            problems = update_problems(global_tensors, parse_weights(payload, max_elements=limit,
                                                                     encodings=(task.update_encoding,)))
            if problems:
                raise SystemExit(f"{config.name}: the coordinator refuses {client_id}'s update: {problems}")
        t_checked = time.perf_counter()
        updates = [ClientUpdate(client_id, add(global_tensors, parse_weights(payload)), n)
                   for client_id, payload, n in payloads]
        aggregated = aggregate(task.aggregation, updates, **task.aggregation_params)
        t_aggregated = time.perf_counter()
        loss = global_model.evaluate(aggregated.tensors)
        t_evaluated = time.perf_counter()
        next_download = weights_bytes(aggregated.tensors, "float32")
        t_end = time.perf_counter()
        global_tensors = aggregated.tensors
        eval_losses.append(loss)
        coordinator = {"check": t_checked - t_start, "aggregate": t_aggregated - t_checked,
                       "evaluate": t_evaluated - t_aggregated, "encode_global": t_end - t_evaluated,
                       "total": t_end - t_start}
        client_totals = [c["seconds"]["total"] for c in clients]
        upload = {enc: sum(c["delta_bytes"][enc] for c in clients) for enc in ENCODINGS}
        record = {
            "round": round_no, "seed": seed, "eval_loss": loss, "clients": clients,
            "coordinator_seconds": coordinator,
            "round_seconds_sequential": sum(client_totals) + coordinator["total"],
            "round_seconds_parallel": max(client_totals) + coordinator["total"],
            "upload_bytes": sum(c["upload_bytes"] for c in clients),
            "upload_bytes_by_encoding": upload,
            "int8_zlib_ratio": upload["float32"] / upload["int8_zlib"],
            "float32_zlib_ratio": upload["float32"] / upload["float32_zlib"],
            "download_bytes_per_client": len(download),
            "download_bytes": len(download) * len(shards),
            "next_global_bytes": len(next_download),
        }
        round_records.append(record)
        print(f"  {config.name:16} round {round_no}: eval loss {loss:.4f}, "
              f"{record['round_seconds_sequential']:.1f} s, uploads {record['upload_bytes'] / 2**20:.2f} MiB",
              flush=True)
    del global_model
    gc.collect()
    all_clients = [c for r in round_records for c in r["clients"]]
    return {
        "rule": config.rule, "encoding": config.encoding, "task": task.task_id,
        "client_recipe": received.local_recipe(0).to_dict(), "coordinator_model_load_seconds": load_s,
        "base_loss": base_loss, "eval_loss": eval_losses, "final_eval_loss": eval_losses[-1],
        "seconds_per_step": _mean([c["seconds_per_step"] for c in all_clients]),
        "tokens_per_step": _mean([c["tokens_per_step"] for c in all_clients]),
        "seconds_per_step_by_client": [_mean([c["seconds_per_step"] for c in all_clients if c["client"] == i])
                                       for i in range(len(shards))],
        "round_seconds_sequential": _mean([r["round_seconds_sequential"] for r in round_records]),
        "round_seconds_parallel": _mean([r["round_seconds_parallel"] for r in round_records]),
        "upload_bytes_per_round": _mean([r["upload_bytes"] for r in round_records]),
        "upload_bytes_by_encoding_per_round": {enc: _mean([r["upload_bytes_by_encoding"][enc] for r in round_records])
                                               for enc in ENCODINGS},
        "int8_zlib_ratio": _mean([r["int8_zlib_ratio"] for r in round_records]),
        "float32_zlib_ratio": _mean([r["float32_zlib_ratio"] for r in round_records]),
        "download_bytes_per_round": _mean([r["download_bytes"] for r in round_records]),
        "rounds": round_records,
    }


def run_centralised(rows: list[Any], heldout: list[Any], rounds: int, local_steps: int, work: Path
                    ) -> dict[str, Any]:
    """One trainer on all the clients' rows, rounds x local_steps steps, scored every local_steps steps."""
    from edge_sdk.federation.task import FederationTask
    from edge_sdk.training.engine import LoraTrainer

    total = rounds * local_steps
    recipe = FederationTask().client_recipe().with_(max_steps=total, epochs=total)
    t0 = time.perf_counter()
    trainer = LoraTrainer(None, recipe)
    load_s = time.perf_counter() - t0
    held = trainer.encode(heldout)
    out = work / "centralised"
    base_loss = trainer.evaluate(held)
    eval_losses, increments = [base_loss], []
    for round_no in range(1, rounds + 1):
        t_start = time.perf_counter()
        result = trainer.train(rows, out, resume=True, stop_after_steps=round_no * local_steps)
        t_trained = time.perf_counter()
        loss = trainer.evaluate(held)
        t_end = time.perf_counter()
        steps = result.steps - result.resumed_from_step
        eval_losses.append(loss)
        increments.append({"round": round_no, "steps": steps, "total_steps_so_far": result.steps,
                           "train_seconds": result.seconds, "seconds_per_step": result.seconds / steps,
                           "tokens_per_step": result.tokens / steps,
                           "micro_batch": result.micro_batch, "train_loss": result.final_loss, "eval_loss": loss,
                           "seconds": {"train": t_trained - t_start, "evaluate": t_end - t_trained,
                                       "total": t_end - t_start}})
        print(f"  {'centralised':16} round {round_no}: eval loss {loss:.4f}, {t_end - t_start:.1f} s", flush=True)
    del trainer
    gc.collect()
    return {
        "rule": "centralised", "encoding": None, "recipe": recipe.to_dict(), "rows": len(rows),
        "model_load_seconds": load_s, "base_loss": base_loss, "eval_loss": eval_losses,
        "final_eval_loss": eval_losses[-1],
        "seconds_per_step": sum(i["train_seconds"] for i in increments) / sum(i["steps"] for i in increments),
        "tokens_per_step": sum(i["tokens_per_step"] * i["steps"] for i in increments)
        / sum(i["steps"] for i in increments),
        "round_seconds_sequential": _mean([i["seconds"]["total"] for i in increments]),
        "rounds": increments,
    }


def _mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="1 round x 2 local steps; FedAvg float32 vs int8_zlib and centralised only")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--local-steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "federation.json"))
    args = parser.parse_args(argv)
    rounds, local_steps = (1, 2) if args.quick else (args.rounds, args.local_steps)
    if rounds < 1 or local_steps < 1:
        parser.error("--rounds and --local-steps must be >= 1")
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    from rich.console import Console
    from rich.table import Table

    from edge_sdk.training import load_chat_jsonl
    from edge_sdk.training.recipe import FEDERATED_RECIPE

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    console = Console(width=None if sys.stdout.isatty() else 160)
    rows, heldout = load_chat_jsonl(DATA), load_chat_jsonl(HELD)
    shards = [rows[i::NUM_CLIENTS] for i in range(NUM_CLIENTS)]
    union = [r for shard in shards for r in shard]
    console.print(f"{len(rows)} rows in {NUM_CLIENTS} shards of {[len(s) for s in shards]}, {len(heldout)} held-out "
                  f"rows; {rounds} round(s) x {local_steps} local steps; {threads} torch thread(s)")

    results: dict[str, Any] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-federation-") as tmp:
        work = Path(tmp)
        for config in configs:
            console.print(f"running {config.name}...")
            results[config.name] = run_federated(config, shards, heldout, rounds, local_steps, work)
        console.print("running centralised...")
        results["centralised"] = run_centralised(union, heldout, rounds, local_steps, work)
    wall = time.perf_counter() - started

    base_loss = results[configs[0].name]["base_loss"]
    table = Table(title=f"Federated LoRA, SmolLM2-135M, {NUM_CLIENTS} clients, {rounds} round(s) x {local_steps} "
                        f"local steps, seq {FEDERATED_RECIPE.max_seq_len}, {threads} thread(s)")
    for col in ("run (rule, encoding)", "held-out eval loss per round", "final", "upload MiB/round",
                "fp32 : upload", "download MiB/round", "s/step", "s/round (1 machine)",
                "s/round (parallel clients)"):
        table.add_column(col, justify="right")
    for name, r in results.items():
        losses = " > ".join(f"{x:.3f}" for x in r["eval_loss"])
        if r["rule"] == "centralised":
            table.add_row("centralised", losses, f"{r['final_eval_loss']:.4f}", "-", "-", "-",
                          f"{r['seconds_per_step']:.2f}", f"{r['round_seconds_sequential']:.1f}", "-")
            continue
        fp32 = r["upload_bytes_by_encoding_per_round"]["float32"]
        table.add_row(f"{r['rule']}, {r['encoding']}", losses, f"{r['final_eval_loss']:.4f}",
                      _mib(r["upload_bytes_per_round"]), f"{fp32 / r['upload_bytes_per_round']:.2f}x",
                      _mib(r["download_bytes_per_round"]), f"{r['seconds_per_step']:.2f}",
                      f"{r['round_seconds_sequential']:.1f}", f"{r['round_seconds_parallel']:.1f}")
    console.print(table)

    sizes = Table(title="Upload bytes per round on the same deltas, by encoding (sum over clients)")
    for col in ("run", "float32 MiB", "float32_zlib MiB", "int8_zlib MiB", "fp32 : fp32_zlib", "fp32 : int8_zlib"):
        sizes.add_column(col, justify="right")
    for name, r in results.items():
        if r["rule"] == "centralised":
            continue
        b = r["upload_bytes_by_encoding_per_round"]
        sizes.add_row(name, _mib(b["float32"]), _mib(b["float32_zlib"]), _mib(b["int8_zlib"]),
                      f"{r['float32_zlib_ratio']:.2f}x", f"{r['int8_zlib_ratio']:.2f}x")
    console.print(sizes)

    timing = Table(title="Per-client time per round (s): training / model load + setup / whole client step")
    timing.add_column("run", justify="right")
    for i in range(NUM_CLIENTS):
        timing.add_column(f"client {i} ({len(shards[i])} rows)", justify="right")
    timing.add_column("coordinator: check + aggregate / evaluate", justify="right")
    for name, r in results.items():
        if r["rule"] == "centralised":
            continue
        for rec in r["rounds"]:
            cells = [f"{c['train_seconds']:.1f} / {c['seconds']['model_load_and_setup']:.1f} / "
                     f"{c['seconds']['total']:.1f}" for c in rec["clients"]]
            co = rec["coordinator_seconds"]
            timing.add_row(f"{name} r{rec['round']}", *cells,
                           f"{co['check'] + co['aggregate']:.1f} / {co['evaluate']:.1f}")
    console.print(timing)

    checks: dict[str, Any] = {"base_loss": base_loss}
    f32, i8 = results.get("fedavg-float32"), results.get("fedavg-int8")
    if f32 and i8:
        gap = abs(i8["final_eval_loss"] - f32["final_eval_loss"]) / f32["final_eval_loss"]
        ratio = f32["upload_bytes_by_encoding_per_round"]["float32"] / i8["upload_bytes_per_round"]
        checks.update({"int8_vs_float32_final_loss_gap": gap, "int8_vs_float32_upload_ratio": ratio,
                       "loss_gap_ok": gap <= LOSS_GAP_TARGET, "ratio_ok": ratio >= RATIO_TARGET})
        console.print(f"base model loss {base_loss:.4f}; int8_zlib uploads {ratio:.2f}x smaller than float32 "
                      f"(target >= {RATIO_TARGET}x); final eval loss int8 vs float32 differs by {gap * 100:.2f}% "
                      f"(target <= {LOSS_GAP_TARGET * 100:.0f}%); total {wall:.0f} s")

    import peft
    import transformers

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "settings": {"quick": args.quick, "rounds": rounds, "local_steps": local_steps, "threads": threads,
                     "model": "default (SmolLM2-135M)", "recipe": FEDERATED_RECIPE.to_dict(),
                     "clients": NUM_CLIENTS, "shard_rows": [len(s) for s in shards], "heldout_rows": len(heldout),
                     "data": str(DATA.relative_to(ROOT)), "heldout": str(HELD.relative_to(ROOT)),
                     "client_seed": "task.round_seed(round, 1) + client index", "privacy": "off",
                     "configs": [c.__dict__ for c in configs]},
        "checks": checks, "wall_seconds": wall, "results": results,
    }, indent=2) + "\n")
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
