"""The demo's report folder: run.json, one PNG per plot, and index.html (self-contained)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgeproof_demo.report.html import render_html
from edgeproof_demo.report.plots import PLOTS, draw_plots


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(result: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Writes the report and records its files in result["report"] (name -> path: json, html, one per plot)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"json": folder / "run.json", "html": folder / "index.html",
                              **{name: folder / f"{name}.png" for name, _title in PLOTS}}
    result["report"] = {name: str(path) for name, path in paths.items()}
    plots = draw_plots(result, folder)
    _write_atomic(paths["html"], render_html(result, {name: svg for name, (_png, svg) in plots.items()}))
    _write_atomic(paths["json"], json.dumps(result, indent=2, default=str))
    return paths
