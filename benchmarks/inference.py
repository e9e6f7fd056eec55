"""Inference benchmark: our backends side by side with raw llama-cpp-python and plain transformers generate.

Each engine runs in its own subprocess (so peak RSS is its own), on the same prompts, greedy, same max
tokens, same thread count. Prints a table and the cross-backend agreement table, writes
benchmarks/results/inference.json.

    python benchmarks/inference.py [--max-tokens 96] [--prompts 6] [--threads 2] [--rounds 2]

The llama.cpp target is judged on an A/B run of raw llama-cpp-python and our backend in one process,
alternating prompt by prompt (a 3% margin is below the noise between separate processes here).

Engines run in interleaved rounds (A B C .. A B C ..) and each reports its best round, so a burst of other
load on the machine does not land on one engine only. Also measured: the machine's fp32 weight-streaming
rate with numpy GEMV over the model's own matrix shapes, an estimate of how fast any fp32 engine can decode
(ONNX Runtime's pre-packed kernels stream somewhat faster than numpy's BLAS, so it is not a hard bound).

Targets (issue 2): our llama.cpp backend within 3% of raw llama-cpp-python decode speed; our ONNX backend at
least 2x plain transformers decode speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ENGINES = ("raw-llama-cpp-python", "llamacpp", "onnx", "onnx-int8", "torch", "raw-transformers-generate")
SPEED_PROMPTS = (
    "Write a short paragraph about the history of the bicycle.",
    "Explain how a rainbow forms, in a few sentences.",
    "Describe a busy market in the morning.",
    "Give some advice to someone learning to cook.",
    "Write a short story about a robot who learns to paint.",
    "Explain why the sky is blue.",
    "Describe your ideal weekend.",
    "What are the benefits of regular exercise?",
)
RESULTS = Path(__file__).resolve().parent / "results" / "inference.json"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _summarise(runs: list[tuple[float, float, int]]) -> dict:
    """runs: (ttft_s, total_s, generated_tokens) per prompt."""
    decode_tokens = sum(max(n - 1, 0) for _, _, n in runs)
    decode_time = sum(total - ttft for ttft, total, _ in runs)
    return {
        "decode_tokens_per_s": decode_tokens / decode_time if decode_time > 0 else 0.0,
        "ttft_ms_median": statistics.median(t for t, _, _ in runs) * 1000,
        "generated_tokens": sum(n for _, _, n in runs),
    }


def _time_raw_llama(llm, ids: list[int], max_tokens: int) -> tuple[float, float, int]:
    """(ttft_s, total_s, tokens) of raw llama-cpp-python, full prefill as our backend does (no prefix cache)."""
    llm.reset()
    start, first, count = time.perf_counter(), 0.0, 0
    for _ in llm.create_completion(ids, max_tokens=max_tokens, temperature=0.0, stream=True):
        if count == 0:
            first = time.perf_counter() - start
        count += 1
    return first, time.perf_counter() - start, count


def _time_ours(llm, ids: list[int], max_tokens: int) -> tuple[float, float, int]:
    from edge_sdk.runtime import SamplingParams

    t = llm.generate(ids, SamplingParams(max_tokens=max_tokens)).timings
    return t.time_to_first_token_s, t.total_s, t.generated_tokens


def llamacpp_ab(n_prompts: int, max_tokens: int, threads: int, repeats: int = 3) -> dict:
    """Raw llama-cpp-python and our llamacpp backend in ONE process, alternating prompt by prompt.

    A 3% target is below the run-to-run noise of separate processes on a shared 2-core machine (measured
    here: +-10% between identical runs); alternating in one process exposes both to the same conditions.
    Returns decode tok/s per engine and the median of the per-pair ratios (ours / raw).
    """
    from llama_cpp import Llama

    from edge_sdk.models import resolve_model
    from edge_sdk.runtime import load_backend
    from edge_sdk.runtime.chat import chat_prompt_ids
    from edge_sdk.runtime.compare import user_messages

    assets = resolve_model(None)
    tok = assets.tokenizer()
    prompts = [chat_prompt_ids(tok, user_messages(p)) for p in SPEED_PROMPTS[:n_prompts]]
    ours = load_backend("llamacpp", assets, n_threads=threads)
    raw = Llama(model_path=str(assets.gguf_path), n_ctx=ours.context_length, n_threads=threads, verbose=False)

    def run_raw(ids: list[int]) -> tuple[float, float, int]:
        return _time_raw_llama(raw, ids, max_tokens)

    def run_ours(ids: list[int]) -> tuple[float, float, int]:
        return _time_ours(ours, ids, max_tokens)

    run_raw(prompts[0])
    run_ours(prompts[0])
    runs: dict[str, list[tuple[float, float, int]]] = {"raw": [], "ours": []}
    ratios = []
    for i in range(repeats * len(prompts)):
        ids = prompts[i % len(prompts)]
        pair = {}
        order = (("raw", run_raw), ("ours", run_ours))
        for name, fn in order if i % 2 == 0 else order[::-1]:
            r = fn(ids)
            runs[name].append(r)
            pair[name] = _summarise([r])["decode_tokens_per_s"]
        ratios.append(pair["ours"] / pair["raw"])
    return {"raw_decode_tokens_per_s": _summarise(runs["raw"])["decode_tokens_per_s"],
            "ours_decode_tokens_per_s": _summarise(runs["ours"])["decode_tokens_per_s"],
            "ratio_median": statistics.median(ratios), "pairs": len(ratios)}


def worker(engine: str, n_prompts: int, max_tokens: int, threads: int) -> dict:
    from edge_sdk.models import resolve_model
    from edge_sdk.runtime import SamplingParams, load_backend
    from edge_sdk.runtime.chat import chat_prompt_ids
    from edge_sdk.runtime.compare import AGREEMENT_PROMPTS, user_messages

    assets = resolve_model(None)
    tok = assets.tokenizer()
    prompts = [chat_prompt_ids(tok, user_messages(p)) for p in SPEED_PROMPTS[:n_prompts]]
    agree_prompts = [chat_prompt_ids(tok, user_messages(p)) for p in AGREEMENT_PROMPTS]
    t0 = time.perf_counter()
    runs: list[tuple[float, float, int]] = []
    agreement_ids: list[list[int]] = []
    if engine == "raw-llama-cpp-python":
        from llama_cpp import Llama

        llm = Llama(model_path=str(assets.gguf_path), n_ctx=4096, n_threads=threads, verbose=False)
        load_s = time.perf_counter() - t0

        _time_raw_llama(llm, prompts[0], 8)  # warm-up
        runs = [_time_raw_llama(llm, p, max_tokens) for p in prompts]
    elif engine == "raw-transformers-generate":
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.generation.streamers import BaseStreamer

        torch.set_num_threads(threads)
        model = AutoModelForCausalLM.from_pretrained(assets.hf_dir(), dtype=torch.float32).eval()
        load_s = time.perf_counter() - t0

        class Clock(BaseStreamer):
            def __init__(self):
                self.start = time.perf_counter()
                self.stamps: list[float] = []
                self.seen_prompt = False

            def put(self, value):
                if not self.seen_prompt:
                    self.seen_prompt = True
                    return
                self.stamps.append(time.perf_counter() - self.start)

            def end(self):
                pass

        def run(ids, n):
            clock = Clock()
            with torch.inference_mode():
                model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, streamer=clock,
                               pad_token_id=tok.eos_token_id)
            return clock.stamps[0], time.perf_counter() - clock.start, len(clock.stamps)

        run(prompts[0], 8)
        runs = [run(p, max_tokens) for p in prompts]
    else:
        llm = load_backend(engine, assets, n_threads=threads)
        load_s = time.perf_counter() - t0
        _time_ours(llm, prompts[0], 8)  # warm-up
        runs = [_time_ours(llm, p, max_tokens) for p in prompts]
        agreement_ids = [llm.generate(p, SamplingParams(max_tokens=8)).token_ids for p in agree_prompts]
    return {"engine": engine, "load_s": load_s, **_summarise(runs), "peak_rss_mb": _peak_rss_mb(),
            "agreement_token_ids": agreement_ids}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--prompts", type=int, default=6)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--engines", nargs="*", default=list(ENGINES))
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each engine keeps its best")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "llamacpp-ab":
        print(json.dumps(llamacpp_ab(args.prompts, args.max_tokens, args.threads, args.rounds + 1)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.prompts, args.max_tokens, args.threads)))
        return
    console = Console()
    results: dict[str, dict] = {}
    for round_no in range(1, args.rounds + 1):
        for engine in args.engines:
            with console.status(f"round {round_no}/{args.rounds}: benchmarking {engine}..."):
                proc = subprocess.run([sys.executable, __file__, "--worker", engine, "--max-tokens",
                                       str(args.max_tokens), "--prompts", str(args.prompts), "--threads",
                                       str(args.threads)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                console.print(f"[red]{engine} failed[/]\n{proc.stderr[-2000:]}")
                continue
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            best = results.get(engine)
            rounds = (best or {}).get("decode_tokens_per_s_rounds", []) + [run["decode_tokens_per_s"]]
            if best is None or run["decode_tokens_per_s"] > best["decode_tokens_per_s"]:
                best = run
            best["decode_tokens_per_s_rounds"] = rounds
            results[engine] = best
    ab = None
    if "llamacpp" in args.engines and "raw-llama-cpp-python" in args.engines:
        with console.status("llama.cpp A/B: raw and ours alternating in one process..."):
            proc = subprocess.run([sys.executable, __file__, "--worker", "llamacpp-ab", "--max-tokens",
                                   str(args.max_tokens), "--prompts", str(args.prompts), "--threads",
                                   str(args.threads), "--rounds", str(args.rounds)],
                                  capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            ab = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            console.print(f"[red]llama.cpp A/B failed[/]\n{proc.stderr[-2000:]}")
    _report(console, results, args, fp32_ceiling(), ab)


def fp32_ceiling(threads: int | None = None) -> dict:
    """Estimated fp32 decode speed limit here: weight bytes per token / numpy GEMV streaming rate.

    One decode step reads every weight once. SmolLM2-135M: 30 layers of q,k,v,o + gate,up,down and the
    576x49152 lm_head. numpy's BLAS GEMV over those shapes (fp32, larger than the caches) gives the rate.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    hidden, inter, kv, vocab, layers = 576, 1536, 192, 49152, 30
    shapes = [(hidden, hidden), (hidden, kv), (hidden, kv), (hidden, hidden), (hidden, inter), (hidden, inter),
              (inter, hidden)] * layers + [(hidden, vocab)]
    mats = [rng.random(s, dtype=np.float32) for s in shapes]
    vecs = {n: rng.random((1, n), dtype=np.float32) for n in (hidden, inter)}
    total = sum(m.nbytes for m in mats)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for m in mats:
            vecs[m.shape[0]] @ m
        best = min(best, time.perf_counter() - t)
    return {"weight_bytes_per_token": total, "gemv_gb_per_s": total / best / 1e9,
            "fp32_decode_tok_s_ceiling": 1.0 / best}


