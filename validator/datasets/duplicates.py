"""Copies across miners: a dataset committed later that repeats an earlier miner's rows.

Who copied whom: submissions are ordered by (block, miner). The commitment in the later block is the copy.
Two commitments in the same block are ordered by miner id (plain string order: the smaller id counts as
earlier). That tie-break is arbitrary but every validator computes the same one. Only a later dataset is
compared with earlier ones, so an original is never flagged. A miner is never compared with itself.

Two kinds of copy, each measured against one earlier miner at a time:

  exact  Rows are normalised (the system prompt, each role and content; Unicode NFKC, whitespace collapsed,
         case-folded) and hashed. overlap = the fraction of the later dataset's rows that appear in that
         earlier miner's dataset. Flagged when overlap >= exact_threshold.
  near   Light rewording (synonyms, swapped words, punctuation, a different system prompt). Each row gets a
         MinHash (datasketch, NUM_PERM permutations, fixed SEED) of its shingles (below), and every row of the
         earlier datasets goes into an LSH index. A row of the later dataset is near-copied from a miner when
         its estimated Jaccard similarity with one of that miner's rows is >= row_similarity.
         overlap = the fraction of near-copied rows. Flagged when overlap >= near_threshold.

A copy gets at most one finding: exact beats near, then the higher overlap, then the earlier original.
A copy of a copy names the first original.

Shingles of a row (near): the words of its messages in order (NFKC, case-folded, punctuation dropped; the
system prompt and the roles left out, because a boilerplate system prompt shared by two miners is not a
copy). They are taken as word 3-grams, plus the row's *fact tokens* (words with a digit, and capitalised
words that do not start a sentence: names, places, numbers), each added FACT_WEIGHT times. Why the facts:
a reworded copy keeps the facts and changes the wording, while two datasets on the same topic written from
similar templates share the wording and differ in the facts. Word 3-grams alone cannot separate these once
two words per message are changed. Calibration on the 40-row test datasets (8 question templates x 5 made-up
planets; "reworded" changes 2 words in every message; "other" is another miner's 40 rows from the same
templates about other planets), Jaccard of the shingle sets, each row against its best match:

    shingles              reworded: min / median     other: max / median
    word 3-grams only     0.33 / 0.50                0.43 / 0.26    (overlapping: unusable)
    + facts x1            0.41 / 0.56                0.37 / 0.21
    + facts x2            0.46 / 0.60                0.32 / 0.18
    + facts x3 (used)     0.51 / 0.64                0.32 / 0.17    -> ROW_SIMILARITY = 0.4

With the MinHash estimates (128 permutations) and facts x3: reworded min 0.41 (every row >= 0.4; 1 word per
message: min 0.60; 3 words: 90% of rows >= 0.4), other max 0.34 (no row >= 0.4).

Cost: O(total rows) for the MinHashes (each linear in the row's length), one LSH insert and one LSH query
per row, then each candidate the index returns is checked on its signature (vectorised per dataset). All
pairs of rows are never compared. Memory: one signature (NUM_PERM integers) and one key per LSH band
(`lsh_params`: 42 bands at the default row_similarity) per row.
Rows with heavily shared wording (templates) return more candidates, which costs time but not correctness.
Exact matching is one hash per row and a dict lookup.

Limits: the shingles assume text split into words by spaces (scripts without spaces make whole runs one
"word"). Facts come from capitalisation, which not every script has. Results depend on the datasketch
version's hashing scheme (2.x differs from 1.x), so validators should run the same version.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge_sdk.training.data import ChatRow

NUM_PERM = 128
SEED = 20_240_601
SHINGLE_WORDS = 3
FACT_WEIGHT = 3
ROW_SIMILARITY = 0.4  # calibrated, see the module docstring
EXACT_THRESHOLD = 0.5
NEAR_THRESHOLD = 0.5
LSH_RECALL = 0.9  # chance that a row pair at exactly row_similarity becomes a candidate (higher above it)

Kind = Literal["exact", "near"]

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class Submission:
    miner: str  # hotkey
    block: int  # the block the dataset's commitment landed in
    rows: list[ChatRow] = field(default_factory=list)


@dataclass(frozen=True)
class DuplicateFinding:
    copy: str  # the miner that committed later
    original: str  # the earlier miner
    kind: Kind
    overlap: float  # fraction of the copy's rows found (exactly or nearly) in the original's

    def describe(self) -> str:
        how = "verbatim" if self.kind == "exact" else "lightly reworded"
        return (f"miner {self.copy} repeats {self.overlap:.0%} of the rows of miner {self.original}, who "
                f"committed them earlier ({how})")


def copies(findings: Iterable[DuplicateFinding]) -> set[str]:
    """The miners flagged as copies."""
    return {f.copy for f in findings}


def _normalise(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def row_key(row: ChatRow) -> bytes:
    """The row's hash for exact matching (system, roles and contents, normalised)."""
    canon = [_normalise(row.system or ""), [[role, _normalise(content)] for role, content in row.conversations]]
    return hashlib.sha256(json.dumps(canon, ensure_ascii=False).encode("utf-8", "surrogatepass")).digest()


