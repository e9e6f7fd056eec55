"""Shared CLI plumbing: one console, and user errors printed as a message instead of a traceback."""

from __future__ import annotations

import asyncio
import functools
import json
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

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
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")  # "[torch]" is not a style
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop), so a server drains instead of dying."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    return stop


def print_ready(**fields: Any) -> None:
    """The one stdout line a supervisor (or a test) waits for; the JSON logs go to stderr."""
    print(json.dumps({"event": "ready", **fields}), flush=True)
