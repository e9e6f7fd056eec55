#!/usr/bin/env python
"""Regenerate (or check) the gRPC stubs that live inside the packages that own each service.

    python scripts/gen_proto.py           # rewrite the stubs from proto/*.proto
    python scripts/gen_proto.py --check   # exit 1 if the committed stubs differ from what the .proto gives

Why a script and not a bare protoc line: protoc writes `import poai_pb2` (a top-level import), which only
works with the output folder on sys.path. The stubs live in `poai/_proto/` and `edge_sdk/federation/_proto/` (a top-level `proto` package
name is taken on PyPI), so the script rewrites those imports to package-relative ones, and the check mode
lets a test fail when someone edits a .proto and forgets to regenerate.

Lines that only record the generator's version (protoc / grpcio-tools) are compared with the version
masked, so upgrading grpcio-tools alone does not fail the check; any change to the schema does.
Needs `grpcio-tools` (the `test` extra).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"


@dataclass(frozen=True)
class Target:
    proto: str  # file name inside proto/
    package_dir: Path  # where the stubs live
    module: str  # generated module stem (poai -> poai_pb2.py, poai_pb2_grpc.py, poai_pb2.pyi)


TARGETS: tuple[Target, ...] = (
    Target("poai.proto", ROOT / "poai" / "_proto", "poai"),
    Target("federation.proto", ROOT / "edge_sdk" / "federation" / "_proto", "federation"),
)

_VERSION_LINES = (
    re.compile(r"^(# Protobuf Python Version: ).*$", re.M),
    re.compile(r"^(GRPC_GENERATED_VERSION = ).*$", re.M),
)
_RUNTIME_CALL = re.compile(r"_runtime_version\.ValidateProtobufRuntimeVersion\((.*?)\)", re.S)


def _generate(target: Target, out_dir: Path) -> dict[str, str]:
    """Run protoc (from grpcio-tools) into out_dir and return {file name: fixed text}."""
    try:
        from grpc_tools import protoc
    except ImportError:  # pragma: no cover - environment problem, explained to the user
        sys.exit("grpcio-tools is not installed: pip install 'edgeproof[test]' (or pip install grpcio-tools)")
    import importlib.resources

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_DIR / target.proto),
    ]
    if protoc.main(args) != 0:
        sys.exit(f"protoc failed on {target.proto}")
    files: dict[str, str] = {}
    for name in (f"{target.module}_pb2.py", f"{target.module}_pb2.pyi", f"{target.module}_pb2_grpc.py"):
        files[name] = _fix_imports((out_dir / name).read_text(), target.module)
    return files


def _fix_imports(text: str, module: str) -> str:
    """`import poai_pb2 as poai__pb2` -> `from . import poai_pb2 as poai__pb2` (package-relative)."""
    return re.sub(
        rf"^import ({re.escape(module)}_pb2) as (\w+)$", r"from . import \1 as \2", text, flags=re.M
    )


def _mask_versions(text: str) -> str:
    text = _VERSION_LINES[0].sub(r"\1<version>", text)
    text = _VERSION_LINES[1].sub(r"\1<version>", text)
    return _RUNTIME_CALL.sub("_runtime_version.ValidateProtobufRuntimeVersion(<version>)", text)


def _init_text(target: Target) -> str:
    return (
        f'"""Generated gRPC stubs for proto/{target.proto}. '
        'Do not edit: run `python scripts/gen_proto.py`."""\n'
    )


def check() -> int:
    """Return the number of stub files that differ from what the .proto files generate."""
    problems = 0
    with tempfile.TemporaryDirectory() as tmp:
        for target in TARGETS:
            for name, fresh in _generate(target, Path(tmp)).items():
                path = target.package_dir / name
                if not path.exists():
                    print(f"MISSING {path.relative_to(ROOT)}")
                    problems += 1
                    continue
                committed = path.read_text()
                if _mask_versions(committed) != _mask_versions(fresh):
                    problems += 1
                    print(f"STALE   {path.relative_to(ROOT)} (differs from proto/{target.proto}):")
                    diff = difflib.unified_diff(
                        committed.splitlines(), fresh.splitlines(), "committed", "generated", lineterm="", n=1
                    )
                    for i, line in enumerate(diff):
                        if i >= 40:
                            print("  ...")
                            break
                        print("  " + line)
                elif committed != fresh:
                    print(f"ok      {path.relative_to(ROOT)} (only the generator version differs)")
                else:
                    print(f"ok      {path.relative_to(ROOT)}")
            init = target.package_dir / "__init__.py"
            if not init.exists():
                print(f"MISSING {init.relative_to(ROOT)}")
                problems += 1
    if problems:
        print("stubs are out of date: run `python scripts/gen_proto.py` and commit the result")
    return problems


def write() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for target in TARGETS:
            target.package_dir.mkdir(parents=True, exist_ok=True)
            for name, fresh in _generate(target, Path(tmp)).items():
                (target.package_dir / name).write_text(fresh)
                print(f"wrote {(target.package_dir / name).relative_to(ROOT)}")
            init = target.package_dir / "__init__.py"
            if not init.exists():
                init.write_text(_init_text(target))
                print(f"wrote {init.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 when stale")
    args = parser.parse_args(argv)
    if args.check:
        return 1 if check() else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
