"""Measure the inference check's statistics for honest engines and for cheating models.

    EDGEPROOF_CACHE_DIR=/work/cache python -m poai.challenges.inference_calibration \
        --prompts 8 --max-tokens 24

The reference is the torch backend on the default model (SmolLM2-135M-Instruct dequantised from its Q4_1
GGUF). Honest nodes: llama.cpp on the same GGUF, ONNX Runtime fp32, a second torch instance. Cheats: the
reference weights plus Gaussian noise (a fraction of each tensor's std), torch dynamic int8, the ONNX int8
export, fake 3-bit and 2-bit re-quantisation of every linear layer, and a tiny random model with the same
tokenizer. Each variant answers the same fresh prompts; the statistics are printed as a markdown table
(the numbers in INFERENCE_CALIBRATION.md come from this script) and optionally written as JSON.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from poai.challenges import inference
from poai.challenges.common import Budget

KEYS = ("argmax_agreement", "hard_disagreement", "score_deviation_mean", "score_deviation_max",
        "top_deviation_mean", "topk_overlap", "eos_agreement")


def _noisy(model: Any, frac: float, seed: int = 0) -> Any:
    import torch

    m = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * p.float().std() * frac)
    return m


def fake_quantise(model: Any, bits: int, group: int = 32) -> Any:
    """A copy with every nn.Linear weight min-max quantised to `bits` bits per group of `group` inputs: the
    "much coarser quantisation" cheat (also used by poai.node.adversarial)."""
    import torch

    m = copy.deepcopy(model)
    levels = 2**bits - 1
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.Linear) and mod.weight.shape[1] % group == 0:
                w = mod.weight.data.reshape(-1, group)
                lo, hi = w.min(dim=1, keepdim=True).values, w.max(dim=1, keepdim=True).values
                scale = (hi - lo).clamp_min(1e-12) / levels
                q = torch.round((w - lo) / scale).clamp(0, levels)
                mod.weight.data = (q * scale + lo).reshape(mod.weight.shape)
    return m


def _dynamic_int8(model: Any) -> Any:
    import torch

    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def _tiny_random(tokenizer: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                      tie_word_embeddings=True, initializer_range=0.2)
    return LlamaForCausalLM(cfg).eval()


def _one(spec: inference.InferenceSpec, i: int) -> inference.InferenceSpec:
    return dataclasses.replace(spec, prompts=(spec.prompts[i],))


def _one_answer(ans: inference.InferenceAnswer, i: int) -> inference.InferenceAnswer:
    pick = lambda xs: (xs[i],)  # noqa: E731
    return dataclasses.replace(ans, prompt_token_ids=pick(ans.prompt_token_ids),
                               token_ids=pick(ans.token_ids), logprobs=pick(ans.logprobs),
                               top_ids=pick(ans.top_ids), top_logprobs=pick(ans.top_logprobs),
                               finish_reasons=pick(ans.finish_reasons))


def variants(ref: Any, assets: Any) -> dict[str, tuple[str, Callable[[], Any]]]:
    from edge_sdk.runtime import load_backend
    from edge_sdk.runtime.torch_backend import TorchBackend

    def torch_with(factory: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: TorchBackend(assets, model=factory(), device="cpu")

    out: dict[str, tuple[str, Callable[[], Any]]] = {
        "llamacpp-q4_1": ("honest", lambda: load_backend("llamacpp")),
        "onnx-fp32": ("honest", lambda: load_backend("onnx")),
        "torch-fp32": ("honest", torch_with(lambda: copy.deepcopy(ref.model))),
        "onnx-int8": ("cheat", lambda: load_backend("onnx-int8")),
        "torch-dynamic-int8": ("cheat", torch_with(lambda: _dynamic_int8(ref.model))),
        "fake-q3": ("cheat", torch_with(lambda: fake_quantise(ref.model, 3))),
        "fake-q2": ("cheat", torch_with(lambda: fake_quantise(ref.model, 2))),
        "tiny-random": ("cheat", torch_with(lambda: _tiny_random(ref.tokenizer))),
    }
    for frac in (0.01, 0.02, 0.05, 0.1, 0.2):
        out[f"noise-{frac:g}std"] = ("cheat", torch_with(lambda f=frac: _noisy(ref.model, f)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    ap.add_argument("--json", help="write the raw results here")
    args = ap.parse_args(argv)

    from edge_sdk.models import resolve_model
    from edge_sdk.runtime import load_backend

    assets = resolve_model(None)
    ref = load_backend("torch")
    budget = Budget(inference_prompts=args.prompts, inference_max_tokens=args.max_tokens, inference_top_k=5)
    spec = inference.make_spec(budget, np.random.default_rng(args.seed), model=assets.name)
    loose = inference.InferenceThresholds(max_hard_disagreement=1, min_argmax_agreement=0,
                                          max_mean_deviation=1e9, max_top_deviation=1e9, min_eos_agreement=0)
    rows = []
    for name, (kind, factory) in variants(ref, assets).items():
        if args.only and name not in args.only:
            continue
        try:
            backend = factory()
        except Exception as exc:  # an engine that is not installed is reported, not fatal
            print(f"{name}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        ans = inference.answer(backend, spec)
        node_s = time.perf_counter() - t0
        res = inference.verify(spec, ans, ref, loose, node_seconds=node_s)
        strict = inference.verify(spec, ans, ref)
        # one prompt at a time: what a plan with a single short prompt sees (the worst case matters)
        per_prompt = [inference.verify(_one(spec, i), _one_answer(ans, i), ref, loose).metrics
                      for i in range(len(spec.prompts))]
        row = {"variant": name, "kind": kind, "structural_ok": res.passed, "passes_defaults": strict.passed,
               "tokens": res.metrics["positions"], "node_s": node_s, "verify_s": res.verify_seconds,
               **{k: res.metrics[k] for k in KEYS}, "reason": strict.reason,
               "worst_prompt": {"argmax_agreement": min(m["argmax_agreement"] for m in per_prompt),
                                "hard_disagreement": max(m["hard_disagreement"] for m in per_prompt),
                                "score_deviation_mean": max(m["score_deviation_mean"] for m in per_prompt),
                                "top_deviation_mean": max(m["top_deviation_mean"] for m in per_prompt)},
               "prompts_failing_defaults": sum(
                   not inference.verify(_one(spec, i), _one_answer(ans, i), ref).passed
                   for i in range(len(spec.prompts)))}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        del backend
        gc.collect()
    print(f"\n{args.prompts} prompts x {args.max_tokens} tokens, seed {args.seed}, top-5\n")
    print("| variant | kind | agree | hard | dev mean | dev max | top dev | top-k overlap | eos | passes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        passes = "yes" if r["passes_defaults"] else "no"
        cells = [r["variant"], r["kind"], f"{r['argmax_agreement']:.3f}", f"{r['hard_disagreement']:.3f}",
                 f"{r['score_deviation_mean']:.4f}", f"{r['score_deviation_max']:.3f}",
                 f"{r['top_deviation_mean']:.4f}", f"{r['topk_overlap']:.3f}", f"{r['eos_agreement']:.2f}",
                 passes]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
