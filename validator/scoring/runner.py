"""Where score jobs run: in this process, one after another (`InProcessRunner`), or as Ray tasks
(`RayRunner`, ray_runner.py). Both yield each job's result as it finishes, so the caller stores it at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from validator.scoring.scorer import ScoreJob, ScoreOutcome, score_dataset


@dataclass(frozen=True)
class JobResult:
    job: ScoreJob
    outcome: ScoreOutcome | None
    error: str | None = None  # why it failed (after the runner's retries)
    attempts: int = 1


class InProcessRunner:
    name = "in-process"

    def run(self, jobs: Sequence[ScoreJob]) -> Iterator[JobResult]:
        for job in jobs:
            try:
                yield JobResult(job, score_dataset(job))
            except Exception as exc:  # noqa: BLE001 - one dataset's failure is its verdict, the round goes on
                yield JobResult(job, None, f"{type(exc).__name__}: {exc}"[:1000])

    def close(self) -> None:
        pass
