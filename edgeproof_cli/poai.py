"""`edgeproof poai ...`: run a challenger, run a node, make a node key, read the integrity scores.

Mounted as `edgeproof poai` by edgeproof_cli/main.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from edge_sdk.errors import EdgeProofError
from edgeproof_cli.common import friendly_errors, print_ready, stop_event

app = typer.Typer(help="Proof-of-AI: challenger service, node agent, integrity scores.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)



def _parse_size(text: str) -> int:
    """'512M', '8G', '1048576' -> bytes (binary units)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise EdgeProofError(
            f"cannot read {text!r} as a size: use e.g. 512M, 8G or a number of bytes"
        ) from None


async def _serve_until_signal(service) -> None:  # noqa: ANN001
    stop = stop_event()
    await service.start()
    print_ready(port=service.port, metrics_port=service.metrics_port, challenger_id=service.challenger_id)
    await stop.wait()
    await service.stop()


@app.command()
@friendly_errors
def challenger(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 for every interface)."),
    port: int = typer.Option(50061, "--port", help="gRPC port (0: any free port, printed on start)."),
    db: str = typer.Option(
        "poai.sqlite", "--db",
        help="Integrity history: an SQLite file, or postgresql://user:pass@host/db shared by several challengers.",
    ),
    plan: str = typer.Option(
        "standard",
        "--plan",
        help="standard (scaled to each claim), lightweight, default, '<preset>:stage,stage' or a plan file",
    ),
    metrics_port: int = typer.Option(
        9464, "--metrics-port", help="Prometheus /metrics port (-1: off, 0: any)."
    ),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="Address the /metrics endpoint binds."),
    challenger_id: str = typer.Option(
        "", "--id", help="Name signed into every hello (default: challenger@HOST:PORT)."
    ),
    allowed_nodes: Optional[Path] = typer.Option(
        None, "--allowed-nodes", help="File with one node id per line."
    ),
    model: Optional[str] = typer.Option(None, "--model", help="Reference model for the inference challenge."),
    max_message: str = typer.Option("64M", "--max-message", help="Largest gRPC message accepted."),
    max_sessions: int = typer.Option(512, "--max-sessions", help="Concurrent sessions before refusing."),
    memory_cap: str = typer.Option(
        "8G", "--memory-cap", help="Never ask a node to fill more memory than this."
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="Verification threads (default: CPU count)."
    ),
    tls_cert: Optional[Path] = typer.Option(
        None, "--tls-cert", help="PEM certificate: serve TLS (with --tls-key) instead of plaintext."
    ),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="PEM private key of --tls-cert."),
    rate_limit: int = typer.Option(
        60, "--rate-limit", help="Sessions per node id per --rate-window (shared through --db; 0: off)."
    ),
    rate_window: float = typer.Option(3600.0, "--rate-window", help="Rate-limit window in seconds."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error (JSON logs on stderr)."),
) -> None:
    """Run the challenger: nodes dial in, get challenged, and their integrity scores go to --db."""
    from poai.challenger.config import ChallengerConfig
    from edge_sdk.serving.logs import configure_json_logging
    from poai.challenger.server import ChallengerService

    configure_json_logging(log_level.upper())
    config = ChallengerConfig(
        host=host,
        port=port,
        db=db,
        plan=plan,
        metrics_port=None if metrics_port < 0 else metrics_port,
        metrics_host=metrics_host,
        challenger_id=challenger_id,
        allowed_nodes_file=str(allowed_nodes) if allowed_nodes else None,
        inference_model=model,
        max_message_bytes=_parse_size(max_message),
        max_concurrent_sessions=max_sessions,
        memory_cap_bytes=_parse_size(memory_cap),
        tls_cert_file=str(tls_cert) if tls_cert else None,
        tls_key_file=str(tls_key) if tls_key else None,
        rate_limit_sessions=rate_limit,
        rate_limit_window_s=rate_window,
    )
    if workers:
        config.verify_workers = workers
    asyncio.run(_serve_until_signal(ChallengerService(config)))


