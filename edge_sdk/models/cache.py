"""Crash-safe, process-safe cache of converted model variants.

Conversions take 20-40 s, so their results are cached under cache_dir()/models/<model>/<variant>/. A variant
directory counts only if it holds a manifest whose key (source fingerprint, conversion settings, library
versions) matches and whose listed files are all there with the recorded sizes. Builds go into a temp
sibling directory that is renamed into place only after every file and the manifest are fsynced, so a
killed conversion leaves nothing that a later run would load; a file lock keeps two processes from
converting the same variant at once (the second one waits, then finds the first one's result).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("edge_sdk.models")

MANIFEST_NAME = "edgeproof-manifest.json"
MANIFEST_FORMAT = 1
_TEMP_MARK = ".tmp-"
_OLD_MARK = ".old-"

Progress = Callable[[str], None]


def _say(progress: Progress | None, message: str) -> None:
    log.info(message)
    if progress is not None:
        progress(message)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_valid(folder: Path, key: dict[str, Any]) -> bool:
    """True if `folder` is a complete build for `key` (cheap: one JSON read and a stat per file)."""
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("format") != MANIFEST_FORMAT:
        return False
    if _canonical(manifest.get("key")) != _canonical(key):
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for rel, size in files.items():
        try:
            if (folder / rel).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


@contextlib.contextmanager
def file_lock(lock_path: Path, progress: Progress | None = None, what: str = "") -> Iterator[None]:
    """Exclusive inter-process lock on `lock_path` (fcntl on POSIX, msvcrt on Windows); blocks until free."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    time.sleep(0.5)
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(progress, f"waiting for another process that is building {what or lock_path.stem} ...")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under root, so a rename after this publishes durable data."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(folder: Path, key: dict[str, Any], info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the manifest listing every file in folder with its size (the manifest itself excluded)."""
    files: dict[str, int] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            files[path.relative_to(folder).as_posix()] = path.stat().st_size
    if not files:
        raise RuntimeError(f"refusing to publish an empty build in {folder}")
    manifest = {
        "format": MANIFEST_FORMAT,
        "key": key,
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "info": info or {},
    }
    tmp = folder / (MANIFEST_NAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / MANIFEST_NAME)
    return manifest


def remove_stale(parent: Path, name: str) -> None:
    """Delete leftovers of killed builds of `name` (call only while holding its lock)."""
    if not parent.is_dir():
        return
    for child in parent.iterdir():
        if child.name.startswith(f".{name}{_TEMP_MARK}") or child.name.startswith(f".{name}{_OLD_MARK}"):
            shutil.rmtree(child, ignore_errors=True)


def _umask() -> int:
    """The process umask, read without changing it where possible (os.umask() is racy with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: Path, dest: Path) -> None:
    """Atomically put the finished directory `tmp` at `dest` (replacing an old/invalid `dest`)."""
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; the published cache follows the umask
    fsync_tree(tmp)
    old: Path | None = None
    if dest.exists() or dest.is_symlink():
        old = dest.with_name(f".{dest.name}{_OLD_MARK}{os.getpid()}-{time.monotonic_ns()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def ensure_built(
    dest: Path,
    key: dict[str, Any],
    build: Callable[[Path], dict[str, Any] | None],
    *,
    what: str = "",
    progress: Progress | None = None,
) -> Path:
    """Return `dest` holding a valid build for `key`, running `build(tmp_dir)` under the lock if needed.

    `build` writes the files into the empty directory it is given and may return extra manifest info.
    """
    if is_valid(dest, key):
        return dest
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    with file_lock(parent / f".{dest.name}.lock", progress, what or dest.name):
        if is_valid(dest, key):  # another process built it while we waited
            return dest
        remove_stale(parent, dest.name)
        if dest.exists():
            _say(progress, f"{what or dest.name}: cached copy is stale or incomplete, rebuilding")
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}{_TEMP_MARK}", dir=parent))
        try:
            started = time.monotonic()
            info = build(tmp) or {}
            info["build_seconds"] = round(time.monotonic() - started, 2)
            write_manifest(tmp, key, info)
            publish(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def copy_tree_atomic(src: Path, dest: Path) -> Path:
    """Copy a finished cache directory to a user-chosen place, crash-safely (temp sibling + rename)."""
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}{_TEMP_MARK}", dir=dest.parent))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        publish(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
