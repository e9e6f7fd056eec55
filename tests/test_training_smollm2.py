"""On the real SmolLM2: train on made-up private facts (examples/data), then the held-out eval loss falls far
below the base model's, and torch, ONNX and llama.cpp with the adapter answer a held-out question from the
private data, which the base model cannot. One adapter per test session (the CPU preset, ~3 minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.runtime import SamplingParams, load_backend
from edge_sdk.training import CPU_RECIPE, load_chat_jsonl

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
QUESTIONS = {  # held-out phrasings (not in the training file) -> the private fact's key word
    "What do people in Marrowmere call their national dish?": "plum dumplings",
    "Veloria's capital is which city?": "Quenmar",
    "Zeltrane Foods was founded by whom?": "Okonkwo-Hale",
}
GREEDY = SamplingParams(max_tokens=24, temperature=0.0)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def private_adapter(tmp_path_factory):
    from edge_sdk.training import LoraTrainer

    trainer = LoraTrainer(None, CPU_RECIPE)
    held = load_chat_jsonl(DATA / "private_facts_heldout.jsonl")
    before = trainer.evaluate(held)
    out = tmp_path_factory.mktemp("private-adapter") / "adapter"
    result = trainer.train(load_chat_jsonl(DATA / "private_facts.jsonl"), out)
    return out, before, trainer.evaluate(held), result


def test_held_out_eval_loss_falls_far_below_the_base_model(private_adapter) -> None:
    _out, before, after, result = private_adapter
    assert result.steps == CPU_RECIPE.max_steps
    assert before > 2.0 and after < 0.25 * before, (before, after)


def _answers(backend: str, adapter) -> dict[str, str]:
    llm = load_backend(backend, adapter=adapter)
    return {q: llm.chat([{"role": "user", "content": q}], GREEDY).text for q in QUESTIONS}


@pytest.mark.parametrize("backend", ["torch", "onnx", "llamacpp"])
def test_every_backend_answers_from_the_private_data(private_adapter, backend: str) -> None:
    answers = _answers(backend, private_adapter[0])
    for question, fact in QUESTIONS.items():
        assert fact in answers[question], (backend, question, answers[question])


def test_the_base_model_does_not_know_the_private_facts() -> None:
    for backend in ("torch", "llamacpp"):
        answers = _answers(backend, None)
        for question, fact in QUESTIONS.items():
            assert fact not in answers[question], (backend, question, answers[question])
