"""What a miner commits on chain (at most 128 bytes): where its dataset is, pinned to one revision.

    local:<name>@<sha256 hex>          the local dataset store (content-addressed: the revision is the file's hash)
    hf:<owner>/<repo>@<commit sha>     a Hugging Face dataset repo, pinned by commit

The link to the miner's PoAI node is not in these bytes: it is a record signed by the node's key, stored with the
dataset (validator/datasets/link.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge_sdk.errors import InvalidRequestError

_REF = re.compile(r"^(local|hf):([A-Za-z0-9._/-]{1,96})@([0-9a-f]{7,64})$")


@dataclass(frozen=True)
class DatasetRef:
    store: str  # "local" or "hf"
    repo: str
    revision: str

    def __str__(self) -> str:
        return f"{self.store}:{self.repo}@{self.revision}"

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        match = _REF.match(text.strip())
        if match is None:
            raise InvalidRequestError(f"{text[:140]!r} is not a dataset reference: expected 'local:NAME@SHA256' or "
                                      "'hf:OWNER/REPO@COMMIT'")
        store, repo, revision = match.groups()
        if ".." in repo.split("/"):
            raise InvalidRequestError(f"dataset name {repo!r} may not contain '..'")
        return cls(store, repo, revision)
