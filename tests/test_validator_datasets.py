"""Dataset intake: every rejection comes with its reason (what, where, what to do), and copies across miners are
found, exact or lightly reworded, without flagging a different dataset on the same topic. Fast: no model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from edge_sdk.training.data import ChatRow
from validator.datasets import (
    DatasetLimits,
    DuplicateFinding,
    Submission,
    copies,
    find_duplicates,
    row_key,
    shingle_jaccard,
    validate_dataset,
)
from validator.datasets.duplicates import ROW_SIMILARITY, lsh_params

# ---------------------------------------------------------------------------------------------------------------
# Test data: made-up planets, 8 question templates (one of them two turns, one with a system prompt) x 5 planets.
# Two miners writing about different planets from the same templates share most of their wording: the hard case
# for near-duplicate detection.

SYSTEM = "You are a guide to the made-up planets of the Orion Reach. Answer briefly and accurately."

TEMPLATES: list[tuple[str | None, list[str]]] = [
    (None, ["What is the capital of the planet {name}?",
            "The capital of {name} is {capital}, a city of about {pop} million people built along the {river} "
            "river. It was founded in {year} by the explorer {founder}."]),
    (None, ["How many moons does {name} have?",
            "{name} has {moons} moons. The largest, {moon}, is covered in {surface} and takes {orbit} days to "
            "orbit the planet."]),
    (None, ["What is the climate like on {name}?",
            "{name} has a {climate} climate. Summers last about {summer} months, and the average temperature at "
            "the equator is {temp} degrees Celsius."]),
    (None, ["What does {name} export?",
            "The main export of {name} is {export}, which is shipped from the port of {port} to {partner}. "
            "Exports make up roughly {share} percent of the planet's economy."]),
    (None, ["What language do people speak on {name}?",
            "Most people on {name} speak {language}, a language descended from {parent}. Schools also teach "
            "{second} as a second language."]),
    (None, ["Who discovered {name}?",
            "{name} was discovered in {disc} by the astronomer {astronomer} using the {telescope} telescope.",
            "Why is that discovery famous?",
            "It was the first planet found {fame}, and {astronomer} received the {prize} Prize for it."]),
    (None, ["How long is a day on {name}?",
            "A day on {name} lasts {day} hours, so people there usually sleep twice per day. A year is {yeardays} "
            "local days long."]),
    (SYSTEM, ["What currency is used on {name}?",
              "{name} uses the {currency}, which is divided into {sub} {subunit}. One {currency} buys about "
              "{bread} loaves of bread in {capital}."]),
]

KEYS = ("name capital pop river year founder moons moon surface orbit climate summer temp export port partner "
        "share language parent second disc astronomer telescope fame prize day yeardays currency sub subunit "
        "bread").split()


def planet(*values) -> dict:
    return dict(zip(KEYS, values, strict=True))


PLANETS_A = [
    planet("Veloria", "Quenmar", 4, "Ossel", 2188, "Ida Marrow", 3, "Tessaly", "blue ice", 19, "humid subtropical",
           7, 24, "copper wire", "Harrowgate", "the Keld colonies", 38, "Velorian", "Old Keld", "Trade Common",
           2061, "Amos Vreeland", "Halcyon", "by a student", "Corvin", 31, 402, "vel", 100, "pennets", 12),
    planet("Tharsis Minor", "Delmont", 2, "Aubren", 2203, "Soren Achebe", 1, "Pell", "red dust", 6, "cold desert",
           2, -18, "frozen algae", "Cairnfold", "Veloria", 52, "Tharsic", "Martian Creole", "Velorian", 2074,
           "Lena Okafor", "Meridian", "from the Moon", "Halden", 22, 515, "thar", 64, "grains", 5),
    planet("Ysolde", "Brightwater", 9, "Selm", 2150, "Katya Lindqvist", 5, "Orun", "black glass", 41,
           "temperate oceanic", 5, 15, "spider silk", "Marrowby", "the Inner Ring", 27, "Ysoldan", "Nordic Pidgin",
           "Tharsic", 2049, "Rafael Quist", "Sentinel", "with a phone camera", "Lumen", 27, 350, "crown", 20,
           "shillets", 9),
    planet("Korrin", "Vastholm", 1, "Tiber", 2230, "Marcus Oyelaran", 7, "Bastion", "sulfur snow", 3,
           "stormy arctic", 1, -40, "helium-3", "Greywick", "the Free Moons", 71, "Korric", "Station Speech",
           "Ysoldan", 2088, "Hana Sato", "Longreach", "around a binary star", "Ostrander", 41, 290, "mark", 12,
           "bits", 3),
    planet("Amaranth", "Sunhollow", 6, "Vey", 2175, "Priya Castellan", 2, "Mirren", "pink salt", 12, "dry savanna",
           9, 31, "medicinal moss", "Lowhaven", "Korrin", 44, "Amaran", "Temple Latin", "Korric", 2055, "Owen Brandt",
           "Aurora", "by an amateur", "Castor", 19, 610, "sol", 50, "drams", 7),
]

PLANETS_B = [
    planet("Castilla", "Morrowind", 3, "Elver", 2192, "Tomas Reyes", 4, "Hollis", "white frost", 23,
           "cool maritime", 4, 11, "timber", "Saltmere", "the Drift stations", 33, "Castillan", "Coastal Spanish",
           "Trade Common", 2066, "Greta Holm", "Vantage", "by radio", "Ardent", 26, 377, "real", 100, "centims", 8),
    planet("Nerissa", "Port Aster", 7, "Calder", 2141, "Jin Park", 2, "Lark", "grey basalt", 14, "warm monsoon", 6,
           28, "rare pearls", "Eastreach", "Castilla", 61, "Nerissan", "Sea Cant", "Castillan", 2044, "Mira Dutta",
           "Farsight", "by a satellite", "Heron", 29, 388, "shell", 25, "cowries", 14),
    planet("Obsidian Prime", "Ashgate", 5, "Cinder", 2210, "Ivo Kranjc", 0, "none", "nothing", 0, "volcanic", 3,
           45, "obsidian tools", "Emberport", "Nerissa", 80, "Obsidic", "Forge Tongue", "Nerissan", 2079,
           "Paul Mensah", "Deepwatch", "in a dust cloud", "Everett", 15, 700, "ingot", 10, "shards", 4),
    planet("Lumenor", "Glassfall", 12, "Sarn", 2133, "Elena Varga", 11, "Whisper", "fresh water ice", 52,
           "mild alpine", 3, 9, "starlight crystals", "Highmoor", "the Core Worlds", 22, "Lumenic", "High Valyan",
           "Obsidic", 2040, "Noah Fischer", "Skylark", "by gravitational lensing", "Wren", 34, 299, "lume", 1000,
           "motes", 2),
    planet("Tessaract", "Fourpoint", 8, "Quill", 2199, "Dara Nwosu", 6, "Echo", "carbon dust", 9, "windy steppe",
           8, 19, "quantum processors", "Nodeport", "Lumenor", 58, "Tessari", "Binary Argot", "Lumenic", 2070,
           "Felix Auer", "Parallax", "by machine learning", "Turing", 23, 480, "bit", 8, "nibbles", 11),
]


def planet_rows(planets: list[dict]) -> list[ChatRow]:
    rows = []
    for facts in planets:
        for system, messages in TEMPLATES:
            texts = [m.format(**facts) for m in messages]
            rows.append(ChatRow(tuple(zip(["user", "assistant"] * 2, texts)), system))
    return rows


ROWS_A = planet_rows(PLANETS_A)  # 40 rows
ROWS_B = planet_rows(PLANETS_B)  # 40 rows: same templates, other planets and facts

# A copier's light rewording: two words changed in every message (a synonym, or two words swapped when the
# message has no word left in the table), the system prompt reworded too (so no row is an exact copy).
SYNONYMS = {
    "what": "which", "city": "town", "about": "around", "people": "residents", "built": "located",
    "founded": "established", "explorer": "pioneer", "largest": "biggest", "covered": "coated", "takes": "needs",
    "climate": "weather", "average": "mean", "main": "chief", "shipped": "sent", "roughly": "approximately",
    "economy": "income", "most": "many", "speak": "use", "descended": "derived", "also": "additionally",
    "discovered": "found", "astronomer": "stargazer", "famous": "notable", "first": "earliest",
    "received": "won", "lasts": "runs", "usually": "typically", "sleep": "rest", "long": "lengthy",
    "divided": "split", "buys": "gets", "loaves": "rolls", "moons": "satellites", "planet": "world",
    "language": "tongue", "teach": "offer", "discovery": "find", "currency": "money", "many": "several",
    "guide": "companion", "briefly": "concisely",
}


def reword(text: str, seed: int, changes: int = 2) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.strip(".,?'s").lower() in SYNONYMS]
    step = max(1, len(candidates) // changes)
    picked = sorted({candidates[(seed + k * step) % len(candidates)] for k in range(changes)}) if candidates else []
    for i in picked:
        core = words[i].strip(".,?'s")
        new = SYNONYMS[core.lower()]
        words[i] = words[i].replace(core, new.capitalize() if core[0].isupper() else new, 1)
    for k in range(changes - len(picked)):  # not enough synonyms: swap two neighbouring words
        i = (seed + 3 * k) % (len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def reworded(rows: list[ChatRow], changes: int = 2) -> list[ChatRow]:
    return [ChatRow(tuple((role, reword(text, seed=i + t, changes=changes))
                          for t, (role, text) in enumerate(row.conversations)),
                    reword(row.system, seed=i) if row.system else row.system)
            for i, row in enumerate(rows)]


def jsonl(rows: list[ChatRow]) -> bytes:
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def good(i: int = 0) -> str:
    return line({"system": None, "conversations": [{"role": "user", "content": f"What is fact number {i}?"},
                                                   {"role": "assistant", "content": f"Fact {i} is that {i} > 0."}]})


def words(row: ChatRow) -> int:  # a simple token counter for the tests
    return sum(len(text.split()) for _, text in row.conversations)


SMALL = DatasetLimits(min_rows=2, max_rows=20, max_bytes=4096, max_turns=4, max_tokens=40, max_chars=300)


def only_reason(report) -> str:
    assert not report.ok and report.rows == [] and len(report.reasons) == 1, report.reasons
    return report.reasons[0]


# ---------------------------------------------------------------------------------------------------------------
# Limits


def test_default_limits_are_sensible_and_checked() -> None:
    limits = DatasetLimits()
    assert (limits.min_rows, limits.max_rows, limits.max_bytes) == (8, 10_000, 32 * 1024 * 1024)
    assert (limits.max_turns, limits.max_tokens, limits.max_chars) == (32, 2048, 8192)
    with pytest.raises(ValueError, match="min_rows .* above max_rows"):
        DatasetLimits(min_rows=50, max_rows=10)
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        DatasetLimits(max_bytes=0)
    with pytest.raises(ValueError, match="max_tokens must be a positive integer"):
        DatasetLimits(max_tokens=2.5)
    with pytest.raises(ValueError, match="max_turns"):
        DatasetLimits(max_turns=1)
    with pytest.raises(ValueError, match="positive integer"):
        DatasetLimits(min_rows=True)


# ---------------------------------------------------------------------------------------------------------------
# Validation: accepted


def test_good_file_is_accepted_with_stats(tmp_path: Path) -> None:
    data = jsonl(ROWS_A)
    path = tmp_path / "a.jsonl"
    path.write_bytes(data)
    for source in (data, path):
        report = validate_dataset(source, DatasetLimits(), count_tokens=words)
        assert report.ok and report.reasons == []
        assert len(report.rows) == 40 and report.rows[0].line == 1 and report.rows[39].line == 40
        assert [r.conversations for r in report.rows] == [r.conversations for r in ROWS_A]
        assert report.rows[7].system == SYSTEM
        stats = report.stats
        assert (stats.rows, stats.bytes, stats.turns) == (40, len(data), 5 * (7 * 2 + 4))
        assert stats.longest_row_tokens == max(words(r) for r in ROWS_A)
        assert stats.sha256 == hashlib.sha256(data).hexdigest()
        assert report.summary().startswith("accepted: 40 rows")


def test_without_a_token_counter_tokens_are_not_counted() -> None:
    report = validate_dataset(jsonl(ROWS_A))
    assert report.ok and report.stats.longest_row_tokens is None


def test_blank_lines_crlf_and_a_utf8_bom_are_accepted_and_line_numbers_stay_the_editors() -> None:
    data = b"\xef\xbb\xbf" + (good(1) + "\r\n\r\n" + good(2) + "\r\n   \n" + good(3) + "\r\n").encode()
    report = validate_dataset(data, SMALL)
    assert report.ok, report.reasons
    assert [r.line for r in report.rows] == [1, 3, 5]


# ---------------------------------------------------------------------------------------------------------------
# Validation: each rejection and its reason


def test_bad_json_names_the_line() -> None:
    data = "\n".join([good(1), good(2), '{"system": null, "conversations": [', good(4)]).encode()
    reason = only_reason(validate_dataset(data, SMALL))
    assert reason.startswith("Line 3: not valid JSON (")
    assert "column" in reason and "one complete JSON object on a single line" in reason


def test_wrong_role_reuses_the_schema_message() -> None:
    bad = line({"system": None, "conversations": [{"role": "user", "content": "hi"},
                                                  {"role": "bot", "content": "hello"}]})
    reason = only_reason(validate_dataset("\n".join([good(1), good(2), bad]).encode(), SMALL))
    assert reason.startswith("Line 3: turn 1 has role 'bot': roles are 'user' and 'assistant'")
    assert "fix the row" in reason and '"conversations"' in reason


@pytest.mark.parametrize(("turns", "message"), [
    ([("user", "a"), ("user", "b")], "turn 1 is 'user' but should be 'assistant'"),
    ([("assistant", "a"), ("user", "b")], "turn 0 is 'assistant' but should be 'user'"),
    ([("user", "a"), ("assistant", "b"), ("user", "c")], "ends with a user turn"),
    ([("user", "a"), ("assistant", "   ")], "turn 1 content must be a non-empty string"),
])
def test_schema_problems_are_named(turns, message) -> None:
    bad = line({"system": None, "conversations": [{"role": r, "content": c} for r, c in turns]})
    reason = only_reason(validate_dataset("\n".join([good(1), bad, good(2)]).encode(), SMALL))
    assert reason.startswith("Line 2: ") and message in reason


@pytest.mark.parametrize("obj", [[1, 2], "text", {"system": 3, "conversations": []},
                                 {"conversations": [], "extra": 1}, {"system": None}])
def test_rows_that_are_not_chat_objects_are_rejected(obj) -> None:
    reason = only_reason(validate_dataset("\n".join([good(1), good(2), line(obj)]).encode(), SMALL))
    assert reason.startswith("Line 3: ")


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\r\n\t\n", b"\xef\xbb\xbf"])
def test_empty_file(data: bytes) -> None:
    reason = only_reason(validate_dataset(data, SMALL))
    assert reason.startswith("The file is empty (no rows)") and '"conversations"' in reason


def test_oversized_bytes_are_rejected_before_parsing() -> None:
    data = ("\n".join(good(i) for i in range(60)) + "\n").encode()
    assert len(data) > SMALL.max_bytes
    report = validate_dataset(data, SMALL)
    reason = only_reason(report)
    assert reason == (f"The file is {len(data):,} bytes, over the limit of 4,096 bytes: submit a smaller dataset "
                      "(fewer or shorter rows).")
    assert report.stats.bytes == len(data) and report.stats.sha256 is None


def test_oversized_file_is_rejected_from_its_size_without_reading_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: 64 MiB on paper, nothing on disk

    def no_reading(*args, **kwargs):
        raise AssertionError("an oversized file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    report = validate_dataset(path)
    assert "The file is 67,108,864 bytes, over the limit of 33,554,432 bytes" in only_reason(report)
    assert report.stats.bytes == 64 * 1024 * 1024


def test_missing_file_and_directory_are_reasons_not_crashes(tmp_path: Path) -> None:
    assert "There is no file at" in only_reason(validate_dataset(tmp_path / "nope.jsonl"))
    assert "is not a regular file" in only_reason(validate_dataset(tmp_path))


def test_not_utf8_gives_the_line_and_byte_offset() -> None:
    head = (good(1) + "\n" + good(2) + "\n").encode()
    bad = good(3).encode().replace(b"fact number", b"fact n\xffmber")
    data = head + bad + b"\n" + good(4).encode() + b"\n"
    offset = len(head) + bad.index(b"\xff")
    reason = only_reason(validate_dataset(data, SMALL))
    assert reason == f"Line 3 is not UTF-8 text (byte 0xff at byte offset {offset} of the file): save the file as UTF-8."


def test_latin1_and_utf16_files() -> None:
    latin1 = good(1).replace("Fact", "Faç").encode("latin-1")
    report = validate_dataset(latin1 + b"\n" + latin1 + b"\n", SMALL)
    assert len(report.reasons) == 2 and all("is not UTF-8 text (byte 0xe7" in r for r in report.reasons)
    reason = only_reason(validate_dataset((good(1) + "\n" + good(2)).encode("utf-16"), SMALL))
    assert reason.startswith("The file is UTF-16 text")


def test_too_few_and_too_many_rows() -> None:
    limits = DatasetLimits(min_rows=3, max_rows=5)
    reason = only_reason(validate_dataset((good(1) + "\n\n" + good(2)).encode(), limits))
    assert reason == "The file has 2 row(s), fewer than the minimum of 3: add at least 1 more."
    reason = only_reason(validate_dataset("\n".join(good(i) for i in range(8)).encode(), limits))
    assert reason == "The file has 8 rows, more than the maximum of 5: remove at least 3."


def test_too_many_turns() -> None:
    turns = [{"role": ("user", "assistant")[i % 2], "content": f"message {i}"} for i in range(6)]
    bad = line({"system": None, "conversations": turns})
    reason = only_reason(validate_dataset("\n".join([good(1), bad]).encode(), SMALL))
    assert reason == ("Line 2 has 6 messages, over the limit of 4 per row: split the conversation into "
                      "shorter rows.")


def test_message_over_max_chars() -> None:
    bad = line({"system": "s" * 400, "conversations": [{"role": "user", "content": "q"},
                                                       {"role": "assistant", "content": "a" * 350}]})
    reason = only_reason(validate_dataset("\n".join([good(1), bad]).encode(), SMALL))
    assert reason == ("Line 2: the system prompt is 400 characters (and 1 more message(s) of the row), over the "
                      "limit of 300 per message: shorten it or split the row.")


def test_row_over_max_tokens_with_a_counter() -> None:
    long_answer = " ".join(["word"] * 45)
    bad = line({"system": None, "conversations": [{"role": "user", "content": "Say many words."},
                                                  {"role": "assistant", "content": long_answer}]})
    data = "\n".join([good(1), good(2), bad]).encode()
    report = validate_dataset(data, SMALL, count_tokens=words)
    assert only_reason(report) == ("Line 3 is 48 tokens with the chat template, over the limit of 40 per row: "
                                   "shorten it or split the conversation.")
    assert report.stats.longest_row_tokens == 48
    assert validate_dataset(data, SMALL).ok  # not counted without a counter


def test_a_failing_token_counter_rejects_the_row_and_a_wrong_one_is_a_programming_error() -> None:
    def picky(row: ChatRow) -> int:
        if "2" in row.conversations[0][1]:
            raise RuntimeError("cannot tokenize")
        return 3

    reason = only_reason(validate_dataset("\n".join([good(1), good(2)]).encode(), SMALL, count_tokens=picky))
    assert reason.startswith("Line 2 could not be tokenized (RuntimeError: cannot tokenize)")
    with pytest.raises(TypeError, match="must return a token count"):
        validate_dataset(good(1).encode(), SMALL, count_tokens=lambda row: "3")


@pytest.mark.parametrize(("text", "expected"), [
    ("[" * 100_000 + "]" * 100_000, "Line 2 cannot be parsed as JSON (RecursionError"),
    ('{"system": ' + "9" * 5000 + "}", "Line 2 cannot be parsed as JSON (ValueError"),
    (json.dumps({"system": None, "conversations": [{"role": "user", "content": "hi \ud800"},
                                                   {"role": "assistant", "content": "x"}]}),
     "Line 2 contains an unpaired surrogate escape"),
    ("\x00\x01\x02 binary", "Line 2: not valid JSON"),
])
def test_hostile_lines_are_reasons_not_crashes(text: str, expected: str) -> None:
    data = (good(1) + "\n" + text + "\n").encode("utf-8", "surrogatepass")
    reason = only_reason(validate_dataset(data, DatasetLimits(min_rows=2)))
    assert reason.startswith(expected), reason


def test_several_problems_are_listed_together_file_first_then_by_line() -> None:
    turns = [{"role": ("user", "assistant")[i % 2], "content": f"m{i}"} for i in range(6)]
    lines = [good(1), "{oops", good(3),
             line({"system": None, "conversations": [{"role": "system", "content": "x"}]}),
             line({"system": None, "conversations": turns}), good(6)]
    data = "\n".join(lines).encode()[:-1] + b"\xfe\n"  # and line 6 is not UTF-8
    report = validate_dataset(data, DatasetLimits(min_rows=8, max_turns=4))
    assert not report.ok and report.rows == []
    assert [r.split(" ")[:3] for r in report.reasons] == [
        ["The", "file", "has"], ["Line", "2:", "not"], ["Line", "4:", "turn"], ["Line", "5", "has"],
        ["Line", "6", "is"]]
    assert "fewer than the minimum of 8" in report.reasons[0] and "over the limit of 4" in report.reasons[3]
    assert report.stats.rows == 3 and report.summary().startswith("rejected: The file has 6 row(s)")


def test_many_problems_are_capped_with_a_count() -> None:
    data = "\n".join(["{bad"] * 15 + [good(1)]).encode()
    reasons = validate_dataset(data, SMALL).reasons
    assert len(reasons) == 11
    assert [r.split(":")[0] for r in reasons[:10]] == [f"Line {n}" for n in range(1, 11)]
    assert reasons[10].startswith("... and 5 more problem(s) not listed (15 in all)")


def test_a_str_is_ambiguous() -> None:
    with pytest.raises(TypeError, match="a str is ambiguous"):
        validate_dataset(good(1), SMALL)


# ---------------------------------------------------------------------------------------------------------------
# Duplicates across miners


def test_calibration_reworded_rows_are_above_the_row_threshold_other_planets_below() -> None:
    """Row level, exact Jaccard of the shingle sets: the numbers in duplicates.py's docstring."""
    copied = reworded(ROWS_A)
    paraphrase = sorted(shingle_jaccard(a, c) for a, c in zip(ROWS_A, copied))
    other = sorted(max(shingle_jaccard(b, a) for a in ROWS_A) for b in ROWS_B)
    assert paraphrase[0] >= ROW_SIMILARITY + 0.08, paraphrase[:5]
    assert other[-1] <= ROW_SIMILARITY - 0.07, other[-5:]
    assert all(c.conversations != a.conversations for a, c in zip(ROWS_A, copied))


