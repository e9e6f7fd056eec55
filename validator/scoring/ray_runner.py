"""Scale-out on Ray: each dataset's scoring is one Ray task with its CPU/GPU needs declared.

    runner = RayRunner("local", cpus_per_task=1)      # starts a local Ray; or an address "ray://host:10001"
    for result in runner.run(jobs): ...               # as each task finishes

A task that crashes (its worker process dies, or it raises) is retried by Ray up to `max_retries` times; a job
that still fails comes back as a JobResult with the error, never lost. Results are returned to the caller, who
stores them in the same state as in-process scoring.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from edge_sdk.errors import BackendUnavailableError
from validator.scoring.runner import JobResult
from validator.scoring.scorer import ScoreJob, score_dataset


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extras installed
        raise BackendUnavailableError("Ray scale-out needs ray: pip install 'edgeproof[validator]'") from exc
    return ray


class RayRunner:
    name = "ray"

    def __init__(self, address: str = "local", *, cpus_per_task: float = 1.0, gpus_per_task: float = 0.0,
                 max_retries: int = 2, num_cpus: int | None = None, object_store_bytes: int = 256 << 20,
                 runtime_env: dict[str, Any] | None = None, task: Callable[[ScoreJob], Any] = score_dataset
                 ) -> None:
        """`address`: "local" starts a Ray on this machine (`num_cpus`, default all; a small object store, since
        jobs carry only rows and losses), anything else joins that cluster. `task` is what a worker runs per job
        (the scorer; tests put a crashing wrapper around it)."""
        ray = _ray()
        self._started_here = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "runtime_env": runtime_env or {}}
            if address == "local":
                # a loaded 2-core box can take longer than Ray's default 30 s to register the raylet (seen here)
                os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")
                # address="local": always a new local instance, never a cluster that RAY_ADDRESS points at
                ray.init(address="local", num_cpus=num_cpus, object_store_memory=object_store_bytes, **kwargs)
            else:
                ray.init(address=address, **kwargs)
            self._started_here = True
        self.cpus_per_task, self.gpus_per_task, self.max_retries = cpus_per_task, gpus_per_task, max_retries
        self._remote = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=max_retries,
                                  retry_exceptions=True)(task)

    def run(self, jobs: Sequence[ScoreJob]) -> Iterator[JobResult]:
        ray = _ray()
        pending = {self._remote.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            job = pending.pop(ref)
            try:
                yield JobResult(job, ray.get(ref), attempts=1)
            except Exception as exc:  # noqa: BLE001 - RayTaskError / WorkerCrashedError after the retries
                yield JobResult(job, None, f"failed after {self.max_retries + 1} attempts: "
                                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:1000],
                                attempts=self.max_retries + 1)

    def close(self) -> None:
        if self._started_here:
            _ray().shutdown()
