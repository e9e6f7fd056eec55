"""Training benchmark: our engine beside a plain transformers `Trainer` + peft run, as the FLock OFF validator
trains (batch 1, gradient accumulation 8, no packing), on the same data, recipe and seed.

    python benchmarks/training.py                  # SmolLM2-135M, examples/data/private_facts.jsonl, 2 epochs
    python benchmarks/training.py --epochs 1       # shorter

Each run is its own process (clean peak RSS), one after the other, same thread count. Reported: tokens/s
(prompt + answer tokens, no padding, per second of training), peak RSS, the final eval loss of both adapters
on the held-out rows measured by the same `LoraTrainer.evaluate`, and our engine's seconds per micro-batch
step (forward + backward) at seq 256 for micro-batches of 1 and of the size the memory plan picks. Results: a
table on stdout and benchmarks/results/training.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "examples" / "data" / "private_facts.jsonl"
HELD = ROOT / "examples" / "data" / "private_facts_heldout.jsonl"


def _recipe(epochs: int):
    from edge_sdk.training import FLOCK_OFF_RECIPE

    return FLOCK_OFF_RECIPE.with_(epochs=epochs, max_seq_len=256)


def run_ours(out: Path, epochs: int) -> dict[str, Any]:
    from edge_sdk.training import LoraTrainer, load_chat_jsonl

    trainer = LoraTrainer(None, _recipe(epochs))
    result = trainer.train(load_chat_jsonl(DATA), out, resume=False)
    return {"tokens": result.tokens, "seconds": result.seconds, "micro_batch": result.micro_batch,
            "steps": result.steps}


def run_hf(out: Path, epochs: int) -> dict[str, Any]:
    """The FLock OFF validator's way: transformers Trainer, batch 1 x accumulation 8, padded batches of one."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from edge_sdk.models import resolve_model
    from edge_sdk.training import load_chat_jsonl
    from edge_sdk.training.encode import encode_rows

    recipe = _recipe(epochs)
    assets = resolve_model(None)
    tokenizer = assets.tokenizer()
    encoded = encode_rows(tokenizer, load_chat_jsonl(DATA), recipe.max_seq_len)
    dataset = [{"input_ids": list(r.input_ids), "attention_mask": [1] * len(r), "labels": list(r.labels)}
               for r in encoded]
    torch.manual_seed(recipe.seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(assets.hf_dir(), dtype=torch.float32),
                           recipe.to_peft_config())
    args = TrainingArguments(
        output_dir=str(out / "hf-run"), per_device_train_batch_size=recipe.batch_size,
        gradient_accumulation_steps=recipe.grad_accum_steps, num_train_epochs=recipe.epochs,
        learning_rate=recipe.learning_rate, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
        max_grad_norm=recipe.max_grad_norm, seed=recipe.seed, save_strategy="no", report_to=[], use_cpu=True,
        logging_steps=1000, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    model.save_pretrained(str(out))
    return {"tokens": sum(len(r) for r in encoded) * recipe.epochs, "seconds": round(seconds, 3),
            "micro_batch": 1, "steps": int(trainer.state.global_step)}


def step_seconds() -> dict[str, float]:
    """Our engine: seconds per micro-batch step (forward + backward) at seq 256."""
    from edge_sdk.training import LoraTrainer
    from edge_sdk.training.encode import EncodedRow

    trainer = LoraTrainer(None, _recipe(1))
    row = EncodedRow(tuple(range(1000, 1256)), tuple([-100] * 128 + list(range(1128, 1256))), 0)
    plan = trainer.memory_plan(256)
    out = {}
    for size in sorted({1, plan.micro_batch}):
        trainer._loss_sum([row] * size)[0].backward()  # warm-up
        t0 = time.perf_counter()
        for _ in range(3):
            trainer._loss_sum([row] * size)[0].backward()
        out[f"micro_batch_{size}"] = round((time.perf_counter() - t0) / 3, 3)
    return out


def evaluate(adapter: Path) -> float:
    from edge_sdk.training import LoraTrainer, load_chat_jsonl

    return LoraTrainer(None, _recipe(1), init_adapter=adapter).evaluate(load_chat_jsonl(HELD))


def worker(kind: str, out: Path, epochs: int) -> None:
    result = {"ours": run_ours, "hf": run_hf}[kind](out, epochs) if kind in ("ours", "hf") else {}
    if kind == "steps":
        result = step_seconds()
    if kind in ("ours", "hf"):
        result["eval_loss"] = evaluate(out)
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--worker", choices=["ours", "hf", "steps"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "training.json"))
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, Path(args.dir), args.epochs)
        return 0

    import tempfile

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("hf", "ours", "steps"):
            console.print(f"running {kind}...")
            proc = subprocess.run([sys.executable, __file__, "--worker", kind, "--dir", str(Path(tmp) / kind),
                                   "--epochs", str(args.epochs)], capture_output=True, text=True,
                                  env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
            results[kind] = json.loads(lines[-1][len("RESULT "):])
    ours, hf = results["ours"], results["hf"]
    for r in (ours, hf):
        r["tokens_per_s"] = round(r["tokens"] / r["seconds"], 1)
    table = Table(title=f"LoRA training, SmolLM2-135M, FLock OFF recipe, {args.epochs} epochs of {DATA.name}")
    for col in ("run", "micro-batch", "steps", "tokens/s", "peak RSS MiB", "held-out eval loss"):
        table.add_column(col, justify="right")
    for name, r in (("transformers Trainer + peft (batch 1 x accum 8)", hf), ("edgeproof LoraTrainer", ours)):
        table.add_row(name, str(r["micro_batch"]), str(r["steps"]), f"{r['tokens_per_s']:.1f}",
                      f"{r['peak_rss_bytes'] / 2**20:.0f}", f"{r['eval_loss']:.4f}")
    console.print(table)
    speedup = ours["tokens_per_s"] / hf["tokens_per_s"]
    loss_gap = abs(ours["eval_loss"] - hf["eval_loss"]) / hf["eval_loss"]
    console.print(f"speed-up {speedup:.2f}x (target >= 1.3x); eval loss difference {loss_gap * 100:.2f}% "
                  f"(target <= 2%); seconds per micro-batch step at seq 256: {results['steps']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"epochs": args.epochs, "results": results, "speedup": speedup,
                               "eval_loss_gap": loss_gap}, indent=2) + "\n")
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
