"""Chat JSONL: the training and evaluation data format, read and checked before any training starts.

One JSON object per line (DESIGN.md, the same schema the validator scores):

    {"system": "You are ..." | null, "conversations": [{"role": "user", "content": "..."},
                                                      {"role": "assistant", "content": "..."}, ...]}

Turns alternate user / assistant, start with the user and end with the assistant. Every problem is reported
with its line number, all of them at once (up to a limit), so a user fixes the file in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.errors import InvalidRequestError

MAX_REPORTED_PROBLEMS = 10


class DatasetError(InvalidRequestError):
    """A training or evaluation file that cannot be used as it is; the message names the lines."""


@dataclass(frozen=True)
class ChatRow:
    """One conversation. `line` is its 1-based line in the source file (0 when built in code)."""

    conversations: tuple[tuple[str, str], ...]  # (role, content) pairs
    system: str | None = None
    line: int = 0

    def messages(self, default_system: str | None = None) -> list[dict[str, str]]:
        """Chat messages for the template; a null system becomes `default_system` (None: no system turn)."""
        system = self.system if self.system is not None else default_system
        head = [{"role": "system", "content": system}] if system is not None else []
        return head + [{"role": r, "content": c} for r, c in self.conversations]

    def to_json(self) -> dict:
        return {"system": self.system, "conversations": [{"role": r, "content": c} for r, c in self.conversations]}


def _row_problem(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    extra = set(obj) - {"system", "conversations"}
    if extra:
        return f"unknown key(s) {', '.join(sorted(map(str, extra)))}: a row has only 'system' and 'conversations'"
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        return f"'system' must be a string or null, got {type(system).__name__}"
    turns = obj.get("conversations")
    if not isinstance(turns, list) or not turns:
        return "'conversations' must be a non-empty list of {'role', 'content'} turns"
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            return f"turn {i} must be an object with exactly 'role' and 'content'"
        expected = "user" if i % 2 == 0 else "assistant"
        if turn["role"] not in ("user", "assistant"):
            return f"turn {i} has role {str(turn['role'])[:20]!r}: roles are 'user' and 'assistant'"
        if turn["role"] != expected:
            return f"turn {i} is {turn['role']!r} but should be {expected!r}: turns alternate, starting with 'user'"
        if not isinstance(turn["content"], str) or not turn["content"].strip():
            return f"turn {i} content must be a non-empty string"
    if len(turns) % 2:
        return "the conversation ends with a user turn: it must end with the assistant's answer"
    return None


def parse_rows(lines: Iterable[str], source: str = "<data>") -> list[ChatRow]:
    """Parse and check chat JSONL lines (blank lines are skipped). Raises DatasetError naming the lines."""
    rows: list[ChatRow] = []
    problems: list[str] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        problem = _row_problem(obj)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        rows.append(ChatRow(tuple((t["role"], t["content"]) for t in obj["conversations"]), obj.get("system"),
                            number))
    if problems:
        more = len(problems) - MAX_REPORTED_PROBLEMS
        shown = problems[:MAX_REPORTED_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise DatasetError(f"{source} has {len(problems)} bad row(s); fix them and run again:\n  "
                           + "\n  ".join(shown))
    if not rows:
        raise DatasetError(f"{source} has no rows: write one JSON object per line, e.g. "
                           '{"system": null, "conversations": [{"role": "user", "content": "..."}, '
                           '{"role": "assistant", "content": "..."}]}')
    return rows


def load_chat_jsonl(path: str | Path) -> list[ChatRow]:
    """Read a chat JSONL file (see the module docstring)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DatasetError(f"no training data at {p}: give a chat JSONL file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{p} is not UTF-8 text (byte {exc.start}): save it as UTF-8 JSONL") from None
    return parse_rows(text.splitlines(), str(p))


def chat_jsonl_text(rows: Iterable[ChatRow]) -> str:
    """Rows as chat JSONL text (one object per line, the format load_chat_jsonl reads)."""
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows)
