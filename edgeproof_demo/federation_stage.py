"""Stage 2 of the demo: a federation coordinator (embedded, or the one at --coordinator) and edge clients, each
training on its own private shard of examples/data/private_facts.jsonl; only adapter updates leave a client.
Then the question every shard can answer goes to the base model and to the new global adapter, side by side."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

from edge_sdk.identity import NodeKey
from edge_sdk.serving.background import BackgroundLoop
from edgeproof_demo.config import DemoConfig
from edgeproof_demo.progress import ProgressFn


def shards(rows: list[Any], clients: int) -> list[list[Any]]:
    """Deal the rows round-robin: with the shipped file every shard holds each fact in a different wording."""
    return [rows[i::clients] for i in range(clients)]


def _write_jsonl(path: Path, rows: list[Any]) -> None:
    from edge_sdk.training.data import chat_jsonl_text

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(chat_jsonl_text(rows), encoding="utf-8")


def _start_coordinator(config: DemoConfig, stack: contextlib.ExitStack, fed_db: str, task_id: str) -> tuple[str, Any]:
    from edge_sdk.federation import CoordinatorConfig, CoordinatorService, FederationTask

    task = FederationTask(task_id=task_id, rounds=config.rounds, local_steps=config.local_steps,
                          clients_per_round=config.clients, quorum=config.clients, over_selection=1.0,
                          aggregation="fedavg")
    background = BackgroundLoop("demo-coordinator")
    stack.callback(background.close)
    coordinator = CoordinatorService(CoordinatorConfig(task=task, port=0, db=fed_db, metrics_port=None,
                                                       eval_data=Path(config.data_dir) / "private_facts_heldout.jsonl"))
    background.call(coordinator.start())
    stack.callback(lambda: background.call(coordinator.stop(), timeout=30))
    return f"127.0.0.1:{coordinator.port}", coordinator


def run_federation_stage(config: DemoConfig, stack: contextlib.ExitStack, run_dir: Path, fed_db: str, task_id: str,
                         progress: ProgressFn) -> tuple[dict[str, Any], Path | None]:
    """Runs the task to its end. Returns the stage's JSON part and the final global adapter's folder."""
    from edge_sdk.device.eligibility import TrainingPolicy
    from edge_sdk.federation import FederatedClient
    from edge_sdk.training import load_chat_jsonl

    rows = load_chat_jsonl(Path(config.data_dir) / "private_facts.jsonl")
    total = config.rounds * config.local_steps * config.clients
    progress("federation", 0, total, "starting the coordinator (scores the base model)")
    coordinator = None
    address = config.coordinator_address
    if address is None:
        address, coordinator = _start_coordinator(config, stack, fed_db, task_id)
    losses: dict[int, float | None] = {}
    steps: dict[int, int] = {}
    lock = threading.Lock()

    def on_progress(i: int):
        def report(p: Any) -> None:
            if p.stage == "training" and p.total_steps:
                with lock:
                    steps[i] = (p.round - 1) * config.local_steps + p.step
                    progress("federation", sum(steps.values()), total,
                             f"round {p.round}: client {i + 1} step {p.step}/{p.total_steps}")
            elif p.stage == "global_adapter":
                with lock:
                    losses[int(p.values["version"])] = p.values.get("eval_loss")
            elif p.stage == "checked_in":  # the global version the task stands at, with its loss (0: the base)
                with lock:
                    losses.setdefault(int(p.values["global_version"]), p.values.get("eval_loss"))
        return report

    # Several devices share this one machine: each is opted in and skips the CPU-load check (the others' training
    # would keep every one of them above any load limit), but keeps the memory and battery checks.
    policy = TrainingPolicy(max_cpu_load=100.0, min_battery_percent=0)
    clients = []
    for i, shard in enumerate(shards(rows, config.clients)):
        workdir = run_dir / "clients" / f"client-{i + 1}"
        _write_jsonl(workdir / "private.jsonl", shard)  # stays on the device: only adapter updates are sent
        clients.append(FederatedClient(address, shard, NodeKey.generate(), workdir=workdir, policy=policy,
                                       coordinator_id=config.coordinator_id, torch_threads=config.torch_threads,
                                       on_progress=on_progress(i)))
    errors: dict[int, str] = {}

    def run_client(i: int) -> None:
        try:
            clients[i].run()
        except Exception as exc:  # noqa: BLE001 - a refused or unreachable client is reported, the others go on
            errors[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run_client, args=(i,), name=f"demo-client-{i + 1}", daemon=True)
               for i in range(len(clients))]

    def stop_clients() -> None:
        for c in clients:
            c.stop()
        for t in threads:
            t.join(timeout=60)

    stack.callback(stop_clients)
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():  # short joins: Ctrl-C reaches the main thread
            t.join(0.5)
    seconds = time.monotonic() - started
    versions = []
    if coordinator is not None:
        versions = [{"version": v.version, "round": v.round, "eval_loss": v.eval_loss}
                    for v in coordinator.store.versions(task_id)]
    else:
        versions = [{"version": v, "round": v, "eval_loss": loss} for v, loss in sorted(losses.items())]
    progress("federation", total, total, "done")
    adapter = next((c.global_adapter_dir for c in clients if c.global_adapter_dir is not None), None)
    return {"coordinator": address, "task_id": task_id, "seconds": round(seconds, 1),
            "clients": [{"name": f"client-{i + 1}", "rows": len(c.rows), "state": c.state,
                         "rounds_trained": list(c.rounds_trained), "error": errors.get(i)}
                        for i, c in enumerate(clients)],
            "versions": versions}, adapter


def answer_side_by_side(config: DemoConfig, adapter: Path | None, progress: ProgressFn) -> dict[str, Any]:
    """The same question to the base model and to the global adapter, greedy, on `config.answer_backend`."""
    from edge_sdk.runtime import SamplingParams, load_backend

    question = [{"role": "user", "content": config.question}]
    out: dict[str, Any] = {"question": config.question, "backend": config.answer_backend}
    runs = [("base", None)] + ([("adapter", adapter)] if adapter is not None else [])
    for n, (name, folder) in enumerate(runs):
        progress("answers", n, len(runs), f"{name}: loading on {config.answer_backend}")
        llm = load_backend(config.answer_backend, adapter=folder)
        try:
            out[name] = llm.chat(question, SamplingParams(max_tokens=32)).text.strip()
        finally:
            llm.close()
    progress("answers", len(runs), len(runs), "done")
    return out
