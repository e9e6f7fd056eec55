"""edge_sdk.models.cache: atomic publish, manifests, stale-build cleanup, the inter-process lock.

Real processes and real SIGKILLs, no model needed (the builds write plain files).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge_sdk.models import cache

ROOT = Path(__file__).resolve().parents[1]


def _writer(payload: str, counter: list[int] | None = None):
    def build(tmp: Path) -> dict:
        if counter is not None:
            counter.append(1)
        (tmp / "weights.bin").write_text(payload)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "config.json").write_text("{}")
        return {"payload": payload}

    return build


def test_builds_once_and_reuses(tmp_path):
    dest = tmp_path / "m" / "hf"
    calls: list[int] = []
    key = {"source": 1}
    assert cache.ensure_built(dest, key, _writer("a", calls)) == dest
    assert cache.ensure_built(dest, key, _writer("b", calls)) == dest
    assert calls == [1] and (dest / "weights.bin").read_text() == "a"
    manifest = cache.read_manifest(dest)
    assert manifest["key"] == key and manifest["info"]["payload"] == "a"
    assert manifest["files"] == {"sub/config.json": 2, "weights.bin": 1}
    assert "build_seconds" in manifest["info"]
    mode = dest.stat().st_mode & 0o777
    assert mode == 0o777 & ~_umask()  # not mkdtemp's 0700
    assert [p.name for p in dest.parent.iterdir() if p.name.startswith(".hf.tmp")] == []


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_key_change_rebuilds(tmp_path):
    dest = tmp_path / "hf"
    cache.ensure_built(dest, {"source": {"size": 1}}, _writer("old"))
    cache.ensure_built(dest, {"source": {"size": 2}}, _writer("new"))
    assert (dest / "weights.bin").read_text() == "new"
    assert cache.read_manifest(dest)["key"] == {"source": {"size": 2}}
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name or ".tmp-" in p.name]


def test_directory_without_manifest_is_rebuilt_not_loaded(tmp_path):
    dest = tmp_path / "onnx"
    dest.mkdir()
    (dest / "weights.bin").write_text("half-written")
    assert not cache.is_valid(dest, {"k": 1})
    cache.ensure_built(dest, {"k": 1}, _writer("complete"))
    assert (dest / "weights.bin").read_text() == "complete"


def test_manifest_with_missing_or_resized_file_is_rebuilt(tmp_path):
    dest = tmp_path / "onnx"
    cache.ensure_built(dest, {"k": 1}, _writer("complete"))
    (dest / "weights.bin").write_text("complete but now longer")
    assert not cache.is_valid(dest, {"k": 1})
    cache.ensure_built(dest, {"k": 1}, _writer("complete"))
    assert cache.is_valid(dest, {"k": 1})
    (dest / "sub" / "config.json").unlink()
    assert not cache.is_valid(dest, {"k": 1})
    (dest / cache.MANIFEST_NAME).write_text("{garbage")
    assert not cache.is_valid(dest, {"k": 1})


def test_failed_build_leaves_nothing(tmp_path):
    dest = tmp_path / "onnx"

    def boom(tmp: Path) -> dict:
        (tmp / "partial.bin").write_text("x")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError):
        cache.ensure_built(dest, {"k": 1}, boom)
    assert list(tmp_path.iterdir()) == [tmp_path / ".onnx.lock"]


def test_empty_build_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="empty"):
        cache.ensure_built(tmp_path / "x", {"k": 1}, lambda tmp: None)
    assert not (tmp_path / "x").exists()


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from edge_sdk.models import cache
    dest, mode = Path(sys.argv[1]), sys.argv[2]

    def build(tmp):
        with open(dest.parent / "builds.log", "a") as fh:
            fh.write("build\\n")
        (tmp / "weights.bin").write_bytes(b"x" * 1000)
        (dest.parent / "started").touch()
        time.sleep(30 if mode == "hang" else 1.5)
        (tmp / "config.json").write_text("{{}}")
        return {{}}

    cache.ensure_built(dest, {{"k": 1}}, build)
    print("ok")
    """
)


def _spawn(tmp_path: Path, mode: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(root=str(ROOT)))
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "variant"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_killed_build_leaves_nothing_that_loads(tmp_path):
    """SIGKILL mid-conversion: the half-written temp dir is never taken for a build, and is cleaned up."""
    proc = _spawn(tmp_path, "hang")
    _wait_for(tmp_path / "started")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    dest = tmp_path / "variant"
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".variant.tmp-")]
    assert len(temps) == 1 and (temps[0] / "weights.bin").exists()  # the killed build's leftovers
    assert not dest.exists() and not cache.is_valid(dest, {"k": 1})

    cache.ensure_built(dest, {"k": 1}, _writer("rebuilt"))
    assert (dest / "weights.bin").read_text() == "rebuilt"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_two_processes_build_once(tmp_path):
    """The lock makes the second process wait and then reuse the first one's result."""
    first = _spawn(tmp_path, "quick")
    _wait_for(tmp_path / "started")
    second = _spawn(tmp_path, "quick")
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert out1.strip() == out2.strip() == "ok"
    assert (tmp_path / "builds.log").read_text().splitlines() == ["build"]
    manifest = json.loads((tmp_path / "variant" / cache.MANIFEST_NAME).read_text())
    assert manifest["files"] == {"config.json": 2, "weights.bin": 1000}


def test_copy_tree_atomic_replaces_previous_copy(tmp_path):
    src = tmp_path / "built"
    cache.ensure_built(src, {"k": 1}, _writer("v1"))
    out = tmp_path / "out" / "export"
    cache.copy_tree_atomic(src, out)
    assert (out / "weights.bin").read_text() == "v1" and cache.read_manifest(out)["key"] == {"k": 1}
    cache.ensure_built(src, {"k": 2}, _writer("v2"))
    cache.copy_tree_atomic(src, out)
    assert (out / "weights.bin").read_text() == "v2"
    assert sorted(p.name for p in out.parent.iterdir()) == ["export"]
