"""The report page: one self-contained HTML file (inline CSS and SVG plots, no scripts, no external links), so it
opens offline from any folder."""

from __future__ import annotations

import html
import time
from typing import Any

from edgeproof_demo.outcomes import CHECKS
from edgeproof_demo.report.plots import PLOTS

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;
color:#1d3557}
h1{margin-bottom:.2rem} .sub{color:#6c757d;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border-bottom:1px solid #dee2e6;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f3f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#2a9d8f;font-weight:600} .bad{color:#e76f51;font-weight:600}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1rem}
figure{margin:0;border:1px solid #dee2e6;border-radius:6px;padding:.5rem}
figure svg{width:100%;height:auto;display:block} figcaption{font-size:.85rem;color:#6c757d}
.answer{background:#f8f9fa;border-left:4px solid #8d99ae;padding:.4rem .8rem;margin:.3rem 0}
"""

def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _mark(ok: bool, yes: str = "yes", no: str = "no") -> str:
    return f'<span class="ok">{yes}</span>' if ok else f'<span class="bad">{no}</span>'


def _loss(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def render_html(result: dict[str, Any], svgs: dict[str, str]) -> str:
    o = result["outcomes"]
    checks = _table(["outcome", "held"], [[_e(text), _mark(bool(o[key]))] for key, text in CHECKS])
    nodes = _table(["node", "role", "backend", "claimed TOPS", "measured TOPS", "memory verified", "score",
                    "integrity", "status", "reasons"],
                   [[_e(n["name"]), _e(n["role"]), _e(n["backend"]), f"{n['claimed_tops']:.4g}",
                     f"{n['measured_tops']:.4g}", f"{n['verified_memory_bytes'] / 2**20:.0f} MiB",
                     _mark(n["score"] > 0, f"{n['score']:.2f}", f"{n['score']:.2f}"), f"{n['integrity']:.2f}",
                     _e(n["status"]),
                     "<br>".join(_e(r) for r in n["reasons"])] for n in result["poai"]["nodes"]], {3, 4, 5, 6, 7})
    fed = result["federation"]
    rounds = _table(["global version", "produced by", "eval loss"],
                    [[str(v["version"]), "base model" if v["version"] == 0 else f"round {v['round']}",
                      _loss(v["eval_loss"])] for v in fed["versions"]], {2})
    clients = _table(["client", "private rows", "rounds trained", "state"],
                     [[_e(c["name"]), str(c["rows"]), _e(", ".join(map(str, c["rounds_trained"]))),
                      _e(c["state"] + (f": {c['error']}" if c.get("error") else ""))]
                      for c in fed["clients"]])
    a = result["answers"]
    answers = (f"<p>Question: <b>{_e(a['question'])}</b> (greedy, {_e(a['backend'])})</p>"
               f'<div class="answer"><b>base model:</b> {_e(a.get("base", "-"))}</div>'
               f'<div class="answer"><b>global adapter:</b> {_e(a.get("adapter", "-"))}</div>')
    s = result["subnet"]
    miners = _table(["miner", "role", "PoAI node", "verdict", "eval loss", "integrity", "weight", "why"],
                    [[_e(m["name"]), _e(m["role"]), _e(m["node"]), _e(m["status"]), _loss(m["eval_loss"]),
                      "-" if m["integrity"] is None else f"{m['integrity']:.2f}",
                      _mark(m["weight"] > 0, f"{m['weight']:.4f}", f"{m['weight']:.4f}"), _e(m["why"] or "")]
                     for m in s["miners"]], {4, 5, 6})
    figures = "".join(f'<figure id="plot-{name}">{svgs[name]}<figcaption>as PNG: <a href="{name}.png">{name}.png'
                      "</a></figcaption></figure>" for name, _title in PLOTS)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(result["started_at"]))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeproof demo {_e(result["run_id"])}</title><style>{_CSS}</style></head>
<body>
<h1>edgeproof demo</h1>
<p class="sub">run {_e(result["run_id"])}, started {_e(when)}, {result["seconds"]:.0f} s in all; PoAI challenger
{_e(result["poai"]["challenger"])}, federation coordinator {_e(fed["coordinator"])}, chain {_e(s["network"])}
(subnet {s["netuid"]})</p>
<h2>Outcomes</h2>{checks}
<h2>Plots</h2><div class="plots">{figures}</div>
<h2>Proof-of-AI: integrity per node</h2>{nodes}
<h2>Federation: eval loss per round</h2>
<p>Held-out questions about the facts in the clients' private shards; each client trained {_e(
        result["settings"]["local_steps"])} steps per round, and only adapter updates left it.</p>{rounds}{clients}
<h2>Base model vs global adapter</h2>{answers}
<h2>Validator: datasets, integrity and weights</h2>
<p>Weights set at block {s["block"]} (epoch {s["epoch"]}) by validator {_e(s["validator"])}.</p>{miners}
</body></html>
"""
