"""What every generator in scripts/ does with its output: write it, or (--check) say whether the committed file is
stale, so a test can fail when someone forgets to regenerate."""

from __future__ import annotations

from pathlib import Path


def write_or_check(path: Path, text: str, check: bool, root: Path, command: str) -> int:
    """0 when written or current; 1 (with the command to run) when `check` finds the file stale."""
    name = path.relative_to(root)
    if check:
        if not path.exists() or path.read_text() != text:
            print(f"STALE {name}: run `{command}`")
            return 1
        print(f"ok    {name}")
        return 0
    path.write_text(text)
    print(f"wrote {name}")
    return 0