@app.command()
@friendly_errors
def node(
    challenger_addr: str = typer.Option(
        "127.0.0.1:50061", "--challenger", help="HOST:PORT of the challenger."
    ),
    key: Optional[Path] = typer.Option(None, "--key", help="Node key file (edgeproof poai keygen)."),
    wallet: Optional[str] = typer.Option(
        None, "--wallet", help="Bittensor wallet NAME/HOTKEY instead of --key."
    ),
    wallet_path: Optional[str] = typer.Option(None, "--wallet-path", help="Folder of bittensor wallets (default: bittensor's own)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cuda or cpu."),
    tflops: Optional[float] = typer.Option(
        None,
        "--tflops",
        help="Claimed matmul TOPS: 8-bit integer operands, exact accumulation (default: measured now).",
    ),
    memory: Optional[str] = typer.Option(None, "--memory", help="Memory offered, e.g. 4G (default: <= 1G)."),
    memory_bandwidth: Optional[float] = typer.Option(
        None, "--memory-bandwidth", help="Claimed memory-challenge bandwidth, GB/s (default: measured now)."
    ),
    backend: Optional[list[str]] = typer.Option(
        None,
        "--backend",
        help="Inference backend to offer (repeatable; default: all installed; 'none': off).",
    ),
    model: Optional[str] = typer.Option(None, "--model", help="Inference model (default: SmolLM2-135M)."),
    once: bool = typer.Option(False, "--once", help="Run one session, print the result and exit."),
    interval: float = typer.Option(300.0, "--interval", help="Seconds between sessions."),
    expect_id: Optional[str] = typer.Option(None, "--expect-challenger-id", help="Refuse other challengers."),
    as_json: bool = typer.Option(False, "--json", help="With --once: print the result as JSON."),
    tls: bool = typer.Option(False, "--tls", help="Dial with TLS, trusting the system's CA roots."),
    tls_ca: Optional[Path] = typer.Option(
        None, "--tls-ca", help="PEM CA that signed the challenger's certificate (implies --tls)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error (JSON logs on stderr)."),
) -> None:
    """Run the node agent: dial the challenger, answer its challenges, repeat (reconnects with backoff)."""
    from edge_sdk.serving.logs import configure_json_logging
    from poai.node.agent import NodeAgent, NodeConfig

    configure_json_logging(log_level.upper())
    backends: tuple[str, ...] | None = None
    if backend:
        backends = () if [b.lower() for b in backend] == ["none"] else tuple(backend)
    config = NodeConfig(
        challenger=challenger_addr,
        key_path=str(key) if key else None,
        wallet=wallet,
        wallet_path=wallet_path,
        device=device,
        claim_tflops=tflops,
        claim_memory_bytes=_parse_size(memory) if memory else None,
        claim_memory_bandwidth_gbs=memory_bandwidth,
        backends=backends,
        model=model,
        expected_challenger_id=expect_id,
        interval_s=interval,
        tls=tls,
        tls_ca_file=str(tls_ca) if tls_ca else None,
    )
    if not key and not wallet:
        raise EdgeProofError(
            "the node needs a key: --key FILE (create one with `edgeproof poai keygen --out FILE`) "
            "or --wallet NAME/HOTKEY"
        )
    agent = NodeAgent(config)
    if once:
        outcome = asyncio.run(agent.run_once())
        if as_json:
            print(json.dumps(outcome.__dict__, indent=2, default=str))
        else:
            from poai.report import outcome_table

            console.print(outcome_table(outcome))
        raise typer.Exit(0 if outcome.ok else 1)

    async def forever() -> None:
        await agent.run(stop_event())

    asyncio.run(forever())


@app.command()
@friendly_errors
def keygen(
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the key file (mode 0600)."),
    scheme: str = typer.Option("ed25519", "--scheme", help="ed25519 (no bittensor needed) or sr25519."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Create a node key file and print its node id."""
    from edge_sdk.identity import NodeKey

    key = NodeKey.generate(scheme)
    path = key.save(out, overwrite=force)
    console.print(f"node id: [bold]{key.node_id}[/]\nkey file: {path} (keep it private)")


@app.command()
@friendly_errors
def report(
    db: str = typer.Option(
        "poai.sqlite", "--db", help="The challenger's --db: an SQLite file or a postgresql:// URL."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (what the validator reads)."),
    node_id: Optional[str] = typer.Option(None, "--node", help="Show this node's recent sessions."),
    limit: int = typer.Option(20, "--limit", help="Sessions to show with --node."),
) -> None:
    """Integrity scores per node, with the reasons behind them."""
    from poai.report import load_report, report_table, sessions_table

    data = load_report(db, node_id=node_id, limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    console.print(report_table(data))
    if node_id:
        console.print(sessions_table(data))


def main() -> None:  # pragma: no cover - `python -m edgeproof_cli.poai`
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
