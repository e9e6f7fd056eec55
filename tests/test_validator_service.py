"""Validator rounds on a tiny model, the embedded chain and a real PoAI store: intake verdicts with reasons, copies
and failed nodes at zero, scores cached (nothing trained twice), weights once per epoch, and a restart that
finds its epoch's weights half-recorded."""

from __future__ import annotations

import json
import random

import pytest

from edge_sdk.errors import InvalidRequestError
from edge_sdk.identity import NodeKey
from poai.challenges.common import CheckResult, Claim
from poai.scoring import score_session
from poai.store import IntegrityStore
from procs import ROOT
from validator.chain.local import LocalChain
from validator.datasets.link import NodeLink
from validator.datasets.store import HuggingFaceDatasetStore, LocalDatasetStore
from validator.datasets.refs import DatasetRef
from validator.miner import submit_dataset
from validator.scoring.runner import InProcessRunner
from validator.service.validator import Validator, ValidatorConfig

DATA = ROOT / "examples" / "data"
CLAIM = Claim(device_kind="cpu", memory_bytes=1 << 30, tflops=0.05)


def _sessions(store: IntegrityStore, node_id: str, outcomes: list[bool]) -> None:
    for n, ok in enumerate(outcomes):
        checks = [CheckResult("compute", ok, "ok" if ok else "tile mismatch",
                              {"matmul_tops": 0.05, "node_seconds": 0.4}, 0.01)]
        store.record_session(node_id, CLAIM, score_session(CLAIM, checks), checks, finished_at=1000.0 + n)


class CountingRunner(InProcessRunner):
    def __init__(self) -> None:
        self.jobs: list[str] = []

    def run(self, jobs):
        self.jobs.extend(job.key for job in jobs)
        yield from super().run(jobs)


def _noisy() -> bytes:
    """A dataset of its own (not a copy of anyone's) whose answers are random."""
    rng = random.Random(0)
    colours = ["red", "green", "blue", "amber", "violet", "teal", "ochre", "silver"]
    rows = [{"system": None, "conversations": [
        {"role": "user", "content": f"Which colour does the lighthouse keeper of island {i} paint the door?"},
        {"role": "assistant", "content": f"The door is {rng.choice(colours)}, or maybe {rng.choice(colours)}."}]}
        for i in range(24)]
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


@pytest.fixture
def network(tmp_path, models_tiny_hf_dir):
    chain = LocalChain(str(tmp_path / "chain.sqlite"), netuid=3, tempo=100, block_time_s=3600)
    store = LocalDatasetStore(tmp_path / "datasets")
    poai = IntegrityStore(str(tmp_path / "poai.sqlite"))
    nodes = {name: NodeKey.generate() for name in ("good", "noisy", "copy")}
    _sessions(poai, nodes["good"].node_id, [True, True, True])
    _sessions(poai, nodes["noisy"].node_id, [True, True, False])  # its latest session was struck
    _sessions(poai, nodes["copy"].node_id, [True, True, True])
    poai.close()
    miners = {name: NodeKey.generate() for name in ("good", "noisy", "copy", "broken", "bad_ref", "silent",
                                                    "borrower")}
    for key in miners.values():
        chain.register(key)
    good = tmp_path / "good.jsonl"
    good.write_bytes((DATA / "private_facts.jsonl").read_bytes())
    noisy = tmp_path / "noisy.jsonl"
    noisy.write_bytes(_noisy())
    submit_dataset(chain, miners["good"], good, store=store, node_key=nodes["good"])
    chain.advance(1)
    submit_dataset(chain, miners["noisy"], noisy, store=store, node_key=nodes["noisy"])
    chain.advance(1)
    submit_dataset(chain, miners["copy"], good, store=store, node_key=nodes["copy"])  # the same file, later
    broken = store.publish("broken", b'{"system": null, "conversations": [\n')  # published around the check
    chain.commit(miners["broken"], str(broken))
    chain.commit(miners["bad_ref"], "see my website")
    other = tmp_path / "other.jsonl"  # a dataset of its own, published with the good miner's node link
    other.write_bytes(("\n".join(json.dumps({"system": None, "conversations": [
        {"role": "user", "content": f"How many bells hang in the tower of Oskvale district {i}?"},
        {"role": "assistant", "content": f"Oskvale district {i} has {i % 5 + 2} bells, cast in {1700 + i * 3}."}]})
        for i in range(20)) + "\n").encode())
    good_link = NodeLink.sign(nodes["good"], miners["good"].node_id, chain.netuid)
    chain.commit(miners["borrower"], str(store.publish("borrower", other.read_bytes(), good_link)))
    validator_key = NodeKey.generate()
    chain.register(validator_key, validator_permit=True)
    config = ValidatorConfig(eval_data=DATA / "private_facts_heldout.jsonl", state_db=str(tmp_path / "v.sqlite"),
                             poai_db=str(tmp_path / "poai.sqlite"), datasets_root=tmp_path / "datasets",
                             model=str(models_tiny_hf_dir), workdir=tmp_path / "work")
    yield chain, miners, validator_key, config
    chain.close()


