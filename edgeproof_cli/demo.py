"""`edgeproof demo`: the quickstart's main job, a thin wrapper over edgeproof_demo.run_demo (progress bars while it
runs, the final tables, the report's path)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from edgeproof_cli.common import console, friendly_errors


@friendly_errors
def demo(
    nodes: int = typer.Option(3, "--nodes", help="PoAI nodes: honest llama.cpp, honest torch, one cheat, then more "
                              "honest ones."),
    clients: int = typer.Option(3, "--clients", help="Federated edge clients, each with its own private shard."),
    miners: int = typer.Option(3, "--miners", help="Miners: good, noisy, a later copy, then more honest ones."),
    rounds: int = typer.Option(2, "--rounds", help="Federated rounds."),
    local_steps: int = typer.Option(8, "--local-steps", help="Training steps per client per round."),
    sessions: int = typer.Option(3, "--sessions", help="PoAI sessions per node (integrity clears the validator's "
                                 "gate after 2 clean ones)."),
    memory_mib: int = typer.Option(256, "--memory-mib", help="Memory each PoAI node offers (MiB)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: ./edgeproof-demo/<run id>)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with private_facts.jsonl and "
                                        "private_facts_heldout.jsonl (default: the checkout's examples/data)."),
    challenger: Optional[str] = typer.Option(None, "--challenger", help="HOST:PORT of a running PoAI challenger "
                                             "instead of the embedded one (needs --poai-db)."),
    poai_db: Optional[str] = typer.Option(None, "--poai-db", help="That challenger's database (SQLite path or "
                                          "postgresql:// URL)."),
    coordinator: Optional[str] = typer.Option(None, "--coordinator", help="HOST:PORT of a running federation "
                                              "coordinator instead of the embedded one."),
    coordinator_id: Optional[str] = typer.Option(None, "--coordinator-id", help="The id that coordinator signs "
                                                 "with (default coordinator@HOST:PORT)."),
    db: Optional[str] = typer.Option(None, "--db", help="postgresql:// URL for the PoAI, federation and chain "
                                     "stores (default: SQLite files in the run folder)."),
    network: str = typer.Option("local", "--network", help="'local' (embedded chain) or a Bittensor network: "
                                "finney, test, ws://..."),
    netuid: Optional[int] = typer.Option(None, "--netuid", help="Subnet (required with a Bittensor network)."),
    validator_wallet: Optional[str] = typer.Option(None, "--validator-wallet", help="NAME/HOTKEY (Bittensor)."),
    miner_wallet: Optional[list[str]] = typer.Option(None, "--miner-wallet", help="NAME/HOTKEY of a registered "
                                                     "miner, one per miner (Bittensor)."),
    wallet_path: Optional[str] = typer.Option(None, "--wallet-path", help="Folder of bittensor wallets (default: bittensor's own)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's JSON instead of the tables."),
) -> None:
    """Run the whole network end to end on this machine: PoAI challenger and nodes (one cheats), a federated
    task with edge clients, miners and a validator that sets weights. Writes an HTML report with plots."""
    from edgeproof_demo import DemoConfig, run_demo
    from edgeproof_demo.outcomes import all_held
    from edgeproof_demo.progress import STAGES
    from edgeproof_demo.report.tables import tables

    config = DemoConfig(nodes=nodes, clients=clients, miners=miners, rounds=rounds, local_steps=local_steps, sessions_per_node=sessions,
                        memory_claim_mib=memory_mib, out_dir=out, challenger_address=challenger, poai_db=poai_db,
                        coordinator_address=coordinator, coordinator_id=coordinator_id, db=db, network=network,
                        netuid=netuid, validator_wallet=validator_wallet, miner_wallets=tuple(miner_wallet or ()),
                        wallet_path=wallet_path)
    if data is not None:
        config.data_dir = data
    config.check()  # before any bar is drawn
    bars = Progress(TextColumn("{task.fields[title]:<52}"), BarColumn(), TaskProgressColumn(),
                    TimeElapsedColumn(), TextColumn("{task.description}"), console=console, disable=as_json)
    ids = {stage: bars.add_task("waiting", total=1, title=title, start=False) for stage, title in STAGES}

    def progress(stage: str, done: float, total: float, detail: str) -> None:
        bars.start_task(ids[stage])
        bars.update(ids[stage], completed=done, total=max(total, 1), description=detail)
        if not as_json and stage == "poai" and done == 0 and "starting" in detail:
            bars.console.print("starting the network on loopback (Ctrl-C stops it cleanly)")

    def interrupt(*_: object) -> None:  # SIGTERM stops the demo the way Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        with bars:
            result = run_demo(config, progress)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every server was shut down; the run folder keeps what was written[/]")
        # Every server, client and store was stopped and closed by now. Skip interpreter teardown: after an
        # interrupt mid-training it sometimes aborted the process (a native thread's std::terminate while the
        # interpreter finalised: 2 times in about 10 interrupted runs), turning a clean stop into exit code 134.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for table in tables(result):
            console.print(table)
        console.print(f"report: {result['report']['html']}")
    if not all_held(result["outcomes"]):
        raise typer.Exit(1)
