"""`edgeproof fed ...`: run a federation coordinator, join one as a client, show a task's rounds.

Mounted as `edgeproof fed` by edgeproof_cli/main.py. Everything here calls `edge_sdk.federation`.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge_sdk.errors import EdgeProofError
from edgeproof_cli.common import console, friendly_errors, print_ready, stop_event

app = typer.Typer(help="Federated LoRA: a coordinator, and clients that train on their own data.",
                  no_args_is_help=True)


def _rule_params(items: list[str]) -> dict[str, object]:
    params: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise EdgeProofError(f"--rule-param takes NAME=VALUE (e.g. beta=0.2), got {item!r}")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


@app.command()
@friendly_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 for every interface)."),
    port: int = typer.Option(50071, "--port", help="gRPC port (0: any free port, printed on start)."),
    db: str = typer.Option("federation.sqlite", "--db", help="An SQLite file or a postgresql:// URL."),
    coordinator_id: str = typer.Option("", "--id", help="Name clients sign for (default: coordinator@HOST:PORT)."),
    model: Optional[str] = typer.Option(None, "--model", help="Base model (default: SmolLM2-135M-Instruct)."),
    eval_data: Optional[Path] = typer.Option(None, "--eval", help="Held-out chat JSONL scored after every round."),
    task_id: str = typer.Option("federation", "--task", help="Task id (a stored task resumes under its id)."),
    rounds: int = typer.Option(3, "--rounds", help="Federated rounds in the task."),
    local_steps: int = typer.Option(10, "--local-steps", help="Optimizer steps per client per round."),
    rule: str = typer.Option("fedavg", "--rule", help="fedavg, fedprox, median, trimmed_mean, krum, multi_krum, "
                             "ffa_lora or product_average."),
    rule_param: list[str] = typer.Option([], "--rule-param", help="NAME=VALUE for the rule (repeatable)."),
    preset: str = typer.Option("federated", "--preset", help="LoRA recipe preset (edge_sdk/training/recipe.py)."),
    lora_r: Optional[int] = typer.Option(None, "--lora-r", help="LoRA rank (default: the preset's)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: the preset's)."),
    clients_per_round: int = typer.Option(3, "--clients-per-round", help="Updates a round waits for."),
    over_selection: float = typer.Option(1.3, "--over-selection", help="Select this many times more clients."),
    quorum: int = typer.Option(2, "--quorum", help="Fewest updates to aggregate; fewer abandons the round."),
    min_clients: Optional[int] = typer.Option(None, "--min-clients", help="Eligible clients needed to open a "
                                              "round (default: the quorum)."),
    deadline: float = typer.Option(600.0, "--deadline", help="Seconds a round accepts updates."),
    max_attempts: int = typer.Option(3, "--max-attempts", help="Tries per round before the task fails."),
    clip_norm: Optional[float] = typer.Option(None, "--clip-norm", help="Local DP: clip each update's L2 norm."),
    noise: float = typer.Option(0.0, "--noise", help="Local DP: Gaussian noise multiplier (needs --clip-norm)."),
    delta: float = typer.Option(1e-5, "--delta", help="Local DP: the delta epsilon is reported for."),
    encoding: str = typer.Option("int8_zlib", "--encoding", help="Update encoding: int8_zlib, float32_zlib, "
                                 "float32."),
    allowed_clients: Optional[Path] = typer.Option(None, "--allowed-clients", help="File: one client id per line."),
    metrics_port: int = typer.Option(9465, "--metrics-port", help="Prometheus /metrics port (-1: off, 0: any)."),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="Address the /metrics endpoint binds."),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", help="PEM certificate: serve TLS (with --tls-key)."),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error (JSON logs on stderr)."),
) -> None:
    """Run the coordinator: clients dial in, rounds run, every version is stored in --db. Exits when the task
    is done (status 0) or failed (status 1); Ctrl-C stops it and a restart resumes the task."""
    from edge_sdk.federation.coordinator import CoordinatorConfig, CoordinatorService
    from edge_sdk.federation.privacy import DPConfig
    from edge_sdk.federation.task import FederationTask
    from edge_sdk.serving.logs import configure_json_logging
    from edge_sdk.training.recipe import preset as recipe_preset

    configure_json_logging(log_level.upper(), logger_name="edgeproof.federation")
    recipe = recipe_preset(preset)
    if lora_r is not None:
        recipe = recipe.with_(r=lora_r, alpha=2 * lora_r)
    if lr is not None:
        recipe = recipe.with_(learning_rate=lr)
    allowed = None
    if allowed_clients is not None:
        try:
            allowed = frozenset(line.strip() for line in allowed_clients.read_text().splitlines() if line.strip())
        except OSError as exc:
            raise EdgeProofError(f"cannot read --allowed-clients {allowed_clients}: {exc.strerror}") from None
    task = FederationTask(
        task_id=task_id, base_model=model, recipe=recipe, rounds=rounds, local_steps=local_steps, aggregation=rule,
        aggregation_params=_rule_params(rule_param), clients_per_round=clients_per_round,
        over_selection=over_selection, min_clients=min_clients, quorum=quorum, round_deadline_s=deadline,
        max_attempts=max_attempts, privacy=DPConfig(clip_norm=clip_norm, noise_multiplier=noise, delta=delta),
        update_encoding=encoding)
    config = CoordinatorConfig(
        task=task, host=host, port=port, db=db, coordinator_id=coordinator_id or None, model=model,
        eval_data=eval_data, allowed_clients=allowed, metrics_port=None if metrics_port < 0 else metrics_port,
        metrics_host=metrics_host, tls_cert_file=str(tls_cert) if tls_cert else None,
        tls_key_file=str(tls_key) if tls_key else None)
    state = asyncio.run(_serve(CoordinatorService(config)))
    _print_task(db, task_id)
    raise typer.Exit(0 if state == "finished" else 1)


async def _serve(service) -> str:  # noqa: ANN001
    stop = stop_event()
    await service.start()
    print_ready(port=service.port, metrics_port=service.metrics_port, coordinator_id=service.coordinator_id)
    finished = asyncio.ensure_future(service.wait_finished())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({finished, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    state = service.rounds.state if finished.done() else "stopped"
    if finished.done():
        await asyncio.sleep(0.5)  # let the TaskFinished messages reach the clients
    await service.stop()
    return state


@app.command()
@friendly_errors
def join(
    coordinator: str = typer.Option("127.0.0.1:50071", "--coordinator", help="HOST:PORT of the coordinator."),
    data: Path = typer.Option(..., "--data", help="Your chat JSONL: it never leaves this device."),
    key: Optional[Path] = typer.Option(None, "--key", help="Key file (edgeproof poai keygen)."),
    wallet: Optional[str] = typer.Option(None, "--wallet", help="Bittensor wallet NAME/HOTKEY instead of --key."),
    wallet_path: Optional[str] = typer.Option(None, "--wallet-path", help="Folder of bittensor wallets (default: bittensor's own)."),
    workdir: Path = typer.Option(Path("federation-client"), "--workdir", help="Downloads, pending updates, "
                                 "the privacy ledger and the global adapters."),
    model: Optional[str] = typer.Option(None, "--model", help="Base model (default: the task's)."),
    expect_id: Optional[str] = typer.Option(None, "--expect-coordinator-id", help="Default: coordinator@ADDRESS."),
    tls: bool = typer.Option(False, "--tls", help="Dial with TLS, trusting the system's CA roots."),
    tls_ca: Optional[Path] = typer.Option(None, "--tls-ca", help="PEM CA of the coordinator (implies --tls)."),
    max_cpu_load: float = typer.Option(0.5, "--max-cpu-load", help="Train only below this CPU load per core "
                                       "(this client's own training not counted)."),
    min_battery: float = typer.Option(50.0, "--min-battery", help="Battery floor when not charging."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: torch's)."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error (JSON logs on stderr)."),
) -> None:
    """Join a coordinator's task: train on --data when selected, upload only the adapter update, keep each new
    global adapter in --workdir. Runs until the task is done; Ctrl-C stops cleanly."""
    from edge_sdk.device.eligibility import TrainingPolicy
    from edge_sdk.federation.client import FederatedClient
    from edge_sdk.identity import NodeKey
    from edge_sdk.serving.logs import configure_json_logging

    configure_json_logging(log_level.upper(), logger_name="edgeproof.federation")
    if key is not None:
        node_key = NodeKey.load(key)
    elif wallet:
        name, _, hotkey = wallet.partition("/")
        node_key = NodeKey.from_wallet(name, hotkey or "default", wallet_path)
    else:
        raise EdgeProofError("the client needs a key: --key FILE (create one with `edgeproof poai keygen --out "
                             "FILE`) or --wallet NAME/HOTKEY")
    policy = TrainingPolicy(max_cpu_load=max_cpu_load, min_battery_percent=min_battery)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                        TimeElapsedColumn(), console=console)
    bar = progress.add_task("waiting for a round", total=None, info="")
    rounds: list[tuple[int, str, str]] = []

    def on_progress(p) -> None:  # noqa: ANN001
        if p.stage == "training":
            progress.update(bar, description=f"round {p.round}: training", completed=p.step, total=p.total_steps,
                            info=f"loss {p.loss:.3f}" if p.loss is not None and not math.isnan(p.loss) else "")
        elif p.stage in ("accepted", "refused", "declined"):
            rounds.append((p.round, p.stage, p.detail))
            progress.update(bar, description=f"round {p.round}: {p.stage}", info=p.detail[:60])
        else:
            progress.update(bar, description=f"round {p.round}: {p.stage}" if p.round else p.stage,
                            info=p.detail[:60])

    client = FederatedClient(coordinator, data, node_key, workdir=workdir, model=model, coordinator_id=expect_id,
                             tls=tls or tls_ca is not None, ca_file=str(tls_ca) if tls_ca else None, policy=policy,
                             on_progress=on_progress, torch_threads=threads)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: client.stop())
    with progress:
        runner = threading.Thread(target=client.run, name="fed-client")
        runner.start()
        while runner.is_alive():
            runner.join(0.5)
    table = Table(title=f"federated client {node_key.node_id[:24]}…")
    for column in ("round", "outcome", "detail"):
        table.add_column(column)
    for round_no, stage, detail in rounds:
        table.add_row(str(round_no), stage, detail)
    console.print(table)
    console.print(f"state: {client.state}; global adapter: {client.global_adapter_dir or '-'} "
                  f"(version {max(client.global_version, 0)})")
    raise typer.Exit(0 if client.state in ("finished", "stopped") else 1)


@app.command()
@friendly_errors
def status(
    db: str = typer.Option("federation.sqlite", "--db", help="The coordinator's --db."),
    task_id: str = typer.Option("federation", "--task", help="Task id in the coordinator's database."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A task's rounds and global versions (eval loss per version)."""
    if as_json:
        print(json.dumps(task_summary(db, task_id), indent=2, default=str))
        return
    _print_task(db, task_id)


