"""How the demo reports progress: one callback, so the CLI can draw bars and Python callers can log or ignore it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: float, total: float, detail: str) -> None: ...


def silent(stage: str, done: float, total: float, detail: str) -> None:
    """The default: report nothing."""


STAGES: tuple[tuple[str, str], ...] = (
    ("poai", "PoAI: challenger measures the nodes"),
    ("federation", "federation: clients train, coordinator aggregates"),
    ("answers", "base vs global adapter"),
    ("miners", "miners commit datasets"),
    ("validator", "validator scores and sets weights"),
    ("report", "report"),
)

ProgressFn = Callable[[str, float, float, str], None]
