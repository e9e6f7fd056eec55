"""`edgeproof demo`: the quickstart's main job.

Until the end-to-end demo (federated round -> PoAI -> validator weights) lands, it answers one prompt with the
default model on every available backend and prints the answers with their timings.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge_sdk.runtime.compare import DEFAULT_SYSTEM_PROMPT
from edgeproof_cli.common import console, friendly_errors


@friendly_errors
def demo(
    prompt: str = typer.Option("What is the capital of France?", "--prompt", "-p"),
    system: str = typer.Option(DEFAULT_SYSTEM_PROMPT, "--system", "-s", help="System message."),
    backends: Optional[list[str]] = typer.Option(None, "--backend", "-b",
                                                 help="Backend to include (repeatable). Default: all installed."),
    max_tokens: int = typer.Option(48, "--max-tokens", "-n"),
    model: Optional[str] = typer.Option(None, "--model", "-m"),
) -> None:
    """Answer a prompt with the default model on every available backend, with timings."""
    from edge_sdk.runtime import SamplingParams, available_backends
    from edge_sdk.runtime.compare import DEFAULT_BACKENDS, answer_on_backends, user_messages

    installed = available_backends()
    chosen = list(backends) if backends else [b for b in DEFAULT_BACKENDS if b.split("-")[0] in installed]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("starting", total=len(chosen))

        def step(name: str) -> None:
            bar.update(task, description=f"{name}: loading (first use converts the model; cached after)",
                       completed=chosen.index(name))

        answers = answer_on_backends(user_messages(prompt, system), chosen,
                                     SamplingParams(max_tokens=max_tokens), model=model, on_progress=step)
        bar.update(task, completed=len(chosen), description="done")
    table = Table(title=f"{prompt!r} (greedy, max {max_tokens} tokens)", show_lines=True)
    for col in ("backend", "answer", "load s", "TTFT ms", "decode tok/s", "tokens"):
        table.add_column(col, overflow="fold")
    failed = 0
    for a in answers:
        if a.generation is None:
            failed += 1
            table.add_row(a.backend, f"[red]{a.error}[/]", f"{a.load_s:.1f}", "", "", "")
            continue
        t = a.generation.timings
        table.add_row(a.backend, a.generation.text.strip(), f"{a.load_s:.1f}",
                      f"{t.time_to_first_token_s * 1000:.0f}", f"{t.decode_tokens_per_s:.1f}",
                      str(t.generated_tokens))
    console.print(table)
    if failed == len(answers):
        raise typer.Exit(1)
