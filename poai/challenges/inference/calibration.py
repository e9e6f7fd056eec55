"""Measure the inference check's statistics for honest engines and for cheats; the numbers behind the
defaults of `InferenceThresholds` (poai/challenges/inference/CALIBRATION.md).

    EDGEPROOF_CACHE_DIR=/work/cache python -m poai.challenges.inference.calibration correctness \
        --seeds 1 2 3 4 5 6 --prompts 8 --max-tokens 24 --json correctness.json
    python -m poai.challenges.inference.calibration stream --reps 8 --json stream.json

`correctness`: the reference is the torch backend on the default model (SmolLM2-135M-Instruct dequantised
from its Q4_1 GGUF). Honest nodes: llama.cpp on the same GGUF, a second torch instance (and ONNX Runtime fp32
when asked for with --only). Cheats: the reference weights plus Gaussian noise (a fraction of each tensor's
std), torch dynamic int8, fake 3-bit and 2-bit re-quantisation of every linear layer, a tiny random model with
the same tokenizer, and two answer-level cheats on the honest llama.cpp answer (fabricated top-k
alternatives; NaN logprobs). Each variant answers the same fresh prompts (one spec per seed); the script
prints per-variant aggregates, the worst single prompt, and for the honest engines the per-position tails
(what the "worst single position" thresholds are set against).

`stream`: local sessions (the node's real work and token ticks, timestamped on this process's clock the way
the challenger stamps arrivals; no network) for the honest llama.cpp and torch nodes and the burst-streaming
cheat, on the plan sizes in use (1x8 lightweight, 16x16 standard, 3x32 test plans): the distribution of
`StreamStats.pace_ratio` that `min_pace_ratio` is set against.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from poai.challenges import inference
from poai.challenges.common import Budget
from poai.node import model_variants

KEYS = ("argmax_agreement", "hard_disagreement", "score_deviation_mean", "score_deviation_max",
        "top_deviation_mean", "top_deviation_max", "topk_missing", "topk_overlap", "eos_agreement")
# For each key: is a high value bad (the worst prompt is the max) or a low one (the min)?
HIGH_IS_BAD = {k: k not in ("argmax_agreement", "topk_overlap", "eos_agreement") for k in KEYS}
LOOSE = inference.InferenceThresholds(
    max_hard_disagreement=1, min_argmax_agreement=0, max_mean_deviation=1e9, max_deviation=1e9,
    max_top_deviation=1e9, max_top_deviation_max=1e9, max_topk_missing=1, min_eos_agreement=0,
    min_pace_ratio=0)


# ------------------------------------------------------------------------------------------ models


def _noisy(model: Any, frac: float, seed: int = 0) -> Any:
    return model_variants.noisy(model, frac, seed)


fake_quantise = model_variants.fake_quantise
_dynamic_int8 = model_variants.dynamic_int8


def _tiny_random(tokenizer: Any) -> Any:
    return model_variants.tiny_random(len(tokenizer), initializer_range=0.2)


def variants(ref: Any, assets: Any) -> dict[str, tuple[str, Callable[[], Any]]]:
    """name -> ("honest" | "cheat", backend factory). The answer-level cheats are added in main()."""
    from edge_sdk.runtime import load_backend
    from edge_sdk.runtime.torch_backend import TorchBackend

    def torch_with(factory: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: TorchBackend(assets, model=factory(), device="cpu")

    out: dict[str, tuple[str, Callable[[], Any]]] = {
        "llamacpp-q4_1": ("honest", lambda: load_backend("llamacpp")),
        "torch-fp32": ("honest", torch_with(lambda: copy.deepcopy(ref.model))),
        "onnx-fp32": ("honest", lambda: load_backend("onnx")),
        "onnx-int8": ("cheat", lambda: load_backend("onnx-int8")),
        "torch-dynamic-int8": ("cheat", torch_with(lambda: _dynamic_int8(ref.model))),
        "fake-q3": ("cheat", torch_with(lambda: fake_quantise(ref.model, 3))),
        "fake-q2": ("cheat", torch_with(lambda: fake_quantise(ref.model, 2))),
        "tiny-random": ("cheat", torch_with(lambda: _tiny_random(ref.tokenizer))),
    }
    for frac in (0.02, 0.05, 0.1, 0.2):
        out[f"noise-{frac:g}std"] = ("cheat", torch_with(lambda f=frac: _noisy(ref.model, f)))
    return out


DEFAULT_VARIANTS = ("llamacpp-q4_1", "torch-fp32", "noise-0.02std", "noise-0.05std", "noise-0.1std",
                    "torch-dynamic-int8", "fake-q3", "fake-q2", "tiny-random")


# ------------------------------------------------------------------------------------ correctness


def _one(spec: inference.InferenceSpec, i: int) -> inference.InferenceSpec:
    return dataclasses.replace(spec, prompts=(spec.prompts[i],))


def _one_answer(ans: inference.InferenceAnswer, i: int) -> inference.InferenceAnswer:
    pick = lambda xs: (xs[i],)  # noqa: E731
    return dataclasses.replace(ans, prompt_token_ids=pick(ans.prompt_token_ids),
                               token_ids=pick(ans.token_ids), logprobs=pick(ans.logprobs),
                               top_ids=pick(ans.top_ids), top_logprobs=pick(ans.top_logprobs),
                               finish_reasons=pick(ans.finish_reasons))


def position_stats(spec: inference.InferenceSpec, ans: inference.InferenceAnswer, reference: Any,
                   hard_margin: float = 1.0) -> dict[str, list[float]]:
    """Per-position raw statistics of a well-formed answer (the tails the per-position limits need):
    chosen-token deviation, gap below the reference's favourite, every alternative's deviation, and
    whether the position leaves out a clearly better token."""
    out: dict[str, list[float]] = {"dev": [], "gap": [], "top_dev": [], "missing": []}
    kr = max(spec.top_k, 2)
    for i in range(len(spec.prompts)):
        p = inference._parse(spec, ans, i, reference)
        r = inference._reference_scores(reference, p, kr)
        out["dev"].extend(np.abs(p.logprobs - r.chosen).tolist())
        out["gap"].extend((r.best - r.chosen).tolist())
        k = spec.top_k
        if k > 1:
            out["top_dev"].extend(np.abs(p.top_lps[:, 1:] - r.alt[:, 1:]).ravel().tolist())
        for j in range(len(p.tokens)):
            listed = set(p.top_ids[j].tolist())
            left = [lp for t, lp in zip(r.top_ids[j, :k].tolist(), r.top_lps[j, :k]) if t not in listed]
            out["missing"].append(float(bool(left) and max(left) > r.alt[j].min() + hard_margin))
    return out


def _tail(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.asarray(values)
    return {"n": float(a.size), "mean": float(a.mean()), "p99": float(np.quantile(a, 0.99)),
            "p999": float(np.quantile(a, 0.999)), "max": float(a.max())}


def _verify_row(name: str, kind: str, spec: inference.InferenceSpec, ans: inference.InferenceAnswer,
                ref: Any, node_s: float) -> dict[str, Any]:
    res = inference.verify(spec, ans, ref, LOOSE, node_seconds=node_s)
    strict = inference.verify(spec, ans, ref)
    row: dict[str, Any] = {"variant": name, "kind": kind, "well_formed": res.passed,
                           "passes_defaults": strict.passed, "reason": strict.reason,
                           "tokens": res.metrics["positions"], "node_s": node_s,
                           "verify_s": res.verify_seconds}
    if not res.passed:  # malformed: no statistics
        return row
    row.update({k: res.metrics[k] for k in KEYS})
    singles = [inference.verify(_one(spec, i), _one_answer(ans, i), ref, LOOSE).metrics
               for i in range(len(spec.prompts))]
    row["worst_prompt"] = {k: (max if HIGH_IS_BAD[k] else min)(m[k] for m in singles) for k in KEYS}
    row["prompts_failing_alone"] = sum(
        not inference.verify(_one(spec, i), _one_answer(ans, i), ref).passed
        for i in range(len(spec.prompts)))
    if kind == "honest":
        row["positions"] = position_stats(spec, ans, ref)
    return row


def correctness(args: argparse.Namespace) -> list[dict[str, Any]]:
    from edge_sdk.models import resolve_model
    from edge_sdk.runtime import load_backend

    from poai.node.adversarial import junk_topk_answer, nan_logprobs_answer

    assets = resolve_model(None)
    ref = load_backend("torch")
    budget = Budget(inference_prompts=args.prompts, inference_max_tokens=args.max_tokens, inference_top_k=5)
    specs = [inference.make_spec(budget, np.random.default_rng(s), model=assets.name) for s in args.seeds]
    rows: list[dict[str, Any]] = []
    names = args.only or DEFAULT_VARIANTS
    for name, (kind, factory) in variants(ref, assets).items():
        if name not in names:
            continue
        try:
            backend = factory()
        except Exception as exc:  # noqa: BLE001 - an engine that is not installed is reported, not fatal
            print(f"{name}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        for seed, spec in zip(args.seeds, specs):
            t0 = time.perf_counter()
            ans = inference.answer(backend, spec)
            node_s = time.perf_counter() - t0
            row = _verify_row(name, kind, spec, ans, ref, node_s)
            row["seed"] = seed
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "positions"}), file=sys.stderr, flush=True)
            if name == "llamacpp-q4_1":  # answer-level cheats on the honest engine's answer
                tampered = (("junk-topk", junk_topk_answer(ans, spec, int(backend.vocab_size), seed)),
                            ("nan-logprobs", nan_logprobs_answer(ans, spec)))
                for cheat, bad in tampered:
                    row = _verify_row(cheat, "cheat", spec, bad, ref, node_s)
                    row["seed"] = seed
                    rows.append(row)
                    print(json.dumps({k: v for k, v in row.items() if k != "positions"}), file=sys.stderr,
                          flush=True)
        backend = None
        gc.collect()
    _print_correctness(rows, args)
    return rows


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _print_correctness(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{len(args.seeds)} specs (seeds {args.seeds}) x {args.prompts} prompts x {args.max_tokens} "
          "tokens, top-5. Aggregates per spec: range over the specs; worst prompt: over all prompts of all "
          "specs.\n")
    cols = ("argmax_agreement", "hard_disagreement", "score_deviation_mean", "score_deviation_max",
            "top_deviation_mean", "top_deviation_max", "topk_missing")
    print("| variant | kind | tokens | " + " | ".join(cols) + " | specs passing | prompts failing alone |")
    print("|---|---|---|" + "---|" * len(cols) + "---|---|")
    order: list[str] = []
    for r in rows:
        if r["variant"] not in order:
            order.append(r["variant"])
    for name in order:
        rs = [r for r in rows if r["variant"] == name]
        cells = [name, rs[0]["kind"], str(int(sum(r["tokens"] for r in rs)))]
        for c in cols:
            vals = [r[c] for r in rs if c in r]
            cells.append(f"{min(vals):.3f}-{max(vals):.3f}" if vals else "malformed")
        cells.append(f"{sum(r['passes_defaults'] for r in rs)}/{len(rs)}")
        cells.append(str(sum(r.get("prompts_failing_alone", 0) for r in rs)))
        print("| " + " | ".join(cells) + " |")
    print("\nWorst single prompt (over all specs):\n")
    print("| variant | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name in order:
        rs = [r for r in rows if r["variant"] == name and "worst_prompt" in r]
        if not rs:
            continue
        cells = [name]
        for c in cols:
            vals = [r["worst_prompt"][c] for r in rs]
            cells.append(f"{(max if HIGH_IS_BAD[c] else min)(vals):.3f}")
        print("| " + " | ".join(cells) + " |")
    print("\nHonest per-position tails (all specs pooled):\n")
    print("| variant | statistic | n | mean | p99 | p99.9 | max |")
    print("|---|---|---|---|---|---|---|")
    for name in order:
        rs = [r for r in rows if r["variant"] == name and "positions" in r]
        if not rs:
            continue
        for stat in ("dev", "top_dev", "gap", "missing"):
            t = _tail([v for r in rs for v in r["positions"][stat]])
            if t:
                print(f"| {name} | {stat} | {int(t['n'])} | {t['mean']:.4f} | {t['p99']:.3f} | "
                      f"{t['p999']:.3f} | {t['max']:.3f} |")
    print("\nReasons the cheats fail with the defaults:\n")
    for name in order:
        rs = [r for r in rows if r["variant"] == name]
        if rs[0]["kind"] == "cheat":
            print(f"- {name}: {rs[0]['reason']}")


# ------------------------------------------------------------------------------------------ stream


def local_session(solver: Any, spec: Any, reference: Any, thresholds: Any = None,
                  budget: Any = None) -> tuple[Any, Any]:
    """One inference challenge run in this process the way a session runs it: the solver's work streams
    TokenTicks, each stamped on arrival (perf_counter since the spec was "sent"), the commitment stamped when
    the work returns; then `InferenceKind.verify` (re-scoring `budget.inference_checked` answers; every
    answer without a budget). No network (RTT 0). Returns (ChallengeState, result)."""
    from poai import kinds
    from poai.node.solver import Challenge

    kind = kinds.get("inference")
    scratch = {"reference": reference, "thresholds": thresholds}
    if budget is not None:
        scratch["budget"] = budget
    state = kinds.ChallengeState(spec=spec, scratch=scratch)
    challenge = Challenge("inference-local", "inference", spec)
    challenge.work = solver.make_work("inference", spec)
    sent = time.perf_counter()

    def emit(tick: Any) -> None:
        state.partials.append((time.perf_counter() - sent, tick))

    state.commitment = solver.run_work(challenge, emit)
    state.commit_wall_seconds = time.perf_counter() - sent
    state.commit_net_seconds = state.commit_wall_seconds
    return state, kind.verify(state)


PLANS = ((1, 8), (16, 16), (3, 32))  # lightweight, standard, the test plans


def stream(args: argparse.Namespace) -> list[dict[str, Any]]:
    from edge_sdk.runtime import load_backend

    ref = load_backend("torch")
    rows: list[dict[str, Any]] = []
    # --load N: N busy processes beside the run (the shared machine under other jobs' load)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        _stream_runs(args, ref, rows)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    print(f"\n{args.reps} local sessions per (backend, plan, node), fresh prompts each, {args.load} busy "
          "processes beside\n")
    print("| backend | node | plan | sessions | pace min | pace p10 | pace median | pace max | tail fraction "
          "median | inter-token median ms | commit ms/token |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["backend"], r["kind"], r["plan"]) for r in rows},
                  key=lambda k: (k[0], k[1], [f"{p}x{t}" for p, t in PLANS].index(k[2])))
    for b, kind, plan in keys:
        rs = [r for r in rows if (r["backend"], r["kind"], r["plan"]) == (b, kind, plan)]
        pace = np.asarray([r["pace_ratio"] for r in rs if not math.isnan(r["pace_ratio"])])
        if not pace.size:
            continue
        tail = np.nanmedian([r["tail_fraction"] for r in rs])
        gap = np.median([r["inter_token_median_ms"] for r in rs])
        cpt = np.median([r["commit_ms_per_token"] for r in rs])
        print(f"| {b} | {kind} | {plan} | {len(rs)} | {pace.min():.4f} | {np.quantile(pace, 0.1):.4f} | "
              f"{np.median(pace):.4f} | {pace.max():.4f} | {tail:.2f} | {gap:.2f} | {cpt:.1f} |")
    return rows


def _stream_runs(args: argparse.Namespace, ref: Any, rows: list[dict[str, Any]]) -> None:
    from edge_sdk.runtime import available_backends

    from edge_sdk.identity import NodeKey
    from poai.claim import NodeClaim
    from poai.node import Solver
    from poai.node.adversarial import BurstStream
    from poai.node.inference import InferenceEngines

    for backend in args.backends:
        if backend not in available_backends():
            print(f"{backend}: not installed, skipped", file=sys.stderr)
            continue
        engines = InferenceEngines((backend,), None, "cpu")
        engines.warm_up()
        claim = NodeClaim("cpu", "calibration", 32 << 20, 0.001, (backend,), "calibration")
        for solver_cls, kind in ((Solver, "honest"), (BurstStream, "burst")):
            solver = solver_cls(NodeKey.generate(), claim, "cpu", engines)
            for prompts, tokens in PLANS:
                budget = Budget(inference_prompts=prompts, inference_max_tokens=tokens, inference_top_k=5)
                for _ in range(args.reps):
                    spec = inference.make_spec(budget, None)
                    state, res = local_session(solver, spec, ref, LOOSE)
                    m = res.metrics
                    row = {"backend": backend, "kind": kind, "plan": f"{prompts}x{tokens}",
                           "tokens": len(state.partials), "pace_ratio": m.get("stream_pace_ratio", math.nan),
                           "tail_fraction": m.get("stream_tail_fraction", math.nan),
                           "ttft_ms": m.get("ttft_ms"),
                           "inter_token_median_ms": m.get("inter_token_median_ms"),
                           "commit_ms_per_token": m.get("commit_ms_per_token")}
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
        engines.close()
        gc.collect()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("correctness", help="answer statistics of honest engines and cheats")
    c.add_argument("--prompts", type=int, default=8)
    c.add_argument("--max-tokens", type=int, default=24)
    c.add_argument("--seeds", type=int, nargs="+", default=[2024])
    c.add_argument("--only", nargs="*", help=f"variant names to run (default: {' '.join(DEFAULT_VARIANTS)})")
    c.add_argument("--json", help="write the raw results here")
    s = sub.add_parser("stream", help="pace of the token stream, honest nodes and the burst cheat")
    s.add_argument("--reps", type=int, default=8)
    s.add_argument("--backends", nargs="+", default=["llamacpp", "torch"])
    s.add_argument("--load", type=int, default=0, help="busy processes to run beside (CPU contention)")
    s.add_argument("--json", help="write the raw results here")
    args = ap.parse_args(argv)
    rows = correctness(args) if args.mode == "correctness" else stream(args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
