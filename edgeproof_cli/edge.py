"""`edgeproof edge ...`: the on-device SDK from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge_sdk.runtime.chat import DEFAULT_SYSTEM_PROMPT
from edgeproof_cli.common import console, friendly_errors

app = typer.Typer(help="Run, export and inspect the on-device model (edge_sdk).", no_args_is_help=True)

BackendOpt = typer.Option("auto", "--backend", "-b", help="auto, llamacpp, onnx, onnx-int8 or torch.")
ModelOpt = typer.Option(None, "--model", "-m", help="Registry name, local path (GGUF / HF / ONNX folder) or hub id. "
                        "Default: smollm2-135m-instruct.")


def _params(max_tokens, temperature, top_p, top_k, seed, stop, logprobs):
    from edge_sdk.runtime import SamplingParams

    return SamplingParams(max_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=top_k, seed=seed,
                          stop=tuple(stop or ()), logprobs=logprobs)


@app.command()
@friendly_errors
def info(
    as_json: bool = typer.Option(False, "--json", help="Print the profile and eligibility as JSON."),
    opted_in: bool = typer.Option(False, "--opt-in", help="Evaluate training eligibility as if the user opted in."),
    model_params: int = typer.Option(135_000_000, help="Parameters of the model to train, for the memory check."),
) -> None:
    """Show this device's profile and whether on-device training is allowed now."""
    from edge_sdk.device import TrainingPolicy, check_eligibility, collect_profile, estimate_training_memory
    from edge_sdk.device.render import eligibility_table, profile_table

    profile = collect_profile()
    eligibility = check_eligibility(profile, TrainingPolicy(), opted_in=opted_in,
                                    required_memory_bytes=estimate_training_memory(model_params))
    if as_json:
        console.print_json(json.dumps({"profile": json.loads(profile.to_json()),
                                       "eligibility": {"allowed": eligibility.allowed,
                                                       "reasons": eligibility.reasons}}))
        return
    console.print(profile_table(profile))
    console.print(eligibility_table(eligibility))


@app.command()
@friendly_errors
def backends() -> None:
    """List the inference backends installed here and which one `auto` picks."""
    from edge_sdk.runtime import BACKENDS, available_backends, choose_backend

    installed = available_backends()
    choice = choose_backend()
    table = Table(title="inference backends")
    table.add_column("backend")
    table.add_column("installed")
    table.add_column("auto")
    for name in BACKENDS:
        table.add_row(name, "yes" if name in installed else "no", choice.reason if name == choice.name else "")
    console.print(table)


@app.command()
@friendly_errors
def generate(
    prompt: str = typer.Argument(..., help="The user message (or raw text with --raw)."),
    backend: str = BackendOpt,
    model: Optional[str] = ModelOpt,
    system: Optional[str] = typer.Option(None, help="System message (default: the runtime's, "
                                         "'Give a short, accurate answer.'; '' for none)."),
    raw: bool = typer.Option(False, "--raw", help="Raw completion: no chat template."),
    max_tokens: int = typer.Option(128, "--max-tokens", "-n", help="Most tokens to generate."),
    temperature: float = typer.Option(0.0, "--temperature", "-t", help="0 = greedy (deterministic)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (1.0: off)."),
    top_k: int = typer.Option(0, "--top-k", help="0 = off."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed (same seed, same text)."),
    stop: Optional[list[str]] = typer.Option(None, "--stop", help="Stop string (repeatable)."),
    logprobs: int = typer.Option(0, "--logprobs", help="Show top-N logprobs per token."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="peft LoRA folder (edge train --out), any backend."),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Print tokens as they come."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result (tokens, logprobs, timings) as JSON."),
) -> None:
    """Answer one prompt on the chosen backend."""
    from dataclasses import asdict

    from edge_sdk.runtime import load_backend
    from edge_sdk.runtime.chat import with_default_system

    params = _params(max_tokens, temperature, top_p, top_k, seed, stop, logprobs)
    with console.status(f"loading {backend} backend..."):
        llm = load_backend(backend, model, adapter=adapter)
    if system is not None:
        llm.default_system = system or None
    ids = llm.prompt_ids(prompt) if raw else llm.chat_prompt_ids(
        with_default_system([{"role": "user", "content": prompt}], llm.default_system))
    if as_json or not stream:
        result = llm.generate(ids, params)
        if as_json:
            data = asdict(result)
            data["timings"]["decode_tokens_per_s"] = result.timings.decode_tokens_per_s
            console.print_json(json.dumps(data))
            return
        console.print(result.text)
    else:
        for chunk in llm.stream(ids, params):
            console.print(chunk.text, end="", markup=False, highlight=False)
        console.print()
        result = llm.generate(ids, params) if logprobs else None
    if logprobs and result is not None:
        table = Table(title="per-token logprobs")
        table.add_column("#")
        table.add_column("token")
        table.add_column("logprob")
        table.add_column("top alternatives")
        for i, lp in enumerate(result.logprobs):
            alts = ", ".join(f"{t.token!r}:{t.logprob:.2f}" for t in lp.top)
            table.add_row(str(i), repr(lp.token), f"{lp.logprob:.3f}", alts)
        console.print(table)