def test_exact_copy_committed_later_is_flagged_and_the_original_is_not() -> None:
    # case, spacing and row order do not hide a copy
    copy = [ChatRow(tuple((role, "  " + text.upper().replace(" ", "   ")) for role, text in r.conversations),
                    r.system) for r in reversed(ROWS_A)]
    findings = find_duplicates([Submission("alice", 100, ROWS_A), Submission("bob", 130, copy)])
    assert findings == [DuplicateFinding("bob", "alice", "exact", 1.0)]
    assert copies(findings) == {"bob"}
    assert findings[0].describe() == ("miner bob repeats 100% of the rows of miner alice, who committed them "
                                      "earlier (verbatim)")


def test_the_earlier_one_is_the_original_even_if_listed_second() -> None:
    findings = find_duplicates([Submission("bob", 130, ROWS_A), Submission("alice", 100, ROWS_A)])
    assert findings == [DuplicateFinding("bob", "alice", "exact", 1.0)]


def test_a_tie_on_block_goes_to_the_smaller_miner_id_whatever_the_order() -> None:
    for subs in ([Submission("5Fzz", 7, ROWS_A), Submission("5Faa", 7, ROWS_A)],
                 [Submission("5Faa", 7, ROWS_A), Submission("5Fzz", 7, ROWS_A)]):
        assert find_duplicates(subs) == [DuplicateFinding("5Fzz", "5Faa", "exact", 1.0)]


