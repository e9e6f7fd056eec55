"""The training engine on a tiny local model: deterministic, resumable (also after SIGKILL) to the same
adapter, independent of the micro-batch size, memory-gated with the numbers, FedProx pulls towards the start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge_sdk.training import CPU_RECIPE, TrainingMemoryError, parse_rows

ROOT = Path(__file__).resolve().parents[1]
RECIPE = CPU_RECIPE.with_(r=4, alpha=8, max_steps=6, epochs=3, checkpoint_every=2, learning_rate=5e-3)


def _rows(n: int = 24):
    lines = []
    for i in range(n):
        q = f"What is the code word number {i}?" + " please" * (i % 5)
        lines.append(json.dumps({"system": None, "conversations": [
            {"role": "user", "content": q}, {"role": "assistant", "content": f"The code word {i} is zebra{i * 7}."}]}))
    return parse_rows(lines)


def _adapter(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def _same(a: dict, b: dict, atol: float = 1e-6) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


@pytest.fixture(scope="module")
def uninterrupted(models_tiny_hf_dir, tmp_path_factory):
    from edge_sdk.training import LoraTrainer

    out = tmp_path_factory.mktemp("train") / "full"
    trainer = LoraTrainer(models_tiny_hf_dir, RECIPE)
    before = trainer.evaluate(_rows())
    result = trainer.train(_rows(), out)
    return out, result, before, trainer.evaluate(_rows())


def test_training_writes_a_peft_adapter_and_learns(uninterrupted) -> None:
    out, result, before, after = uninterrupted
    assert (out / "adapter_config.json").is_file() and (out / "training.json").is_file()
    assert not (out / "checkpoints").exists()  # cleaned up once the adapter is whole
    assert result.steps == result.total_steps == 6 and result.micro_batch >= 1 and result.tokens > 0
    assert after < before - 0.5, (before, after)  # the train-set loss falls


def test_same_seed_same_adapter(models_tiny_hf_dir, uninterrupted, tmp_path) -> None:
    from edge_sdk.training import LoraTrainer

    LoraTrainer(models_tiny_hf_dir, RECIPE).train(_rows(), tmp_path / "again")
    assert _same(_adapter(tmp_path / "again"), _adapter(uninterrupted[0]), atol=0.0)
    LoraTrainer(models_tiny_hf_dir, RECIPE.with_(seed=1)).train(_rows(), tmp_path / "seed1")
    assert not _same(_adapter(tmp_path / "seed1"), _adapter(uninterrupted[0]), atol=1e-4)


def test_micro_batching_does_not_change_the_gradient(models_tiny_hf_dir, tmp_path) -> None:
    """Without dropout, one row per micro-batch (a small memory budget) gives the adapter of eight. Up to float
    rounding, which AdamW amplifies where a gradient is near its eps (1e-8): its first step maps a relative
    difference there to an update difference of up to lr. Measured max difference: 2e-6 without a system
    message, 4.8e-5 with the default one (values ~0.13); a step taken over the wrong rows or tokens moves most
    elements by a different ~lr = 1e-3."""
    from edge_sdk.training import LoraTrainer
    from edge_sdk.training.memory_plan import ModelShape, estimate

    recipe = RECIPE.with_(dropout=0.0, max_steps=3)
    big = LoraTrainer(models_tiny_hf_dir, recipe)
    budget = estimate(ModelShape.of(big.model.get_base_model()), recipe.r, 60, 1) + 1
    small = LoraTrainer(models_tiny_hf_dir, recipe, memory_budget_bytes=budget)
    assert small.train(_rows(), tmp_path / "mb1").micro_batch == 1
    assert big.train(_rows(), tmp_path / "mb8").micro_batch > 1
    assert _same(_adapter(tmp_path / "mb1"), _adapter(tmp_path / "mb8"), atol=2e-4)


def test_stop_and_resume_gives_the_uninterrupted_adapter(models_tiny_hf_dir, uninterrupted, tmp_path) -> None:
    from edge_sdk.training import LoraTrainer

    first = LoraTrainer(models_tiny_hf_dir, RECIPE).train(_rows(), tmp_path / "r", stop_after_steps=3)
    assert first.steps == 3 and not (tmp_path / "r" / "adapter_config.json").exists()
    second = LoraTrainer(models_tiny_hf_dir, RECIPE).train(_rows(), tmp_path / "r")
    assert second.resumed_from_step == 3 and second.steps == 6
    assert _same(_adapter(tmp_path / "r"), _adapter(uninterrupted[0]))


KILLED = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    from edge_sdk.training import LoraTrainer, parse_rows
    from edge_sdk.training.recipe import LoraRecipe

    recipe = LoraRecipe(**json.loads(sys.argv[3]))
    rows = parse_rows(open(sys.argv[4]).read().splitlines())

    def slow(p):
        print("step", p.step, flush=True)
        time.sleep(0.3)  # room for the kill to land between steps and inside checkpoint writes

    LoraTrainer(sys.argv[1], recipe).train(rows, sys.argv[2], progress=slow)
""")


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_adapter(models_tiny_hf_dir, uninterrupted,
                                                                     tmp_path) -> None:
    from edge_sdk.training import LoraTrainer

    script, data = tmp_path / "killed.py", tmp_path / "data.jsonl"
    script.write_text(KILLED.format(root=str(ROOT)))
    data.write_text("".join(json.dumps(r.to_json()) + "\n" for r in _rows()))
    recipe = dict(RECIPE.to_dict(), target_modules=RECIPE.target_modules)
    proc = subprocess.Popen([sys.executable, str(script), str(models_tiny_hf_dir), str(tmp_path / "k"),
                             json.dumps(recipe), str(data)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, f"trainer exited early ({proc.wait()})"
        if line.strip() == "step 3":  # checkpoint at step 2 is on disk, step 3 is in flight
            break
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (tmp_path / "k" / "adapter_config.json").exists()
    result = LoraTrainer(models_tiny_hf_dir, RECIPE).train(_rows(), tmp_path / "k")
    assert result.resumed_from_step in (2, 4) and result.steps == 6
    assert _same(_adapter(tmp_path / "k"), _adapter(uninterrupted[0]))


def test_checkpoints_of_another_run_are_not_resumed(models_tiny_hf_dir, tmp_path) -> None:
    from edge_sdk.errors import InvalidRequestError
    from edge_sdk.training import LoraTrainer

    LoraTrainer(models_tiny_hf_dir, RECIPE).train(_rows(), tmp_path / "x", stop_after_steps=2)
    other = LoraTrainer(models_tiny_hf_dir, RECIPE.with_(seed=1))
    with pytest.raises(InvalidRequestError, match="holds checkpoints of a different run"):
        other.train(_rows(), tmp_path / "x")
    assert other.train(_rows(), tmp_path / "x", resume=False).resumed_from_step == 0


def test_memory_estimate_refuses_with_the_numbers(models_tiny_hf_dir, tmp_path) -> None:
    from edge_sdk.training import LoraTrainer

    trainer = LoraTrainer(models_tiny_hf_dir, RECIPE, memory_budget_bytes=64 << 20)
    with pytest.raises(TrainingMemoryError, match=r"needs about [\d.]+ \wiB for one row of \d+ tokens .* "
                                                  r"budget is 64\.0 MiB"):
        trainer.train(_rows(), tmp_path / "no")
    assert not (tmp_path / "no").exists()  # refused before anything was written


def test_fedprox_keeps_the_adapter_near_where_it_started(models_tiny_hf_dir, uninterrupted, tmp_path) -> None:
    import torch

    from edge_sdk.training import LoraTrainer

    start = uninterrupted[0]

    def drift(mu: float, out: Path) -> float:
        LoraTrainer(models_tiny_hf_dir, RECIPE.with_(proximal_mu=mu, seed=5), init_adapter=start).train(
            _rows(12), out)
        a, b = _adapter(start), _adapter(out)
        return float(sum(((a[k] - b[k]) ** 2).sum() for k in a) ** 0.5)

    free, held = drift(0.0, tmp_path / "free"), drift(50.0, tmp_path / "prox")
    assert held < 0.5 * free, (free, held)
    assert torch.isfinite(torch.tensor(held))


def test_timing_is_reported(uninterrupted) -> None:
    result = uninterrupted[1]
    assert result.tokens_per_s > 0 and result.seconds > 0 and result.peak_rss_bytes > 0
    assert 0.0 <= result.padding_fraction < 0.5
    assert time.time() > 0
