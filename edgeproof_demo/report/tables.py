"""The demo's final tables for a terminal (rich): integrity per node, eval loss per round, the side-by-side
answers, dataset losses and weights, and the outcomes."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from edgeproof_demo.outcomes import CHECKS


def _loss(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _ok(ok: bool, text: str) -> str:
    return f"[green]{text}[/]" if ok else f"[red]{text}[/]"


def tables(result: dict[str, Any]) -> list[Table]:
    failed = [n for n in result["poai"]["nodes"] if n["score"] <= 0]
    nodes = Table(title="Proof-of-AI: integrity per node (standard plan)", caption_justify="left",
                  caption="\n".join(f"{n['name']}: " + "; ".join(n["reasons"]) for n in failed) or None)
    for col in ("node", "TOPS claimed > measured", "memory", "score", "integrity"):
        nodes.add_column(col)
    for n in result["poai"]["nodes"]:
        nodes.add_row(n["name"], f"{n['claimed_tops']:.3g} > {n['measured_tops']:.3g}",
                      f"{n['verified_memory_bytes'] >> 20} MiB", _ok(n["score"] > 0, f"{n['score']:.2f}"),
                      f"{n['integrity']:.2f}")
    rounds = Table(title="Federation: held-out eval loss per global version")
    for col in ("version", "from", "eval loss"):
        rounds.add_column(col)
    for v in result["federation"]["versions"]:
        rounds.add_row(str(v["version"]), "base model" if v["version"] == 0 else f"round {v['round']}",
                       _loss(v["eval_loss"]))
    a = result["answers"]
    answers = Table(title=f"{a['question']!r} on {a['backend']} (greedy)")
    answers.add_column("model")
    answers.add_column("answer", overflow="fold")
    answers.add_row("base", a.get("base", "-"))
    answers.add_row("global adapter", a.get("adapter", "-"))
    unpaid = [m for m in result["subnet"]["miners"] if m["weight"] <= 0]
    miners = Table(title=f"Validator: datasets and weights (block {result['subnet']['block']})",
                   caption_justify="left", caption="\n".join(f"{m['name']}: {m['why']}" for m in unpaid) or None)
    for col in ("miner", "PoAI node", "verdict", "eval loss", "weight"):
        miners.add_column(col)
    for m in result["subnet"]["miners"]:
        miners.add_row(m["name"], m["node"], m["status"], _loss(m["eval_loss"]),
                       _ok(m["weight"] > 0, f"{m['weight']:.4f}"))
    checks = Table(title=f"Outcomes ({result['seconds']:.0f} s)")
    checks.add_column("outcome")
    checks.add_column("held")
    for key, text in CHECKS:
        checks.add_row(text, _ok(bool(result["outcomes"][key]), "yes" if result["outcomes"][key] else "NO"))
    return [nodes, rounds, answers, miners, checks]
