"""Dataset intake for one round: every registered miner's commitment -> the dataset at exactly that revision ->
validated (a stated reason for every rejection) -> copies across miners found (the later commitment is the copy)
-> the PoAI node that backs each miner resolved from its signed link.

A miner's failure never stops the round: it becomes that miner's verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_sdk.errors import EdgeProofError
from edge_sdk.training.data import ChatRow
from validator.chain.base import Commitment, Neuron
from validator.datasets.duplicates import Submission, find_duplicates
from validator.datasets.limits import DatasetLimits
from validator.datasets.refs import DatasetRef
from validator.datasets.store import DatasetStores
from validator.datasets.validate import validate_dataset


@dataclass
class MinerIntake:
    miner: str  # hotkey
    uid: int
    block: int  # of the commitment (0 without one)
    ref: str
    status: str  # "ok", "rejected", "copy" or "no_commitment"
    reasons: list[str] = field(default_factory=list)
    rows: list[ChatRow] = field(default_factory=list)
    revision: str = ""
    node_id: str | None = None
    node_reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"miner": self.miner, "uid": self.uid, "block": self.block, "ref": self.ref, "status": self.status,
                "reasons": self.reasons, "rows": len(self.rows), "node_id": self.node_id,
                "node_reason": self.node_reason, "stats": self.stats}


def run_intake(*, netuid: int, neurons: list[Neuron], commitments: dict[str, Commitment], stores: DatasetStores,
               limits: DatasetLimits, count_tokens: Callable[[ChatRow], int] | None, known_nodes: set[str],
               exclude: set[str] = frozenset()) -> list[MinerIntake]:
    """Verdicts for every registered neuron except `exclude` (the validator's own hotkey)."""
    out: list[MinerIntake] = []
    for neuron in neurons:
        if neuron.hotkey in exclude:
            continue
        commitment = commitments.get(neuron.hotkey)
        if commitment is None:
            out.append(MinerIntake(neuron.hotkey, neuron.uid, 0, "", "no_commitment", ["no dataset committed"]))
            continue
        out.append(_one(netuid, neuron, commitment, stores, limits, count_tokens, known_nodes))
    _mark_copies(out)
    _resolve_shared_nodes(out)
    return out


def _one(netuid: int, neuron: Neuron, commitment: Commitment, stores: DatasetStores, limits: DatasetLimits,
         count_tokens: Callable[[ChatRow], int] | None, known_nodes: set[str]) -> MinerIntake:
    intake = MinerIntake(neuron.hotkey, neuron.uid, commitment.block, commitment.data, "rejected")
    try:
        ref = DatasetRef.parse(commitment.data)
        fetched = stores.fetch(ref)
    except EdgeProofError as exc:
        intake.reasons = [str(exc)]
        return intake
    intake.revision = ref.revision
    report = validate_dataset(fetched.path, limits, count_tokens=count_tokens)
    intake.stats = dict(report.stats) if isinstance(report.stats, dict) else vars(report.stats)
    if not report.ok:
        intake.reasons = list(report.reasons)
        return intake
    intake.status, intake.rows = "ok", list(report.rows)
    if fetched.link is not None:
        problem = fetched.link.problem(netuid, neuron.hotkey)
        if problem is None:
            intake.node_id = fetched.link.node_id
        else:
            intake.node_reason = problem
    elif fetched.link_problem:
        intake.node_reason = fetched.link_problem
    if intake.node_id is None and neuron.hotkey in known_nodes:
        intake.node_id = neuron.hotkey  # the miner's hotkey is its node's id: no link needed
    if intake.node_id is None and not intake.node_reason:
        intake.node_reason = "no PoAI node: publish a link signed by your node (edgeproof miner submit --node-key)"
    return intake


def _mark_copies(intakes: list[MinerIntake]) -> None:
    valid = [i for i in intakes if i.status == "ok"]
    findings = find_duplicates([Submission(i.miner, i.block, i.rows) for i in valid])
    by_miner = {i.miner: i for i in valid}
    for f in findings:
        copy = by_miner[f.copy]
        copy.status = "copy"
        copy.reasons.append(f"{f.kind} copy of {f.original}'s earlier dataset ({f.overlap:.0%} of rows)")


def _resolve_shared_nodes(intakes: list[MinerIntake]) -> None:
    """A node backs one miner: the earliest commitment keeps it, later claims lose it."""
    owner: dict[str, MinerIntake] = {}
    for i in sorted((i for i in intakes if i.node_id), key=lambda i: (i.block, i.miner)):
        assert i.node_id is not None
        if i.node_id in owner:
            i.node_reason = f"node {i.node_id} already backs miner {owner[i.node_id].miner}"
            i.node_id = None
        else:
            owner[i.node_id] = i
