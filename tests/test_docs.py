"""The docs describe this repository: the configuration reference matches the CLI, the README and docs/ name only
files that exist and point at nothing outside the repository, and the quickstart's two commands are what CI runs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from procs import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("edge_sdk/", "poai/", "validator/", "edgeproof_demo/", "edgeproof_cli/", "examples/", "tests/", "benchmarks/",
       "scripts/", "proto/", "docs/")


def test_the_configuration_reference_is_current():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_config_reference.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_name_only_files_that_exist_and_nothing_outside_the_repository(doc):
    text = doc.read_text()
    assert not re.findall(r"https?://(?!127\.0\.0\.1|localhost)[\w.-]+\.(?:com|org|io|net|ai|dev)\b", text), doc
    assert "../" not in text and "DESIGN.md" not in text
    generated = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines() if line.strip()}
    for path in re.findall(r"`([\w./*-]+)`", text):
        if path in generated:  # an output folder (benchmarks/results/): made by the command the text names
            continue
        if path.startswith(TOP) and "*" not in path and "<" not in path:
            assert (ROOT / path).exists(), f"{doc.name} names {path}, which does not exist"
    for name in re.findall(r"`(\w[\w-]*\.md)`", text):  # docs refer to each other by file name
        assert any(p.name == name for p in ROOT.rglob(name)), f"{doc.name} names {name}"


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart"):readme.index("## How the parts fit")]
    assert "make demo" in quickstart and "make test" in quickstart
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    for guide in ("## Guide: app developer", "## Guide: node operator", "## Guide: validator",
                  "## Configuration reference"):
        assert guide in readme
