"""`edgeproof edge train`: bad data is refused naming the line before any model is loaded; a run on a tiny
model writes an adapter that `edge generate --adapter` then uses."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from edgeproof_cli.main import app

runner = CliRunner()


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


GOOD = json.dumps({"system": None, "conversations": [{"role": "user", "content": "Where is Quenmar?"},
                                                     {"role": "assistant", "content": "On Veloria."}]})


def test_bad_training_file_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    data = _write(tmp_path / "bad.jsonl", [GOOD, '{"system": null, "conversations": [{"role": "user"}]}'])
    res = runner.invoke(app, ["edge", "train", "--data", str(data), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "line 2" in res.output and "turn 0 must be an object" in res.output
    assert not (tmp_path / "out").exists()
    res = runner.invoke(app, ["edge", "train", "--data", str(tmp_path / "missing.jsonl"), "--out", "x"])
    assert res.exit_code == 2 and "no training data at" in res.output


def test_train_then_generate_with_the_adapter(models_tiny_hf_dir, tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", [GOOD] * 8)
    out = tmp_path / "adapter"
    res = runner.invoke(app, ["edge", "train", "--data", str(data), "--eval", str(data), "--out", str(out),
                              "--model", str(models_tiny_hf_dir), "--max-steps", "2", "--force"],
                        terminal_width=200)
    assert res.exit_code == 0, res.output
    assert (out / "adapter_config.json").is_file() and "adapter written to" in res.output
    assert "eval loss before -> after" in res.output
    res = runner.invoke(app, ["edge", "generate", "Where is Quenmar?", "--backend", "torch", "--model",
                              str(models_tiny_hf_dir), "--adapter", str(out), "--max-tokens", "4"])
    assert res.exit_code == 0, res.output
