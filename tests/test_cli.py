"""The `edgeproof` command: thin, prints results, and turns bad input into a message and exit code 2."""

from __future__ import annotations

import json

import pytest


from procs import run_cli


def test_help_lists_user_groups():
    out = run_cli("--help")
    assert out.returncode == 0
    for group in ("edge", "demo"):
        assert group in out.stdout


def test_edge_info_json():
    out = run_cli("edge", "info", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["profile"]["memory"]["total"] > 0
    assert data["profile"]["cpu"]["logical_cores"] >= 1
    assert data["eligibility"]["allowed"] is False  # no --opt-in
    assert any("opt" in r.lower() for r in data["eligibility"]["reasons"])


def test_edge_info_table():
    out = run_cli("edge", "info", "--opt-in")
    assert out.returncode == 0, out.stderr
    assert "RAM" in out.stdout or "ram" in out.stdout.lower()


def test_unknown_backend_is_a_clear_error():
    out = run_cli("edge", "generate", "hi", "--backend", "vllm")
    assert out.returncode == 2
    assert "unknown backend 'vllm'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_bad_sampling_value_is_a_clear_error():
    out = run_cli("edge", "generate", "hi", "--top-p", "0")
    assert out.returncode == 2
    assert "top_p must be in (0, 1]" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_unknown_model_is_a_clear_error():
    out = run_cli("edge", "generate", "hi", "--model", "/nonexistent/model.gguf")
    assert out.returncode == 2
    assert "/nonexistent/model.gguf" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


@pytest.mark.slow
def test_generate_json_on_torch():
    out = run_cli("edge", "generate", "What is the capital of France?", "--backend", "torch", "--json",
                  "--max-tokens", "16", "--logprobs", "2")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "Paris" in data["text"]
    assert len(data["logprobs"]) == len(data["token_ids"])
    assert data["timings"]["generated_tokens"] == len(data["token_ids"])


@pytest.mark.slow
def test_edge_compare_runs_on_a_backend():
    out = run_cli("edge", "compare", "--backend", "llamacpp", "--max-tokens", "16")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    assert "decode tok/s" in out.stdout
