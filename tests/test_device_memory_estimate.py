"""estimate_training_memory against the measured peak RSS of real LoRA training steps.

A small Llama built locally from a config (random weights, no download) is trained for a few steps in a fresh
process with the project's LoRA recipe (r=16, alpha=32, dropout=0.1, all linear layers); the process's peak
RSS (imports included: the estimate's runtime-overhead term stands for them) must stay under the estimate,
and the estimate must not be absurdly generous either (within 3x of the training's own increment), so the
test fails if the formula drifts either way.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edge_sdk.device import training_memory_breakdown

pytest.importorskip("transformers")
pytest.importorskip("peft")

SCRIPT = r"""
import json, resource, sys
import psutil, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model

cfg = json.loads(sys.argv[1])
seq, steps = cfg.pop("seq"), cfg.pop("steps")
torch.manual_seed(0)
torch.set_num_threads(1)
baseline = psutil.Process().memory_info().rss
model = LlamaForCausalLM(LlamaConfig(tie_word_embeddings=True, attn_implementation="eager", **cfg))
params = sum(p.numel() for p in model.parameters())
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.1, target_modules="all-linear"))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
for _ in range(steps):
    ids = torch.randint(0, cfg["vocab_size"], (1, seq))
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    opt.step()
    opt.zero_grad()
    del out
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
print(json.dumps({"params": params, "peak": peak, "increment": peak - baseline}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss units differ off Linux")
def test_estimate_bounds_measured_lora_training_peak() -> None:
    shape = {
        "hidden_size": 384,
        "intermediate_size": 1024,
        "num_hidden_layers": 8,
        "num_attention_heads": 6,
        "num_key_value_heads": 2,
        "vocab_size": 16_000,
    }
    seq = 384
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps({**shape, "seq": seq, "steps": 3})],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    terms = training_memory_breakdown(
        measured["params"],
        16,
        seq,
        4,
        hidden_size=shape["hidden_size"],
        num_layers=shape["num_hidden_layers"],
        vocab_size=shape["vocab_size"],
    )
    estimate = sum(terms.values())
    peak, increment = measured["peak"], measured["increment"]
    print(
        f"peak RSS {peak / 2**20:.0f} MiB (training {increment / 2**20:.0f} MiB), estimate {estimate / 2**20:.0f} MiB"
    )
    assert peak < estimate, (peak, terms)
    assert estimate - terms["runtime_overhead"] < 3 * increment, (increment, terms)
