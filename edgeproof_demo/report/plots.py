"""The report's three plots, drawn once with matplotlib and saved twice: PNG files, and SVG text the HTML page
inlines (so the page needs no other file and no network)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

PLOTS: tuple[tuple[str, str], ...] = (
    ("eval_loss_per_round", "Eval loss of the global adapter per federated round"),
    ("tflops_measured_vs_claimed", "Matmul TOPS per PoAI node: measured vs claimed"),
    ("weights_per_miner", "Weight per miner set by the validator"),
)
_OK, _BAD, _GREY = "#2a9d8f", "#e76f51", "#8d99ae"


def _eval_loss(ax: Any, result: dict[str, Any]) -> None:
    versions = [v for v in result["federation"]["versions"] if v["eval_loss"] is not None]
    xs = [v["version"] for v in versions]
    ys = [v["eval_loss"] for v in versions]
    ax.plot(xs, ys, marker="o", color=_OK, label="global adapter")
    if ys:
        ax.axhline(ys[0], color=_GREY, linestyle="--", label="base model")
    for x, y in zip(xs, ys):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    ax.set_xticks(xs, [("base" if x == 0 else f"round {x}") for x in xs])
    ax.set_ylabel("eval loss (nats per answer token)")
    ax.set_ylim(bottom=0)
    ax.legend()


def _tflops(ax: Any, result: dict[str, Any]) -> None:
    nodes = result["poai"]["nodes"]
    xs = range(len(nodes))
    width = 0.38
    claimed = [n["claimed_tops"] for n in nodes]
    measured = [n["measured_tops"] for n in nodes]
    ax.bar([x - width / 2 for x in xs], claimed, width, color=_GREY, label="claimed")
    ax.bar([x + width / 2 for x in xs], measured, width, color=[_OK if n["score"] > 0 else _BAD for n in nodes],
           label="measured (red: session failed)")
    ax.set_xticks(list(xs), [n["name"] for n in nodes], rotation=15)
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_ylabel("matmul TOPS (log scale)")
    ax.legend()


def _weights(ax: Any, result: dict[str, Any]) -> None:
    miners = result["subnet"]["miners"]
    xs = range(len(miners))
    weights = [m["weight"] for m in miners]
    ax.bar(list(xs), weights, color=[_OK if w > 0 else _BAD for w in weights])
    for x, m in zip(xs, miners):
        label = m["status"] if m["eval_loss"] is None else f"loss {m['eval_loss']:.2f}"
        ax.annotate(label, (x, m["weight"]), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    ax.set_xticks(list(xs), [m["name"] for m in miners], rotation=15)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("weight")


DRAW: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "eval_loss_per_round": _eval_loss, "tflops_measured_vs_claimed": _tflops, "weights_per_miner": _weights}


def draw_plots(result: dict[str, Any], folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (PNG path, SVG text) for each plot in PLOTS."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    out: dict[str, tuple[Path, str]] = {}
    for name, title in PLOTS:
        fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
        try:
            DRAW[name](ax, result)
            ax.set_title(title, fontsize=11)
            png = folder / f"{name}.png"
            fig.savefig(png, dpi=110)
            svg = io.StringIO()
            fig.savefig(svg, format="svg")
        finally:
            plt.close(fig)
        text = svg.getvalue()
        out[name] = (png, text[text.index("<svg"):])  # drop the XML prolog and doctype: inlined in HTML
    return out