def row_shingles(row: ChatRow) -> set[str]:
    """The set a row's MinHash is taken over: word 3-grams of its messages, plus its fact tokens."""
    words: list[str] = []
    facts: set[str] = set()
    for _, content in row.conversations:
        for sentence in _SENTENCE.split(unicodedata.normalize("NFKC", content)):
            for i, match in enumerate(_WORD.finditer(sentence)):
                word = match.group()
                folded = word.casefold()
                words.append(folded)
                if any(ch.isdigit() for ch in word) or (
                        i > 0 and len(word) > 1 and word[0].isupper() and not word.startswith(("I'", "I’"))):
                    facts.add(folded)
    n = SHINGLE_WORDS
    out = {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}
    if words and not out:  # fewer words than one shingle
        out.add(" ".join(words))
    for k in range(FACT_WEIGHT):  # ':' cannot occur in a word, so these never collide with word shingles
        out.update(f"fact:{k}:{fact}" for fact in facts)
    return out


def shingle_jaccard(a: ChatRow, b: ChatRow) -> float:
    """The exact Jaccard similarity of two rows' shingle sets (what the MinHashes estimate)."""
    sa, sb = row_shingles(a), row_shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 0.0


def lsh_params(row_similarity: float, num_perm: int = NUM_PERM, recall: float = LSH_RECALL) -> tuple[int, int]:
    """(bands, rows per band): the longest bands (fewest false candidates) whose chance of making a pair at
    `row_similarity` a candidate is at least `recall`."""
    for r in range(num_perm // 2, 0, -1):
        b = num_perm // r
        if b >= 2 and 1 - (1 - row_similarity ** r) ** b >= recall:
            return b, r
    return num_perm // 2, 2


def _check_fraction(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def _datasketch():
    try:
        import datasketch
    except ImportError:  # an optional dependency
        raise ImportError("duplicate detection needs datasketch: pip install 'edgeproof[validator]' "
                          "(or 'datasketch>=1.6')") from None
    return datasketch


def _minhashes(rows: Sequence[ChatRow]) -> list:
    """MinHashes of the rows that have shingles (a row of punctuation only has none and is left out)."""
    shingles = [s for s in (row_shingles(r) for r in rows) if s]
    batches = ([s.encode("utf-8", "surrogatepass") for s in sorted(one)] for one in shingles)
    return list(_datasketch().MinHash.generator(batches, num_perm=NUM_PERM, seed=SEED))


def _best(counts: Counter, n: int, threshold: float, rank: dict[str, int]) -> tuple[str, float] | None:
    """The earlier miner with the most rows matched, if its overlap reaches the threshold."""
    if not counts:
        return None
    miner = min(counts, key=lambda m: (-counts[m], rank[m]))
    overlap = counts[miner] / n
    return (miner, overlap) if overlap >= threshold else None


def find_duplicates(submissions: Sequence[Submission], *, exact_threshold: float = EXACT_THRESHOLD,
                    near_threshold: float = NEAR_THRESHOLD,
                    row_similarity: float = ROW_SIMILARITY) -> list[DuplicateFinding]:
    """Findings for the submissions that copy an earlier one, in commit order (see the module docstring)."""
    _check_fraction("exact_threshold", exact_threshold)
    _check_fraction("near_threshold", near_threshold)
    _check_fraction("row_similarity", row_similarity)
    order = sorted(submissions, key=lambda s: (s.block, s.miner))
    rank: dict[str, int] = {}  # miner -> position of its first commitment
    holders: dict[bytes, list[str]] = {}  # row key -> miners whose datasets have that row, earliest first
    lsh = _datasketch().MinHashLSH(num_perm=NUM_PERM, params=lsh_params(row_similarity))
    signatures: list[tuple[str, np.ndarray]] = []  # per indexed dataset: miner, one signature per row
    findings: list[DuplicateFinding] = []

    for sub in order:
        keys = [row_key(r) for r in sub.rows]
        minhashes = _minhashes(sub.rows)
        if sub.rows:
            exact: Counter = Counter()
            for key in keys:
                exact.update(m for m in holders.get(key, ()) if m != sub.miner)
            near: Counter = Counter()
            for mh in minhashes:
                candidates: dict[int, list[int]] = defaultdict(list)
                for j, row in lsh.query(mh):
                    if signatures[j][0] != sub.miner:
                        candidates[j].append(row)
                hit: set[str] = set()
                for j in sorted(candidates):
                    miner, matrix = signatures[j]
                    if miner in hit:
                        continue
                    same = np.count_nonzero(matrix[candidates[j]] == mh.hashvalues, axis=1).max()
                    if same / NUM_PERM >= row_similarity:
                        hit.add(miner)
                near.update(hit)
            best = _best(exact, len(sub.rows), exact_threshold, rank)
            kind: Kind = "exact"
            if best is None:
                best, kind = _best(near, len(sub.rows), near_threshold, rank), "near"
            if best is not None:
                findings.append(DuplicateFinding(sub.miner, best[0], kind, best[1]))

        rank.setdefault(sub.miner, len(rank))
        for key in keys:
            miners = holders.setdefault(key, [])
            if sub.miner not in miners:
                miners.append(sub.miner)
        if minhashes:
            signatures.append((sub.miner, np.stack([mh.hashvalues for mh in minhashes])))
            with lsh.insertion_session() as session:
                for position, mh in enumerate(minhashes):  # key: (dataset, row of its signature matrix)
                    session.insert((len(signatures) - 1, position), mh, check_duplication=False)
    return findings
