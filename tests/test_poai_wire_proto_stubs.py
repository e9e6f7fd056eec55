"""The committed gRPC stubs match proto/poai.proto, and `--check` notices when they do not."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_proto.py"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("grpc_tools") is None,
    reason="grpcio-tools (the `test` extra) is needed to regenerate stubs",
)


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(cwd / "scripts" / "gen_proto.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_committed_stubs_match_the_proto() -> None:
    proc = _run("--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stubs_import_package_relative() -> None:
    text = (ROOT / "poai" / "_proto" / "poai_pb2_grpc.py").read_text()
    assert "from . import poai_pb2 as poai__pb2" in text
    assert "\nimport poai_pb2" not in text
    from poai._proto import poai_pb2, poai_pb2_grpc

    assert poai_pb2.DESCRIPTOR.services_by_name["Challenger"].full_name == "edgeproof.poai.v1.Challenger"
    assert hasattr(poai_pb2_grpc, "ChallengerStub")


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel in ("proto", "scripts", "poai/_proto"):
        shutil.copytree(ROOT / rel, root / rel)
    return root


def test_check_fails_when_the_proto_changes(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    proto = root / "proto" / "poai.proto"
    proto.write_text(
        proto.read_text().replace(
            "message Ping {\n  uint64 seq = 1;", "message Ping {\n  uint64 seq = 1;\n  string note = 9;"
        )
    )
    proc = _run("--check", cwd=root)
    assert proc.returncode == 1
    assert "STALE" in proc.stdout and "poai_pb2.py" in proc.stdout
    # regenerating brings it back in line
    assert _run(cwd=root).returncode == 0
    assert _run("--check", cwd=root).returncode == 0


def test_check_fails_when_a_stub_is_edited_or_missing(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    grpc_stub = root / "poai" / "_proto" / "poai_pb2_grpc.py"
    grpc_stub.write_text(grpc_stub.read_text().replace("from . import poai_pb2", "import poai_pb2"))
    proc = _run("--check", cwd=root)
    assert proc.returncode == 1 and "poai_pb2_grpc.py" in proc.stdout
    (root / "poai" / "_proto" / "poai_pb2.pyi").unlink()
    proc = _run("--check", cwd=root)
    assert "MISSING" in proc.stdout
