"""Every script in examples/ runs as the README's guides say (one per guide at least), on the real SmolLM2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from procs import ROOT, env

pytestmark = pytest.mark.slow
EXAMPLES = ROOT / "examples"


def run_example(path: str, *args: str, timeout: int = 900) -> list[str]:
    out = subprocess.run([sys.executable, str(EXAMPLES / path), *args], capture_output=True, text=True, env=env(),
                         cwd=ROOT, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.splitlines()


def test_every_example_is_run_by_this_file():
    here = (ROOT / "tests" / "test_examples.py").read_text()
    scripts = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.py"))
    assert scripts and all(f'"{s}"' in here for s in scripts), scripts


# ------------------------------------------------------------------------------------------ app developer
def test_app_generate_answers_with_logprobs():
    lines = run_example("app/generate.py", "What is the capital of France?")
    assert "Paris" in lines[0] and "tok/s" in lines[1] and "alternatives" in lines[2]


def test_app_stream_chat_streams_two_turns():
    lines = run_example("app/stream_chat.py", "llamacpp")
    assert sum(line.startswith("you> ") for line in lines) == 2
    assert all(len(line) > len("model> ") for line in lines if line.startswith("model> "))


def test_app_device_info_prints_the_profile_and_the_verdict():
    lines = run_example("app/device_info.py")
    assert '"cpu_count"' in lines[0] or "cpu" in lines[0]
    assert any(line.startswith("training allowed: ") for line in lines)


def test_app_train_private_adapter_trains_and_answers_with_the_adapter(tmp_path):
    lines = run_example("app/train_private_adapter.py", "--out", str(tmp_path / "adapter"), "--steps", "4",
                        "--backends", "llamacpp")
    before = float(next(x for x in lines if x.startswith("held-out eval loss before")).split(": ")[1])
    after = float(next(x for x in lines if "held-out eval loss after" in x).split(": ")[1].split()[0])
    assert after < before
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    assert any("with adapter:" in x for x in lines)


def test_app_federated_local_runs_and_learns():
    lines = run_example("app/federated_local.py", "--rounds", "1", "--local-steps", "3")
    losses = next(line for line in lines if line.startswith("task finished; held-out loss per version"))
    v0, v1 = (float(part.split()[1]) for part in losses.split(": ", 1)[1].split(", "))
    assert v1 < v0, losses
    assert any(line.startswith("base") for line in lines) and any(line.startswith("global adapter") for line in lines)


# ------------------------------------------------------------------------------------------ node operator
def test_node_poai_local_session_passes():
    lines = run_example("node/poai_local_session.py", "--plan", "lightweight")
    assert lines[0].startswith("session ") and "score 1.00" in lines[0]
    assert any(line.startswith("integrity scores the validator will read:") for line in lines)


# ------------------------------------------------------------------------------------------ validator
def test_validator_round_pays_the_original_and_not_the_copy():
    lines = run_example("validator/validator_round.py")
    original = next(line for line in lines if line.startswith("original"))
    copy = next(line for line in lines if line.startswith("copy"))
    assert "weight 1.000" in original and "weight 0.000" in copy and "exact copy of original" in copy
    assert "weights set on chain: True" in lines