def _report(console: Console, results: dict, args, ceiling: dict, ab: dict | None) -> None:
    table = Table(title=f"decode speed, greedy, {args.prompts} prompts x {args.max_tokens} max tokens, "
                        f"{args.threads} threads, best of {args.rounds} interleaved rounds")
    for col in ("engine", "decode tok/s", "TTFT ms (median)", "peak RSS MB", "load s", "tokens"):
        table.add_column(col, justify="right" if col != "engine" else "left")
    for name, r in results.items():
        table.add_row(name, f"{r['decode_tokens_per_s']:.1f}", f"{r['ttft_ms_median']:.0f}",
                      f"{r['peak_rss_mb']:.0f}", f"{r['load_s']:.1f}", str(r["generated_tokens"]))
    console.print(table)
    targets = {}
    if ab is not None:  # the target is judged on the same-process A/B (see llamacpp_ab)
        ratio = ab["ratio_median"]
        targets["llamacpp_vs_raw_llama_cpp_python (A/B, one process)"] = {
            "ratio": ratio, "target": ">= 0.97", "met": ratio >= 0.97}
    if "llamacpp" in results and "raw-llama-cpp-python" in results:
        ratio = results["llamacpp"]["decode_tokens_per_s"] / results["raw-llama-cpp-python"]["decode_tokens_per_s"]
        targets["llamacpp_vs_raw_llama_cpp_python (separate processes)"] = {
            "ratio": ratio, "target": "(noisy)", "met": ratio >= 0.97}
    for onnx in ("onnx", "onnx-int8"):
        if onnx in results and "raw-transformers-generate" in results:
            ratio = results[onnx]["decode_tokens_per_s"] / results["raw-transformers-generate"]["decode_tokens_per_s"]
            key = f"{onnx.replace('-', '_')}_vs_transformers_generate"
            targets[key] = {"ratio": ratio, "target": ">= 2.0", "met": ratio >= 2.0}
    if "raw-transformers-generate" in results:
        ratio = ceiling["fp32_decode_tok_s_ceiling"] / results["raw-transformers-generate"]["decode_tokens_per_s"]
        targets["fp32_gemv_estimate_vs_transformers_generate"] = {"ratio": ratio, "target": "(estimate)",
                                                                      "met": ratio >= 2.0}
    console.print(f"fp32 weight streaming with numpy GEMV here: {ceiling['gemv_gb_per_s']:.1f} GB/s over "
                  f"{ceiling['weight_bytes_per_token'] / 1e6:.0f} MB per token -> about "
                  f"{ceiling['fp32_decode_tok_s_ceiling']:.1f} tok/s for an fp32 engine (estimate)")
    t = Table(title="targets")
    for col in ("comparison", "ratio", "target", "met"):
        t.add_column(col)
    for name, v in targets.items():
        t.add_row(name, f"{v['ratio']:.3f}", v["target"], "[green]yes[/]" if v["met"] else "[red]no[/]")
    console.print(t)
    agreement = _agreement(results)
    if agreement:
        from edge_sdk.runtime.compare import AGREEMENT_PROMPTS

        at = Table(title="greedy agreement on the first 8 tokens vs torch (per prompt)")
        at.add_column("prompt")
        names = list(agreement)
        for n in names:
            at.add_column(n)
        for i, prompt in enumerate(AGREEMENT_PROMPTS):
            at.add_row(prompt, *["yes" if agreement[n]["per_prompt"][i] else "[red]no[/]" for n in names])
        at.add_row("[bold]rate", *[f"{agreement[n]['rate']:.2f}" for n in names])
        console.print(at)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for r in results.values():
        r.pop("agreement_token_ids", None)
    RESULTS.write_text(json.dumps({"settings": vars(args), "engines": results, "targets": targets,
                                   "fp32_ceiling": ceiling, "llamacpp_ab": ab,
                                   "agreement_vs_torch": agreement}, indent=2))
    console.print(f"wrote {RESULTS}")


def _agreement(results: dict) -> dict:
    from edge_sdk.runtime.compare import prefix_agreement

    ref = results.get("torch", {}).get("agreement_token_ids")
    if not ref:
        return {}
    out = {}
    for name, r in results.items():
        ids = r.get("agreement_token_ids")
        if not ids or name == "torch":
            continue
        per = [prefix_agreement(a, b, 8) for a, b in zip(ids, ref)]
        out[name] = {"per_prompt": per, "rate": sum(per) / len(per)}
    return out


if __name__ == "__main__":
    main()
