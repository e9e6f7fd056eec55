"""Shared CLI plumbing: one console, and user errors printed as a message instead of a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from edge_sdk.errors import EdgeProofError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def friendly_errors(fn: F) -> F:
    """Turn EdgeProofError (bad input, missing model...) into a red one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgeProofError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
