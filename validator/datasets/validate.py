"""Is a miner's dataset usable? `validate_dataset` answers with a report, never an exception about the data.

A rejection says why in sentences a miner can act on: what is wrong, where (line numbers, byte offsets) and
what to do. Every problem found is listed (the first MAX_REASONS, then how many more), so a miner fixes the
file in one pass. The schema itself is `edge_sdk.training.data.parse_rows`, the same check the SDK's trainer
runs, so a file the validator accepts is a file a miner can train on locally, and the other way round.

Checks, in order:
  1. size: over `limits.max_bytes` -> rejected without reading the rest (a Path is checked by its size on
     disk before it is opened);
  2. bytes: a UTF-16 file, bytes that are not UTF-8 (line and byte offset), an empty file;
  3. each line: JSON and the chat schema (parse_rows' messages), unpaired surrogate escapes, more than
     `max_turns` messages, a message over `max_chars` characters, and, when `count_tokens` is given, a row
     over `max_tokens` tokens (only rows that passed the other checks are tokenized);
  4. the file: between `min_rows` and `max_rows` rows (non-blank lines, whether they parsed or not).

Line numbers are 1-based lines of the file as an editor shows them (lines split on "\\n" only; a "\\r"
before it is ignored). Blank lines are skipped. A UTF-8 byte order mark at the start is accepted.
"""

from __future__ import annotations

import hashlib
import operator
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from edge_sdk.training.data import ChatRow, DatasetError, parse_rows
from validator.datasets.limits import DatasetLimits

MAX_REASONS = 10

SCHEMA_HINT = ('each row is {"system": string or null, "conversations": [{"role": "user", "content": ...}, '
               '{"role": "assistant", "content": ...}, ...]}, turns alternating from the user and ending with '
               "the assistant")


@dataclass(frozen=True)
class DatasetStats:
    rows: int = 0  # rows that parsed
    bytes: int = 0  # size of the file (on disk, for a Path rejected for its size)
    turns: int = 0  # messages in the rows that parsed (user + assistant; the system prompt is not a turn)
    longest_row_tokens: int | None = None  # None when no token counter was given (or nothing was counted)
    sha256: str | None = None  # hex digest of the bytes; None when they were not read (too big, unreadable)


@dataclass(frozen=True)
class DatasetReport:
    ok: bool
    rows: list[ChatRow] = field(default_factory=list)  # the dataset when ok, else empty
    reasons: list[str] = field(default_factory=list)  # empty when ok
    stats: DatasetStats = field(default_factory=DatasetStats)

    def summary(self) -> str:
        """One line for logs: accepted with its size, or rejected with its reasons."""
        if self.ok:
            tokens = (f", longest row {self.stats.longest_row_tokens} tokens"
                      if self.stats.longest_row_tokens is not None else "")
            return f"accepted: {self.stats.rows} rows, {self.stats.turns} turns, {self.stats.bytes} bytes{tokens}"
        return "rejected: " + " | ".join(self.reasons)