def test_lightly_reworded_copy_is_a_near_copy_with_its_overlap() -> None:
    copy = reworded(ROWS_A)
    assert not {row_key(r) for r in copy} & {row_key(r) for r in ROWS_A}  # not one row is an exact copy
    findings = find_duplicates([Submission("alice", 100, ROWS_A), Submission("mallory", 140, copy)])
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.copy, finding.original, finding.kind) == ("mallory", "alice", "near")
    assert finding.overlap >= 0.9, finding
    assert "lightly reworded" in finding.describe()


def test_one_word_per_message_reworded_is_caught_too() -> None:
    findings = find_duplicates([Submission("alice", 1, ROWS_A), Submission("mallory", 2, reworded(ROWS_A, 1))])
    assert [(f.copy, f.kind) for f in findings] == [("mallory", "near")] and findings[0].overlap == 1.0


def test_two_datasets_on_the_same_topic_from_the_same_templates_are_not_copies() -> None:
    subs = [Submission("alice", 100, ROWS_A), Submission("carol", 120, ROWS_B)]
    assert find_duplicates(subs) == []
    # not even close: (almost) no row of carol's is near one of alice's at the default row similarity
    assert find_duplicates(subs, near_threshold=0.1) == []


def test_copying_a_fifth_of_the_rows_is_not_flagged_at_the_defaults() -> None:
    partial = ROWS_B[:32] + ROWS_A[:8]  # 20% of the rows are alice's
    subs = [Submission("alice", 100, ROWS_A), Submission("dave", 150, partial)]
    assert find_duplicates(subs) == []
    assert find_duplicates(subs, exact_threshold=0.2) == [DuplicateFinding("dave", "alice", "exact", 0.2)]


