"""Entry point of the `edgeproof` command: one sub-command group per kind of user."""

from __future__ import annotations

import typer

from edgeproof_cli import demo as demo_cmd
from edgeproof_cli import edge
from edgeproof_cli.fed import app as fed_app
from edgeproof_cli.poai import app as poai_app
from edgeproof_cli.validator import app as validator_app
from edgeproof_cli.validator import miner_app

app = typer.Typer(
    help="edgeproof: on-device LLMs (edge), federated LoRA (fed), Proof-of-AI compute verification (poai) and a "
    "Bittensor validator.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(edge.app, name="edge")
app.add_typer(poai_app, name="poai")
app.add_typer(fed_app, name="fed")
app.add_typer(validator_app, name="validator")
app.add_typer(miner_app, name="miner")
app.command("demo")(demo_cmd.demo)

if __name__ == "__main__":
    app()
