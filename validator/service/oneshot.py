"""`edgeproof validator score --datasets DIR`: score a folder of datasets once, without a chain.

Files are taken in name order as if committed in that order: a later file that copies an earlier one is marked
as a copy and not trained. Each valid dataset is scored with the same code the service uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_sdk.training.data import load_chat_jsonl
from edge_sdk.training.recipe import preset as recipe_preset
from validator.datasets.duplicates import Submission, find_duplicates
from validator.datasets.limits import DatasetLimits
from validator.datasets.validate import validate_dataset
from validator.scoring.runner import InProcessRunner
from validator.scoring.scorer import ScoreJob


def score_folder(files: Sequence[Path], eval_data: Path, *, preset: str = "validator-cpu", model: str | None = None,
                 workdir: Path = Path("validator-work"), runner: Any = None, limits: DatasetLimits | None = None,
                 progress: Callable[[str, str], None] | None = None) -> list[dict[str, Any]]:
    """One result per file: {name, status (ok / rejected / copy / failed), reasons, eval_loss, timings}."""
    limits = (limits or DatasetLimits()).within_context(recipe_preset(preset).max_seq_len)
    eval_rows = tuple(load_chat_jsonl(eval_data))
    results: dict[str, dict[str, Any]] = {}
    valid: list[tuple[str, int, list]] = []
    for order, path in enumerate(files):
        report = validate_dataset(path, limits)
        results[path.stem] = {"name": path.stem, "status": "ok" if report.ok else "rejected",
                              "reasons": list(report.reasons), "eval_loss": None}
        if report.ok:
            valid.append((path.stem, order, list(report.rows)))
        elif progress is not None:
            progress(path.stem, "rejected")
    for finding in find_duplicates([Submission(name, order, rows) for name, order, rows in valid]):
        results[finding.copy].update(status="copy", reasons=[f"{finding.kind} copy of {finding.original} "
                                                             f"({finding.overlap:.0%} of rows)"])
        if progress is not None:
            progress(finding.copy, "copy")
    jobs = [ScoreJob(key=f"oneshot-{name}", rows=tuple(rows), eval_rows=eval_rows, preset=preset, model=model,
                     workdir=str(workdir)) for name, _order, rows in valid if results[name]["status"] == "ok"]
    for job in jobs:
        if progress is not None:
            progress(job.key.removeprefix("oneshot-"), "training")
    for result in (runner or InProcessRunner()).run(jobs):
        name = result.job.key.removeprefix("oneshot-")
        if result.outcome is None:
            results[name].update(status="failed", reasons=[result.error or "failed"])
        else:
            results[name].update(eval_loss=result.outcome.eval_loss, train_seconds=result.outcome.train_seconds,
                                 eval_seconds=result.outcome.eval_seconds)
        if progress is not None:
            progress(name, results[name]["status"] if result.outcome is None else f"loss {result.outcome.eval_loss:.4f}")
    return [results[p.stem] for p in files]