class _Problems:
    """Problems in the order they should be read: the file's first, then by line."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, str]] = []

    def file(self, reason: str) -> None:
        self._items.append((0, len(self._items), reason))

    def line(self, number: int, reason: str) -> None:
        self._items.append((number, len(self._items), reason))

    def __bool__(self) -> bool:
        return bool(self._items)

    def reasons(self) -> list[str]:
        ordered = [reason for _, _, reason in sorted(self._items)]
        if len(ordered) <= MAX_REASONS:
            return ordered
        more = len(ordered) - MAX_REASONS
        return ordered[:MAX_REASONS] + [f"... and {more} more problem(s) not listed ({len(ordered)} in all): "
                                        "fix the ones above and validate again to see the rest."]


def _size_reason(size: int, limits: DatasetLimits) -> str:
    return (f"The file is {size:,} bytes, over the limit of {limits.max_bytes:,} bytes: submit a smaller "
            "dataset (fewer or shorter rows).")


def _read(path: Path, limits: DatasetLimits) -> tuple[bytes | None, int, str | None]:
    """(bytes, size, None) or (None, size, reason). The size is checked before reading."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None, 0, f"There is no file at {path}: the dataset was not downloaded; fetch it again."
    except OSError as exc:
        return None, 0, f"The file {path} cannot be read ({exc.strerror or exc}): fetch it again."
    if not stat.S_ISREG(info.st_mode):
        return None, 0, f"{path} is not a regular file: a dataset is one JSONL file."
    if info.st_size > limits.max_bytes:
        return None, info.st_size, _size_reason(info.st_size, limits)
    try:
        with path.open("rb") as f:
            data = f.read(limits.max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        return None, info.st_size, f"The file {path} cannot be read ({exc.strerror or exc}): fetch it again."
    if len(data) > limits.max_bytes:
        return None, len(data), _size_reason(len(data), limits)
    return data, len(data), None


def _lines(data: bytes, problems: _Problems) -> list[tuple[int, str]]:
    """(line number, text) of the non-blank lines; a line that is not UTF-8 is reported and left out."""
    out: list[tuple[int, str]] = []
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        start = offset
        offset += len(raw) + 1
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw, start = raw[3:], start + 3
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.line(number, f"Line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte offset "
                                  f"{start + exc.start} of the file): save the file as UTF-8.")
            out.append((number, ""))  # counted as a row, not parsed
            continue
        text = text.removesuffix("\r")
        if text.strip():
            out.append((number, text))
    return out


def _parse_line(number: int, text: str) -> tuple[ChatRow | None, str | None]:
    """The row, or the reason it is not one. The schema is parse_rows'; its message names line 1 of the one
    line it was given, which is this file's line `number`."""
    try:
        rows = parse_rows([text], source=f"line {number}")
    except DatasetError as exc:
        message = str(exc)
        _, found, problem = message.partition("\n  line 1: ")
        problem = problem.strip() if found else message
        if problem.startswith("not valid JSON"):
            return None, (f"Line {number}: {problem}: write each row as one complete JSON object on a single "
                          "line.")
        return None, f"Line {number}: {problem}; fix the row ({SCHEMA_HINT})."
    except (ValueError, RecursionError) as exc:  # e.g. an integer too long to convert, nesting too deep
        return None, (f"Line {number} cannot be parsed as JSON ({type(exc).__name__}: {str(exc)[:80]}): write "
                      "each row as one plain JSON object on a single line.")
    return replace(rows[0], line=number), None


def _has_surrogates(row: ChatRow) -> bool:
    texts = ([row.system] if row.system is not None else []) + [c for _, c in row.conversations]
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _row_problems(row: ChatRow, limits: DatasetLimits) -> list[str]:
    where = f"Line {row.line}"
    out = []
    if _has_surrogates(row):
        out.append(f"{where} contains an unpaired surrogate escape (e.g. \\ud800), which is not text: remove "
                   "it or escape the whole character as a surrogate pair.")
    if len(row.conversations) > limits.max_turns:
        out.append(f"{where} has {len(row.conversations)} messages, over the limit of {limits.max_turns} per row: "
                   "split the conversation into shorter rows.")
    messages = ([("system prompt", row.system)] if row.system is not None else []) + [
        (f"turn {i}", content) for i, (_, content) in enumerate(row.conversations)]
    long = [(name, len(text)) for name, text in messages if len(text) > limits.max_chars]
    if long:
        name, chars = max(long, key=lambda item: item[1])
        others = f" (and {len(long) - 1} more message(s) of the row)" if len(long) > 1 else ""
        out.append(f"{where}: the {name} is {chars:,} characters{others}, over the limit of "
                   f"{limits.max_chars:,} per message: shorten it or split the row.")
    return out


def _count(row: ChatRow, count_tokens: Callable[[ChatRow], int]) -> tuple[int | None, str | None]:
    try:
        tokens = count_tokens(row)
    except Exception as exc:  # a tokenizer failing on a row: the row is rejected, the validator keeps going
        return None, (f"Line {row.line} could not be tokenized ({type(exc).__name__}: {str(exc)[:80]}): check "
                      "the row for unusual characters.")
    try:
        tokens = operator.index(tokens)  # an int, or a numpy integer
    except TypeError:
        raise TypeError(f"count_tokens returned {tokens!r} for line {row.line}: it must return a token count "
                        "(int)") from None
    return tokens, None


def validate_dataset(data: bytes | Path, limits: DatasetLimits | None = None,
                     count_tokens: Callable[[ChatRow], int] | None = None) -> DatasetReport:
    """Check a miner's chat JSONL dataset (bytes, or a Path read only if it is small enough).

    `count_tokens(row)` counts one row's tokens as it will be trained (chat template included); without it
    the token limit is not checked. Returns a report: ok with the rows, or rejected with every reason found.
    """
    limits = limits if limits is not None else DatasetLimits()
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif isinstance(data, os.PathLike):
        raw, size, reason = _read(Path(data), limits)
        if reason is not None:
            return DatasetReport(False, [], [reason], DatasetStats(bytes=size))
        data = raw
    elif not isinstance(data, bytes):
        raise TypeError(f"validate_dataset takes bytes or a Path, got {type(data).__name__} (a str is ambiguous: "
                        "pass Path(...) for a file or .encode() for content)")
    assert isinstance(data, bytes)
    if len(data) > limits.max_bytes:
        return DatasetReport(False, [], [_size_reason(len(data), limits)], DatasetStats(bytes=len(data)))

    digest = hashlib.sha256(data).hexdigest()
    problems = _Problems()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.file("The file is UTF-16 text (it starts with a UTF-16 byte order mark): save it as UTF-8.")
        return DatasetReport(False, [], problems.reasons(), DatasetStats(bytes=len(data), sha256=digest))

    lines = _lines(data, problems)
    if not lines:
        problems.file("The file is empty (no rows): write one chat row per line as JSON, e.g. "
                      '{"system": null, "conversations": [{"role": "user", "content": "..."}, '
                      '{"role": "assistant", "content": "..."}]}.')
        return DatasetReport(False, [], problems.reasons(), DatasetStats(bytes=len(data), sha256=digest))

    rows: list[ChatRow] = []
    longest: int | None = None
    for number, text in lines:
        if not text:  # not UTF-8, already reported
            continue
        row, reason = _parse_line(number, text)
        if row is None:
            problems.line(number, reason)
            continue
        rows.append(row)
        row_problems = _row_problems(row, limits)
        for reason in row_problems:
            problems.line(number, reason)
        if count_tokens is None or row_problems:  # a row already rejected is not tokenized
            continue
        tokens, reason = _count(row, count_tokens)
        if reason is not None:
            problems.line(number, reason)
            continue
        longest = tokens if longest is None else max(longest, tokens)
        if tokens > limits.max_tokens:
            problems.line(number, f"Line {number} is {tokens:,} tokens with the chat template, over the limit of "
                                  f"{limits.max_tokens:,} per row: shorten it or split the conversation.")

    if len(lines) < limits.min_rows:
        problems.file(f"The file has {len(lines)} row(s), fewer than the minimum of {limits.min_rows}: add at "
                      f"least {limits.min_rows - len(lines)} more.")
    elif len(lines) > limits.max_rows:
        problems.file(f"The file has {len(lines):,} rows, more than the maximum of {limits.max_rows:,}: remove at "
                      f"least {len(lines) - limits.max_rows:,}.")

    stats = DatasetStats(rows=len(rows), bytes=len(data), turns=sum(len(r.conversations) for r in rows),
                         longest_row_tokens=longest, sha256=digest)
    if problems:
        return DatasetReport(False, [], problems.reasons(), stats)
    return DatasetReport(True, rows, [], stats)