def task_summary(db: str, task_id: str) -> dict[str, object]:
    from edge_sdk.federation.store import FederationStore

    store = FederationStore(db)
    try:
        record = store.task(task_id)
        if record is None:
            raise EdgeProofError(f"no task {task_id!r} in {store.url}")
        return {
            "task_id": task_id, "state": record.state, "reason": record.reason,
            "versions": [{"version": v.version, "round": v.round, "eval_loss": v.eval_loss, "bytes": len(v.payload),
                          "clients": v.info.get("clients", []), "rule": v.info.get("rule")}
                         for v in store.versions(task_id)],
            "rounds": [{"round": r.round, "attempt": r.attempt, "state": r.state, "selected": list(r.selected),
                        "reason": r.reason} for r in store.rounds(task_id)],
            "rejections": [{"round": r, "client_id": c, "code": code, "reason": why}
                           for r, c, code, why in store.rejections(task_id)],
        }
    finally:
        store.close()


def _print_task(db: str, task_id: str) -> None:
    summary = task_summary(db, task_id)
    table = Table(title=f"task {task_id}: {summary['state']}")
    for column in ("version", "round", "eval loss", "clients", "rule"):
        table.add_column(column)
    for v in summary["versions"]:  # type: ignore[union-attr]
        loss = "-" if v["eval_loss"] is None else f"{v['eval_loss']:.4f}"
        table.add_row(str(v["version"]), str(v["round"]), loss, str(len(v["clients"])), v["rule"] or "initial")
    console.print(table)
    abandoned = [r for r in summary["rounds"] if r["state"] == "abandoned"]  # type: ignore[union-attr]
    for r in abandoned:
        console.print(f"round {r['round']} attempt {r['attempt']} abandoned: {r['reason']}")


def main() -> None:  # pragma: no cover - `python -m edgeproof_cli.fed`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