def test_a_round_gives_verdicts_with_reasons_and_pays_only_the_honest_original(network):
    chain, miners, validator_key, config = network
    runner = CountingRunner()
    validator = Validator(config, chain=chain, key=validator_key, runner=runner)
    report = validator.run_round()
    by = {m["miner"]: m for m in report["miners"]}
    verdict = {name: by[key.node_id]["status"] for name, key in miners.items()}
    assert verdict == {"good": "ok", "noisy": "ok", "copy": "copy", "broken": "rejected", "bad_ref": "rejected",
                       "silent": "no_commitment", "borrower": "ok"}
    borrower = by[miners["borrower"].node_id]  # another operator's node cannot be borrowed
    assert borrower["node_id"] is None and "the link is for miner" in borrower["node_reason"]
    assert borrower["weight"] == 0.0
    assert "copy of " + miners["good"].node_id in by[miners["copy"].node_id]["reasons"][0]
    assert "Line 1: not valid JSON" in " ".join(by[miners["broken"].node_id]["reasons"])
    assert "not a dataset reference" in by[miners["bad_ref"].node_id]["reasons"][0]
    assert by[miners["noisy"].node_id]["detail"]["reason"] == "failed_poai"
    weights = {name: by[key.node_id]["weight"] for name, key in miners.items()}
    assert weights["good"] == pytest.approx(1.0) and sum(weights.values()) == pytest.approx(1.0)
    assert len(runner.jobs) == 3  # good, noisy and borrower trained; the copy and the rejected ones were not
    history = chain.weight_history(validator_key.node_id)
    assert len(history) == 1 and history[0]["uids"] == [chain.register(miners["good"])]

    again = validator.run_round()  # same epoch: nothing retrained, no second weight setting
    assert len(runner.jobs) == 3 and again["set_weights"] is None
    assert len(chain.weight_history(validator_key.node_id)) == 1
    chain.advance(chain.tempo())
    validator.run_round()  # next epoch: weights again, still from the cached scores
    assert len(runner.jobs) == 3 and len(chain.weight_history(validator_key.node_id)) == 2
    validator.close()


def test_a_restart_with_the_epochs_weights_half_recorded_does_not_set_them_twice(network):
    chain, _miners, validator_key, config = network
    validator = Validator(config, chain=chain, key=validator_key)
    validator.run_round()
    epoch = chain.epoch()
    with validator.state.db.transaction() as tx:  # as if killed after the chain took them, before "done"
        tx.execute("UPDATE v_weights SET state = 'pending' WHERE epoch = ?", (epoch,))
    validator.close()
    restarted = Validator(config, chain=chain, key=validator_key, runner=CountingRunner())
    restarted.run_round()
    assert len(chain.weight_history(validator_key.node_id)) == 1
    assert restarted.state.weights_state(epoch) == "done" and restarted.runner.jobs == []
    restarted.close()


def test_miner_submit_refuses_a_dataset_validators_would_reject(tmp_path):
    chain = LocalChain(str(tmp_path / "chain.sqlite"), block_time_s=3600)
    key = NodeKey.generate()
    chain.register(key)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"system": null, "conversations": [{"role": "robot", "content": "hi"}]}\n')
    with pytest.raises(InvalidRequestError, match="would be rejected"):
        submit_dataset(chain, key, bad, store=LocalDatasetStore(tmp_path / "datasets"))
    assert chain.commitments() == {}
    chain.close()


def test_hugging_face_store_reads_the_pinned_revision_from_the_offline_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    commit = "a" * 40
    snapshot = tmp_path / "hf" / "datasets--miner--facts" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "data.jsonl").write_bytes((DATA / "private_facts.jsonl").read_bytes())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    store = HuggingFaceDatasetStore(cache_dir=tmp_path / "hf")
    fetched = store.fetch(DatasetRef("hf", "miner/facts", commit))
    assert fetched.path.read_bytes() == (DATA / "private_facts.jsonl").read_bytes() and fetched.link is None
    from validator.datasets.store import FetchError

    with pytest.raises(FetchError, match="cannot fetch hf:miner/facts@" + "b" * 40):
        store.fetch(DatasetRef("hf", "miner/facts", "b" * 40))  # not cached, offline: a clear error
