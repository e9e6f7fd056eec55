"""The on-device runtimes stay lean: generating on llama.cpp or ONNX Runtime imports neither torch nor transformers
(checked in a fresh interpreter), and `auto` on a machine without an NVIDIA GPU does not import torch to find out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from procs import ROOT, env

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
from edge_sdk.runtime import SamplingParams, load_backend
llm = load_backend(sys.argv[1])
out = llm.chat([{"role": "user", "content": "What is the capital of France?"}], SamplingParams(max_tokens=12))
print(json.dumps({"backend": llm.name, "text": out.text, "tokens": len(out.token_ids),
                  "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))
"""


@pytest.fixture(scope="module")
def exported():
    """The ONNX export is made once (that step uses torch and optimum), before the lean process runs."""
    from edge_sdk.models import resolve_model

    return resolve_model(None).onnx_dir()


@pytest.mark.parametrize("backend", ["llamacpp", "onnx", "auto"])
def test_generating_imports_neither_torch_nor_transformers(exported, backend):
    out = subprocess.run([sys.executable, "-c", PROBE, backend], capture_output=True, text=True, env=env(), cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["tokens"] > 0 and result["text"].strip()
    assert not result["torch"] and not result["transformers"], result