def test_half_copied_is_flagged_at_the_threshold() -> None:
    half = ROWS_B[:20] + ROWS_A[:20]
    findings = find_duplicates([Submission("alice", 1, ROWS_A), Submission("erin", 2, half)])
    assert findings == [DuplicateFinding("erin", "alice", "exact", 0.5)]


def test_one_finding_per_copy_naming_the_first_original_and_exact_beats_near() -> None:
    subs = [
        Submission("alice", 10, ROWS_A),
        Submission("bob", 20, list(ROWS_A)),  # copies alice
        Submission("carol", 30, list(ROWS_A)),  # copies both: alice was first
        Submission("mallory", 40, reworded(ROWS_A)),  # near copies of all three
        Submission("zed", 50, ROWS_B[:30] + reworded(ROWS_A)[:10]),  # 25% near: not flagged
    ]
    findings = find_duplicates(subs)
    assert [(f.copy, f.original, f.kind) for f in findings] == [
        ("bob", "alice", "exact"), ("carol", "alice", "exact"), ("mallory", "alice", "near")]
    assert copies(findings) == {"bob", "carol", "mallory"}


def test_a_miner_is_never_its_own_copy_and_odd_rows_do_not_break_it() -> None:
    odd = [ChatRow((("user", "?!"), ("assistant", "...")))] * 3 + [ChatRow((("user", "Hi"), ("assistant", "Yo")))]
    subs = [Submission("alice", 1, ROWS_A), Submission("alice", 5, ROWS_A), Submission("bob", 6, []),
            Submission("carol", 7, odd), Submission("dan", 8, odd)]
    assert find_duplicates(subs) == [DuplicateFinding("dan", "carol", "exact", 1.0)]
    assert find_duplicates([]) == []


def test_results_are_deterministic_and_thresholds_checked() -> None:
    subs = [Submission("alice", 1, ROWS_A), Submission("mallory", 2, reworded(ROWS_A)),
            Submission("carol", 3, ROWS_B)]
    assert find_duplicates(subs) == find_duplicates(list(reversed(subs)))
    with pytest.raises(ValueError, match="row_similarity"):
        find_duplicates(subs, row_similarity=0)
    with pytest.raises(ValueError, match="near_threshold"):
        find_duplicates(subs, near_threshold=1.5)


def test_lsh_bands_catch_pairs_at_the_row_threshold() -> None:
    bands, rows = lsh_params(ROW_SIMILARITY)
    assert bands * rows <= 128 and 1 - (1 - ROW_SIMILARITY ** rows) ** bands >= 0.9
