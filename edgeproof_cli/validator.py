"""`edgeproof validator ...` (run the scorer service, score a folder once) and `edgeproof miner submit`.

Mounted by edgeproof_cli/main.py. Everything here calls the `validator` package.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge_sdk.errors import EdgeProofError
from edgeproof_cli.common import console, friendly_errors

app = typer.Typer(help="The subnet validator: score miners' datasets, combine with PoAI integrity, set weights.",
                  no_args_is_help=True)
miner_app = typer.Typer(help="Miners: publish a dataset and commit it on chain.", no_args_is_help=True)

NETWORK_HELP = "'local' (the embedded chain in --chain-db) or a Bittensor network: finney, test, ws://..."


def _key(key: Optional[Path], wallet: Optional[str], wallet_path: Optional[str], what: str) -> Any:
    from edge_sdk.identity import NodeKey

    if key is not None:
        return NodeKey.load(key)
    if wallet:
        from validator.chain import open_wallet

        return open_wallet(wallet, wallet_path)
    raise EdgeProofError(f"the {what} needs a key: --key FILE (edgeproof poai keygen --out FILE) or --wallet "
                         "NAME/HOTKEY")


def _chain(network: str, netuid: int, chain_db: str, tempo: int, block_time: float, key: Any) -> Any:
    from validator.chain import open_chain

    return open_chain(network, netuid=netuid, chain_db=chain_db, tempo=tempo, block_time_s=block_time,
                      wallet=None if hasattr(key, "node_id") else key)


def _runner(ray_address: Optional[str], cpus_per_task: float) -> Any:
    if not ray_address:
        return None
    from validator.scoring.ray_runner import RayRunner

    return RayRunner(ray_address, cpus_per_task=cpus_per_task)


def _weights_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"validator round at block {report['block']} (epoch {report['epoch']})")
    for column in ("uid", "miner", "verdict", "eval loss", "node", "weight", "why"):
        table.add_column(column)
    for m in report["miners"]:
        loss = m.get("eval_loss")
        why = (m.get("why") or "")[:90]
        table.add_row(str(m["uid"]), m["miner"][:20] + "…", m["status"], "-" if loss is None else f"{loss:.4f}",
                      (m.get("node_id") or m.get("node_reason") or "-")[:24], f"{m['weight']:.4f}", why)
    return table


@app.command()
@friendly_errors
def run(
    eval_data: Path = typer.Option(..., "--eval", help="The validator's fixed eval set (chat JSONL)."),
    key: Optional[Path] = typer.Option(None, "--key", help="Validator key file (LocalChain)."),
    wallet: Optional[str] = typer.Option(None, "--wallet", help="Bittensor wallet NAME/HOTKEY."),
    wallet_path: Optional[str] = typer.Option(None, "--wallet-path", help="Folder of bittensor wallets (default: bittensor's own)."),
    network: str = typer.Option("local", "--network", help=NETWORK_HELP),
    netuid: int = typer.Option(1, "--netuid", help="Subnet id."),
    chain_db: str = typer.Option("localchain.sqlite", "--chain-db", help="The embedded chain's database."),
    tempo: int = typer.Option(360, "--tempo", help="Blocks per epoch of a new embedded chain."),
    block_time: float = typer.Option(12.0, "--block-time", help="Seconds per block of a new embedded chain."),
    db: str = typer.Option("validator.sqlite", "--db", help="Validator state: SQLite file or postgresql:// URL."),
    poai_db: Optional[str] = typer.Option("poai.sqlite", "--poai-db", help="The PoAI challenger's --db."),
    datasets: Path = typer.Option(Path("datasets"), "--datasets", help="The local dataset store."),
    preset: str = typer.Option("validator-cpu", "--preset", help="LoRA recipe for scoring (flock-off in production)."),
    model: Optional[str] = typer.Option(None, "--model", help="The fixed base model (default SmolLM2-135M)."),
    mode: str = typer.Option("both", "--integrity-mode", help="gate, multiplier or both."),
    winner_take_all: bool = typer.Option(False, "--winner-take-all", help="FLock's winner-take-all variant."),
    interval: float = typer.Option(60.0, "--interval", help="Seconds between rounds."),
    rounds: Optional[int] = typer.Option(None, "--rounds", help="Stop after this many rounds (default: forever)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Score on Ray: 'local' starts one, "
                                              "or an address such as ray://host:10001."),
    cpus_per_task: float = typer.Option(1.0, "--cpus-per-task", help="CPUs each Ray scoring task declares."),
    workdir: Path = typer.Option(Path("validator-work"), "--workdir", help="Training checkpoints while scoring."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads per scoring job."),
    metrics_port: int = typer.Option(9466, "--metrics-port", help="Prometheus /metrics port (-1: off, 0: any)."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error (JSON logs on stderr)."),
) -> None:
    """Run the validator: each round syncs the chain, takes in datasets, scores new ones, sets weights once per
    epoch. Safe to kill: a restart keeps every finished score and never sets weights twice in an epoch."""
    from edge_sdk.serving.logs import configure_json_logging
    from validator.service.validator import Validator, ValidatorConfig
    from validator.weights import WeightConfig

    configure_json_logging(log_level.upper(), logger_name="edgeproof.validator")
    signer = _key(key, wallet, wallet_path, "validator")
    chain = _chain(network, netuid, chain_db, tempo, block_time, signer)
    if network == "local":
        chain.register(signer, validator_permit=True)  # the embedded chain: registration is free
    config = ValidatorConfig(eval_data=eval_data, state_db=db, poai_db=poai_db, datasets_root=datasets,
                             preset=preset, model=model, weights=WeightConfig(mode=mode, winner_take_all=winner_take_all),
                             interval_s=interval, workdir=workdir, threads=threads)
    validator = Validator(config, chain=chain, key=signer, runner=_runner(ray_address, cpus_per_task))
    if metrics_port >= 0:
        port = validator.metrics.serve(metrics_port)
        console.print(f"metrics on http://127.0.0.1:{port}/metrics")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(json.dumps({"event": "ready", "validator": validator.hotkey}), flush=True)
    try:
        validator.run(stop, progress=lambda _stage, info: console.print(
            f"scored {info['done']}/{info['total']}: {info['miner'][:20]}… loss {info['eval_loss']}"
            + (f" error {info['error']}" if info["error"] else "")), max_rounds=rounds)
        last = validator.state.last_round()
        if last is not None:
            console.print(_weights_table(last))
    finally:
        validator.close()
        validator.metrics.close()
        chain.close()


@app.command()
@friendly_errors
def score(
    datasets: Path = typer.Option(..., "--datasets", help="A folder of chat JSONL files, one per miner."),
    eval_data: Path = typer.Option(..., "--eval", help="The eval set (chat JSONL)."),
    preset: str = typer.Option("validator-cpu", "--preset", help="LoRA recipe for scoring (edge_sdk/training/recipe.py)."),
    model: Optional[str] = typer.Option(None, "--model", help="The fixed base model (default SmolLM2-135M)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Score on Ray ('local' starts one)."),
    cpus_per_task: float = typer.Option(1.0, "--cpus-per-task", help="CPUs each Ray scoring task declares."),
    workdir: Path = typer.Option(Path("validator-work"), "--workdir", help="Training checkpoints while scoring."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
) -> None:
    """Score every *.jsonl in a folder once (files in name order; a later file that copies an earlier one is
    marked as a copy) and print the eval losses."""
    from validator.service.oneshot import score_folder

    files = sorted(datasets.glob("*.jsonl"))
    if not files:
        raise EdgeProofError(f"no *.jsonl files in {datasets}")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                        disable=as_json)
    bars = {f.stem: progress.add_task(f"{f.stem}: waiting", total=1) for f in files}

    def on_progress(name: str, stage: str) -> None:
        progress.update(bars[name], description=f"{name}: {stage}", completed=1 if stage != "training" else 0)

    runner = _runner(ray_address, cpus_per_task)
    try:
        with progress:
            results = score_folder(files, eval_data, preset=preset, model=model, workdir=workdir, runner=runner,
                                   progress=on_progress)
    finally:
        if runner is not None:
            runner.close()
    if as_json:
        print(json.dumps(results, indent=2, default=str))
        return
    table = Table(title=f"dataset scores ({preset}; lower eval loss is better)")
    for column in ("dataset", "verdict", "eval loss", "train s", "eval s", "reasons"):
        table.add_column(column)
    for r in results:
        loss = r.get("eval_loss")
        table.add_row(r["name"], r["status"], "-" if loss is None else f"{loss:.4f}",
                      f"{r.get('train_seconds', 0):.1f}", f"{r.get('eval_seconds', 0):.1f}",
                      "; ".join(r["reasons"])[:100])
    console.print(table)


@miner_app.command()
@friendly_errors
def submit(
    dataset: Path = typer.Option(..., "--dataset", help="Your chat JSONL dataset."),
    key: Optional[Path] = typer.Option(None, "--key", help="Miner key file (LocalChain)."),
    wallet: Optional[str] = typer.Option(None, "--wallet", help="Bittensor wallet NAME/HOTKEY."),
    wallet_path: Optional[str] = typer.Option(None, "--wallet-path", help="Folder of bittensor wallets (default: bittensor's own)."),
    node_key: Optional[Path] = typer.Option(None, "--node-key", help="Your PoAI node's key file: signs the link "
                                            "that lets validators count its integrity for you."),
    network: str = typer.Option("local", "--network", help=NETWORK_HELP),
    netuid: int = typer.Option(1, "--netuid", help="Subnet id."),
    chain_db: str = typer.Option("localchain.sqlite", "--chain-db", help="The embedded chain's database."),
    datasets: Path = typer.Option(Path("datasets"), "--datasets", help="The local dataset store."),
    hf_repo: Optional[str] = typer.Option(None, "--hf-repo", help="Publish to this Hugging Face dataset repo instead."),
) -> None:
    """Check the dataset as validators will, publish it pinned to a revision, link your PoAI node, commit."""
    from edge_sdk.identity import NodeKey
    from validator.datasets.store import HuggingFaceDatasetStore, LocalDatasetStore
    from validator.miner import submit_dataset

    signer = _key(key, wallet, wallet_path, "miner")
    chain = _chain(network, netuid, chain_db, 360, 12.0, signer)
    try:
        if network == "local":
            chain.register(signer)
        store = HuggingFaceDatasetStore() if hf_repo else LocalDatasetStore(datasets)
        done = submit_dataset(chain, signer, dataset, store=store, name=hf_repo,
                              node_key=NodeKey.load(node_key) if node_key else None)
    finally:
        chain.close()
    console.print(f"committed [bold]{done.ref}[/] at block {done.commitment.block} "
                  f"({len(done.report.rows)} rows{', node ' + done.link.node_id if done.link else ', no PoAI node'})")
