"""The miner's side: check a dataset as the validator will, publish it pinned to a revision, commit the reference
(at most 128 bytes) for the miner's hotkey, and link the miner's PoAI node with the node's signature.

    ref = submit_dataset(chain, miner_key, "data.jsonl", store=LocalDatasetStore("datasets"), node_key=node_key)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.errors import InvalidRequestError
from edge_sdk.identity import NodeKey
from validator.chain.base import Chain, Commitment
from validator.datasets.limits import DatasetLimits
from validator.datasets.link import NodeLink
from validator.datasets.refs import DatasetRef
from validator.datasets.validate import DatasetReport, validate_dataset


@dataclass(frozen=True)
class Submitted:
    ref: DatasetRef
    commitment: Commitment
    report: DatasetReport
    link: NodeLink | None


def dataset_name(hotkey: str) -> str:
    """A store-safe name for a miner's dataset, short enough that 'local:NAME@SHA256' fits in 128 bytes."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", hotkey)[:40] or "dataset"


def submit_dataset(chain: Chain, miner_key: Any, data: str | Path, *, store: Any, node_key: NodeKey | None = None,
                   limits: DatasetLimits | None = None, name: str | None = None) -> Submitted:
    """Validate, publish, link (when `node_key` is given) and commit. Nothing is published or committed when
    the file would be rejected: the error lists every reason."""
    path = Path(data).expanduser()
    report = validate_dataset(path, limits or DatasetLimits())
    if not report.ok:
        raise InvalidRequestError(f"{path} would be rejected by validators:\n  " + "\n  ".join(report.reasons))
    hotkey = getattr(miner_key, "node_id", None) or miner_key.hotkey.ss58_address
    link = NodeLink.sign(node_key, hotkey, chain.netuid) if node_key is not None else None
    ref = store.publish(name or dataset_name(hotkey), path.read_bytes(), link)
    commitment = chain.commit(miner_key, str(ref))
    return Submitted(ref, commitment, report, link)
