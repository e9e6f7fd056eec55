"""Scoring on a real local Ray instance (tiny model): the same losses as in-process, a worker that dies is retried,
and a job that keeps dying comes back as a reported failure instead of being lost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from edge_sdk.training.data import load_chat_jsonl
from procs import ROOT
from validator.scoring.runner import InProcessRunner
from validator.scoring.scorer import ScoreJob, score_dataset

pytestmark = pytest.mark.slow
DATA = ROOT / "examples" / "data"


def crash_once_then_score(job: ScoreJob):
    """Kill the worker process on the first attempt of each job (a marker file remembers), then score."""
    marker = Path(job.workdir) / f"{job.key}.attempted"
    if "always-crash" in job.key or not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os._exit(1)
    return score_dataset(job)


@pytest.fixture(scope="module")
def ray_runner_factory():
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    runners = []

    def make(**kw):
        from validator.scoring.ray_runner import RayRunner

        runner = RayRunner("local", num_cpus=2, cpus_per_task=1, **kw)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def _jobs(tiny: Path, workdir: Path, names: list[str]) -> list[ScoreJob]:
    rows = load_chat_jsonl(DATA / "private_facts.jsonl")
    eval_rows = tuple(load_chat_jsonl(DATA / "private_facts_heldout.jsonl"))
    return [ScoreJob(key=name, rows=tuple(rows[i::2]), eval_rows=eval_rows, preset="validator-cpu",
                     model=str(tiny), workdir=str(workdir), threads=1) for i, name in enumerate(names)]


def test_ray_scores_like_in_process_and_retries_a_dead_worker(models_tiny_hf_dir, tmp_path, ray_runner_factory):
    jobs = _jobs(models_tiny_hf_dir, tmp_path / "ray", ["a", "b", "always-crash"])
    runner = ray_runner_factory(task=crash_once_then_score, max_retries=2)
    results = {r.job.key: r for r in runner.run(jobs)}
    local = {r.job.key: r for r in InProcessRunner().run(_jobs(models_tiny_hf_dir, tmp_path / "local", ["a", "b"]))}
    for key in ("a", "b"):  # each worker died once, was retried, and scored the same as in this process
        assert results[key].outcome is not None, results[key].error
        assert results[key].outcome.eval_loss == pytest.approx(local[key].outcome.eval_loss, rel=1e-5)
    failed = results["always-crash"]  # reported, not lost
    assert failed.outcome is None and "3 attempts" in failed.error
