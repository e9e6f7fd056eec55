"""Train a LoRA adapter on private facts the base model cannot know, then ask every backend.

    python examples/app/train_private_adapter.py [--out my-adapter] [--backends torch llamacpp onnx] [--steps N]

About 3 minutes of training for SmolLM2-135M on 2 CPU cores (the `cpu` preset), plus a one-off ONNX export.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from edge_sdk.runtime import SamplingParams, load_backend
from edge_sdk.training import LoraTrainer, load_chat_jsonl, preset

DATA = Path(__file__).resolve().parent.parent / "data"

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="my-adapter")
parser.add_argument("--backends", nargs="+", default=["torch", "llamacpp", "onnx"])
parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the cpu preset's 60)")
args = parser.parse_args()

recipe = preset("cpu") if args.steps is None else dataclasses.replace(preset("cpu"), max_steps=args.steps)
trainer = LoraTrainer(recipe=recipe)
held = load_chat_jsonl(DATA / "private_facts_heldout.jsonl")
print(f"held-out eval loss before: {trainer.evaluate(held):.3f}")
result = trainer.train(load_chat_jsonl(DATA / "private_facts.jsonl"), args.out,
                       progress=lambda p: print(f"\rstep {p.step}/{p.total_steps} loss {p.loss:.3f} "
                                                f"{p.tokens_per_s:.0f} tok/s", end="", flush=True))
print(f"\nheld-out eval loss after: {trainer.evaluate(held):.3f} ({result.seconds:.0f} s)")

question = [{"role": "user", "content": "Veloria's capital is which city?"}]
for backend in args.backends:
    base = load_backend(backend).chat(question, SamplingParams(max_tokens=24)).text
    tuned = load_backend(backend, adapter=args.out).chat(question, SamplingParams(max_tokens=24)).text
    print(f"{backend:9} base: {base!r}\n{'':9} with adapter: {tuned!r}")
