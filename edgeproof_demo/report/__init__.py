"""The demo's report folder: run.json, one PNG per plot, and index.html (self-contained)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgeproof_demo.report.html import render_html
from edgeproof_demo.report.plots import draw_plots


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(result: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Writes the report; returns name -> path for run.json, index.html and each PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"json": folder / "run.json", "html": folder / "index.html"}
    _write_atomic(paths["json"], json.dumps(result, indent=2, default=str))
    plots = draw_plots(result, folder)
    for name, (png, _svg) in plots.items():
        paths[name] = png
    _write_atomic(paths["html"], render_html(result, {name: svg for name, (_png, svg) in plots.items()}))
    return paths
