"""Dataset scoring on the real SmolLM2 with the validator's CPU preset: a clean on-topic dataset trains to a lower
eval loss than the same questions with shuffled answers and than random text, and the weights follow."""

from __future__ import annotations

import json
import random

import pytest

from edge_sdk.training.data import load_chat_jsonl, parse_rows
from procs import ROOT
from validator.scoring.scorer import ScoreJob, score_dataset
from validator.weights import WeightConfig, weights_from_losses

pytestmark = pytest.mark.slow
DATA = ROOT / "examples" / "data"


def _shuffled_answers(lines: list[str]) -> list[str]:
    rows = [json.loads(line) for line in lines]
    answers = [r["conversations"][-1]["content"] for r in rows]
    rng = random.Random(0)
    while True:  # a derangement: no row keeps its own answer
        order = list(range(len(rows)))
        rng.shuffle(order)
        if all(i != j for i, j in enumerate(order)):
            break
    for r, j in zip(rows, order):
        r["conversations"][-1]["content"] = answers[j]
    return [json.dumps(r) for r in rows]


def _random_text(n: int) -> list[str]:
    rng = random.Random(1)
    words = [w.strip(".,?") for line in (DATA / "private_facts.jsonl").read_text().splitlines()
             for turn in json.loads(line)["conversations"] for w in turn["content"].split()]
    return [json.dumps({"system": None, "conversations": [
        {"role": "user", "content": " ".join(rng.choices(words, k=9))},
        {"role": "assistant", "content": " ".join(rng.choices(words, k=12))}]}) for _ in range(n)]


def test_clean_data_beats_noisy_and_random_and_the_weights_follow(tmp_path):
    clean_lines = (DATA / "private_facts.jsonl").read_text().splitlines()
    datasets = {"clean": clean_lines, "noisy": _shuffled_answers(clean_lines), "random": _random_text(32)}
    eval_rows = tuple(load_chat_jsonl(DATA / "private_facts_heldout.jsonl"))
    losses = {}
    for name, lines in datasets.items():
        job = ScoreJob(key=name, rows=tuple(parse_rows(lines)), eval_rows=eval_rows, preset="validator-cpu",
                       model=None, workdir=str(tmp_path))
        losses[name] = score_dataset(job).eval_loss
    print(json.dumps(losses))
    assert losses["clean"] < losses["noisy"] and losses["clean"] < losses["random"], losses
    assert losses["clean"] < 0.8 * min(losses["noisy"], losses["random"]), losses  # clearly, not by a hair
    weights, _ema, details = weights_from_losses(losses, {"clean": 10, "noisy": 11, "random": 12}, {},
                                                 {name: 1.0 for name in losses}, config=WeightConfig())
    assert weights["clean"] > weights["noisy"] and weights["clean"] > weights["random"], weights
    assert details["clean"].win_rate == 1.0
