"""Training data in: chat JSONL checks (errors name the lines), the chat template with assistant-only labels,
and the step / micro-batch plan. Tokenizer-level, no model weights."""

from __future__ import annotations

import json

import pytest

from edge_sdk.runtime.chat import chat_prompt_ids
from edge_sdk.training import DatasetError, parse_rows
from edge_sdk.training.batching import micro_batches, padding_fraction, plan_epoch
from edge_sdk.training.encode import IGNORE, EncodedRow, encode_row, encode_rows


def row(*turns: str, system: str | None = None) -> str:
    roles = ["user", "assistant"] * len(turns)
    return json.dumps({"system": system, "conversations": [{"role": r, "content": t} for r, t in zip(roles, turns)]})


@pytest.fixture(scope="module")
def tokenizer(models_tiny_hf_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(models_tiny_hf_dir)


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 2: not valid JSON"),
    (json.dumps({"system": None, "conversations": [{"role": "bot", "content": "x"}]}), "line 2: turn 0 has role 'bot'"),
    (row("hi", "hello", "again"), "line 2: the conversation ends with a user turn"),
    (json.dumps({"system": None, "conversations": [{"role": "user", "content": "a"},
                                                   {"role": "user", "content": "b"}]}), "turns alternate"),
    (json.dumps({"system": 3, "conversations": []}), "'system' must be a string or null"),
    (json.dumps({"conversations": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]}),
     "turn 0 content must be a non-empty string"),
    (json.dumps([1, 2]), "expected a JSON object"),
    (json.dumps({"system": None, "conversations": [], "extra": 1}), "unknown key"),
])
def test_bad_rows_are_named_by_line(line: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        parse_rows([row("q", "a"), line, row("q2", "a2")], "data.jsonl")


def test_every_bad_line_is_reported_at_once_and_empty_files_are_refused() -> None:
    with pytest.raises(DatasetError, match=r"(?s)has 2 bad row\(s\).*line 1.*line 3"):
        parse_rows(["{", row("q", "a"), "[]"])
    with pytest.raises(DatasetError, match="has no rows"):
        parse_rows(["", "   "])


def test_labels_cover_exactly_the_assistant_turns(tokenizer) -> None:
    (r,) = parse_rows([row("What is 2+2?", "Four.", "And 3+3?", "Six.", system="Be brief.")])
    enc = encode_row(tokenizer, r, 512)
    labelled = [t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE]
    text = tokenizer.decode(labelled)
    assert text.replace("<|im_end|>", "|") == "Four.|Six.|"  # answers and their end-of-turn tokens only
    assert all(lab in (IGNORE, t) for t, lab in zip(enc.input_ids, enc.labels))


def test_a_null_system_row_is_the_prompt_the_runtime_builds(tokenizer) -> None:
    """Training sees the same prompt tokens as `edgeproof edge generate` (no system message given)."""
    (r,) = parse_rows([row("Where is Quenmar?", "On Veloria.")])
    enc = encode_row(tokenizer, r, 512)
    prompt = chat_prompt_ids(tokenizer, [{"role": "user", "content": "Where is Quenmar?"}])
    assert list(enc.input_ids[: len(prompt)]) == prompt
    assert all(lab == IGNORE for lab in enc.labels[: len(prompt)]) and enc.labels[len(prompt)] != IGNORE


def test_rows_longer_than_the_context_are_named(tokenizer) -> None:
    rows = parse_rows([row("short", "ok"), row("long " * 300, "ok")])
    with pytest.raises(DatasetError, match=r"line 2 is \d+ tokens with the chat template, over the training"):
        encode_rows(tokenizer, rows, 128)


def test_step_plan_is_deterministic_complete_and_length_grouped() -> None:
    lengths = [10 + (i * 37) % 200 for i in range(100)]
    a, b = plan_epoch(lengths, 8, seed=3, epoch=0), plan_epoch(lengths, 8, seed=3, epoch=0)
    assert a == b and plan_epoch(lengths, 8, seed=3, epoch=1) != a
    assert sorted(i for step in a for i in step) == list(range(100))  # every row once per epoch
    assert all(len(s) == 8 for s in a[:-1]) or sum(len(s) for s in a) == 100
    rows = [EncodedRow(tuple(range(n)), tuple([1] * n), 0) for n in lengths]
    grouped = padding_fraction(rows, a, 8)
    unsorted = padding_fraction(rows, [list(range(k, min(k + 8, 100))) for k in range(0, 100, 8)], 8)
    assert grouped < 0.1 < unsorted  # grouping by length removes most padding
    assert micro_batches([5, 4, 3, 2, 1], 2) == [[5, 4], [3, 2], [1]]