@app.command()
@friendly_errors
def chat(
    backend: str = BackendOpt,
    model: Optional[str] = ModelOpt,
    system: Optional[str] = typer.Option(None, help="System message (default: the runtime's; '' for none)."),
    max_tokens: int = typer.Option(256, "--max-tokens", "-n", help="Most tokens to generate."),
    temperature: float = typer.Option(0.7, "--temperature", "-t", help="0: greedy."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass (1.0: off)."),
    top_k: int = typer.Option(40, "--top-k", help="Sample among the k likeliest tokens (0: all)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed (same seed, same text)."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="A LoRA adapter folder (edgeproof edge train --out)."),
) -> None:
    """Interactive streaming chat. Empty line or Ctrl-D quits; /reset clears the history."""
    from edge_sdk.errors import InvalidRequestError
    from edge_sdk.runtime import load_backend

    params = _params(max_tokens, temperature, top_p, top_k, seed, None, 0)
    with console.status(f"loading {backend} backend..."):
        llm = load_backend(backend, model, adapter=adapter)
    console.print(f"[dim]{llm.model_name} on {llm.name}. Empty line to quit, /reset to clear history.[/]")
    if system is not None:
        llm.default_system = system or None  # stream_chat puts it in front of the history
    history: list[dict[str, str]] = []
    while True:
        try:
            line = console.input("[bold green]you>[/] ")
        except (EOFError, KeyboardInterrupt):
            break
        if not line.strip():
            break
        if line.strip() == "/reset":
            history = []
            continue
        history.append({"role": "user", "content": line})
        console.print("[bold blue]model>[/] ", end="")
        reply = ""
        try:
            for chunk in llm.stream_chat(history, params):
                reply += chunk.text
                console.print(chunk.text, end="", markup=False, highlight=False)
        except InvalidRequestError as exc:  # e.g. history grew past the context
            console.print(f"\n[red]{exc}[/]")
            history.pop()
            continue
        console.print()
        history.append({"role": "assistant", "content": reply})


@app.command()
@friendly_errors
def export(
    fmt: str = typer.Option("onnx", "--format", "-f", help="onnx or safetensors."),
    quantize: Optional[str] = typer.Option(None, "--quantize", "-q", help="int8 (ONNX block-wise 8-bit weights)."),
    model: Optional[str] = ModelOpt,
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="Merge this peft LoRA folder before export."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Copy the export here (default: the cache)."),
) -> None:
    """Convert the model (GGUF -> safetensors -> ONNX [int8]); results are cached."""
    from edge_sdk.models.export import export_model

    with console.status("exporting...") as status:
        path = export_model(model, format=fmt, quantize=quantize, adapter=adapter, out_dir=out,
                            progress=lambda msg: status.update(msg))
    console.print(f"[green]exported[/] {path}")


@app.command()
@friendly_errors
def train(
    data: Path = typer.Option(..., "--data", "-d", help="Chat JSONL to train on (one conversation per line)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the peft adapter (and its checkpoints)."),
    eval_data: Optional[Path] = typer.Option(None, "--eval", help="Held-out chat JSONL: eval loss before/after."),
    preset_name: str = typer.Option("cpu", "--preset", help="cpu (256 tokens, 60 steps) or flock-off."),
    model: Optional[str] = ModelOpt,
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the preset's epochs."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override the preset's step limit."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Override the preset's learning rate."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the preset's seed."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from --out's last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Train even if the device's training policy says no."),
) -> None:
    """Fine-tune a LoRA adapter on private chat data, on this device; then use it with --adapter."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from edge_sdk.training import LoraTrainer, load_chat_jsonl, preset
    from edge_sdk.training.gate import training_eligibility

    recipe = preset(preset_name)
    overrides = {k: v for k, v in (("epochs", epochs), ("max_steps", max_steps), ("learning_rate", lr),
                                   ("seed", seed)) if v is not None}
    recipe = recipe.with_(**overrides)
    rows = load_chat_jsonl(data)  # every bad line is reported before the model is even loaded
    held = load_chat_jsonl(eval_data) if eval_data else None
    with console.status("loading the base model..."):
        trainer = LoraTrainer(model, recipe)
        encoded = trainer.encode(rows)
        plan = trainer.memory_plan(max(len(r) for r in encoded))
    verdict = training_eligibility(plan.estimate_bytes)
    if not verdict.allowed:
        reasons = "; ".join(verdict.reasons)
        if not force:
            from edge_sdk.errors import EdgeProofError

            raise EdgeProofError(f"this device should not train now: {reasons}. Run with --force to train anyway.")
        console.print(f"[yellow]warning:[/] training anyway (--force) although: {reasons}")
    console.print(f"{len(rows)} rows, micro-batch {plan.micro_batch} (memory estimate "
                  f"{plan.estimate_bytes / 2**30:.2f} GiB of a {plan.budget_bytes / 2**30:.2f} GiB budget)")
    before = trainer.evaluate(held) if held else None
    columns = (TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
               TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[tps]:.0f} tok/s"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("train", total=None, loss=float("nan"), tps=0.0)
        result = trainer.train(rows, out, resume=resume, progress=lambda p: bar.update(
            task, completed=p.step, total=p.total_steps, loss=p.loss, tps=p.tokens_per_s))
    table = Table(title=f"adapter written to {out}")
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("optimizer steps", f"{result.steps} (resumed at {result.resumed_from_step})")
    table.add_row("tokens / s", f"{result.tokens_per_s:.0f}")
    table.add_row("final train loss", f"{result.final_loss:.4f}")
    table.add_row("peak RSS", f"{result.peak_rss_bytes / 2**20:.0f} MiB")
    if held is not None and before is not None:
        table.add_row("eval loss before -> after", f"{before:.4f} -> {trainer.evaluate(held):.4f}")
    console.print(table)
    console.print(f"use it: edgeproof edge generate --adapter {out} \"...\"")


@app.command()
@friendly_errors
def compare(
    prompt: str = typer.Option("What is the capital of France?", "--prompt", "-p", help="The question to answer."),
    system: str = typer.Option(DEFAULT_SYSTEM_PROMPT, "--system", "-s", help="System message."),
    backends: Optional[list[str]] = typer.Option(None, "--backend", "-b",
                                                 help="Backend to include (repeatable). Default: all installed."),
    max_tokens: int = typer.Option(48, "--max-tokens", "-n", help="Most tokens to generate."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Registry name, local path or hub id (default: smollm2-135m-instruct)."),
) -> None:
    """Answer a prompt with the default model on every available backend, with timings."""
    from edge_sdk.runtime import SamplingParams, available_backends
    from edge_sdk.runtime.compare import DEFAULT_BACKENDS, answer_on_backends, user_messages

    installed = available_backends()
    chosen = list(backends) if backends else [b for b in DEFAULT_BACKENDS if b.split("-")[0] in installed]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("starting", total=len(chosen))

        def step(name: str) -> None:
            bar.update(task, description=f"{name}: loading (first use converts the model; cached after)",
                       completed=chosen.index(name))

        answers = answer_on_backends(user_messages(prompt, system), chosen,
                                     SamplingParams(max_tokens=max_tokens), model=model, on_progress=step)
        bar.update(task, completed=len(chosen), description="done")
    table = Table(title=f"{prompt!r} (greedy, max {max_tokens} tokens)", show_lines=True)
    for col in ("backend", "answer", "load s", "TTFT ms", "decode tok/s", "tokens"):
        table.add_column(col, overflow="fold")
    failed = 0
    for a in answers:
        if a.generation is None:
            failed += 1
            table.add_row(a.backend, f"[red]{a.error}[/]", f"{a.load_s:.1f}", "", "", "")
            continue
        t = a.generation.timings
        table.add_row(a.backend, a.generation.text.strip(), f"{a.load_s:.1f}",
                      f"{t.time_to_first_token_s * 1000:.0f}", f"{t.decode_tokens_per_s:.1f}",
                      str(t.generated_tokens))
    console.print(table)
    if failed == len(answers):
        raise typer.Exit(1)
