"""Dataset intake: is a miner's dataset usable (validate.py, with a reason for every rejection) and is it a
copy of another miner's (duplicates.py: exact and near copies, the later commitment being the copy).

    report = validate_dataset(Path("miner.jsonl"), DatasetLimits(), count_tokens)
    if report.ok: submissions.append(Submission(hotkey, block, report.rows))
    flagged = copies(find_duplicates(submissions))

duplicates.py needs the optional `datasketch` package (pip install 'edgeproof[validator]') when it runs.
"""

from validator.datasets.duplicates import (
    DuplicateFinding,
    Submission,
    copies,
    find_duplicates,
    row_key,
    row_shingles,
    shingle_jaccard,
)
from validator.datasets.limits import DatasetLimits
from validator.datasets.validate import DatasetReport, DatasetStats, validate_dataset

__all__ = [
    "DatasetLimits",
    "DatasetReport",
    "DatasetStats",
    "DuplicateFinding",
    "Submission",
    "copies",
    "find_duplicates",
    "row_key",
    "row_shingles",
    "shingle_jaccard",
    "validate_dataset",
]
