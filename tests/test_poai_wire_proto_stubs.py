"""The committed gRPC stubs match proto/poai.proto, `--check` notices when they do not, and the schema keeps
the v2 rules: typed payloads (no generic maps), bounded integers, limits on what a node sends."""

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

    assert poai_pb2.DESCRIPTOR.services_by_name["Challenger"].full_name == "edgeproof.poai.v2.Challenger"
    assert hasattr(poai_pb2_grpc, "ChallengerStub")


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for rel in ("proto", "scripts", "poai/_proto", "edge_sdk/federation/_proto"):
        shutil.copytree(ROOT / rel, root / rel)
    return root


def test_check_fails_when_the_proto_changes(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    proto = root / "proto" / "poai.proto"
    text = proto.read_text()
    assert "message NodeError {\n" in text
    proto.write_text(text.replace("message NodeError {\n", "message NodeError {\n  string note = 9;\n"))
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


def _node_to_challenger_messages():
    """Every message type a node can send (reachable from NodeMessage)."""
    from poai._proto import poai_pb2

    seen: dict[str, object] = {}
    todo = [poai_pb2.NodeMessage.DESCRIPTOR]
    while todo:
        desc = todo.pop()
        if desc.full_name in seen:
            continue
        seen[desc.full_name] = desc
        todo.extend(f.message_type for f in desc.fields if f.message_type is not None)
    return list(seen.values())


def test_what_a_node_sends_is_typed_and_bounded() -> None:
    from google.protobuf.descriptor import FieldDescriptor

    from poai._proto import poai_pb2

    problems = []
    for desc in _node_to_challenger_messages():
        for f in desc.fields:
            opts = f.GetOptions()
            where = f"{desc.name}.{f.name}"
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                problems.append(f"{where}: a generic map")
            if f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES) and not opts.Extensions[
                poai_pb2.max_len
            ]:
                problems.append(f"{where}: no (max_len)")
            if f.is_repeated and not opts.Extensions[poai_pb2.max_items]:
                problems.append(f"{where}: no (max_items)")
            if f.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_INT32,
                          FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_FLOAT):
                problems.append(f"{where}: use uint32/uint64/double")
    assert not problems, problems
    assert "Record" not in poai_pb2.DESCRIPTOR.message_types_by_name
    assert "Value" not in poai_pb2.DESCRIPTOR.message_types_by_name


def test_every_field_is_documented() -> None:
    """Each field of proto/poai.proto has a comment on its line or right above (units, ranges)."""
    lines = (ROOT / "proto" / "poai.proto").read_text().splitlines()
    undocumented = []
    in_oneof = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("oneof "):
            in_oneof = True
        elif stripped == "}":
            in_oneof = False
        if not stripped.endswith(";") or stripped.startswith(("//", "package", "syntax", "import", "rpc")):
            continue
        if " = " not in stripped or in_oneof or stripped.startswith("option"):
            continue
        if "//" not in line and not lines[i - 1].strip().startswith("//"):
            undocumented.append(stripped)
    assert not undocumented, undocumented
